"""Build a pipeline from a `PIPELINE.<mode>` config: the decode stage, then the transform list keyed by class name.

PaddleVideo's layout: every mapping-valued key (`decode_sampler: {name: DecodeSampler, ...}`) is one stage built
by name; the list-valued key (`transform:`) holds entries `{ClassName: {arguments} or null}`. Stages run in that
order on one `results` dict. `Compose` then replaces known stage runs by their fused fast paths (fused.py).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..registry import PIPELINES
from .fused import fuse_stages
from .pack import PackOutput
from .sampling import DecodeSampler
from .transforms import MultiCrop


def build_stage(entry: Any, where: str) -> Callable:
    """One stage from a `{name: ..., args}` mapping or a `{ClassName: args-or-null}` list entry."""
    if isinstance(entry, Mapping) and "name" in entry:
        return PIPELINES.build(entry, where=where)
    if isinstance(entry, Mapping) and len(entry) == 1:
        (name, args), = entry.items()
        if args is not None and not isinstance(args, Mapping):
            raise ConfigError(f"arguments of stage '{name}' must be a mapping", key=f"{where}.{name}",
                              file=_source(entry, name), expected="a mapping of keyword arguments, or nothing")
        cfg = dict(args or {})
        cfg["name"] = name
        try:
            return PIPELINES.build(cfg, where=f"{where}.{name}")
        except ConfigError as exc:
            file = _source(entry, name)
            if exc.file is None and file:
                raise ConfigError(str(exc).split("; ")[0], key=exc.key, file=file, expected=exc.expected) from None
            raise
    raise ConfigError("a pipeline stage must be {name: ..., args} or {ClassName: {args}}", key=where,
                      file=_source(entry, None), expected="e.g. - MultiCrop: {target_size: 224}")


def _source(node: Any, key: Optional[str]) -> Optional[str]:
    origin = getattr(type(node), "source_of", None)  # the class: PaddleVideo's AttrDict raises KeyError on getattr
    return origin(node, key) if callable(origin) else None


def clip_shapes(stages: Sequence[Callable]) -> Optional[Tuple[Tuple[int, ...], Tuple[int, ...]]]:
    """(slow, fast) (C, T, H, W) shapes of one packed clip from the sampler, the last crop and PackOutput."""
    sampler = next((s for s in stages if isinstance(s, DecodeSampler)), None)
    crops = [s for s in stages if isinstance(s, MultiCrop)]
    packs = [s for s in stages if isinstance(s, PackOutput)]
    if sampler is None or not crops or not packs:
        return None
    steps, size, alpha = sampler.num_frames, crops[-1].target_size, packs[-1].alpha
    return (3, steps // alpha, size, size), (3, steps, size, size)


class Compose:
    """Runs the decode stage and the transforms in order; `transform` runs the transforms alone."""

    def __init__(self, stages: Sequence[Callable], fuse: bool = True):
        self.stages = list(stages)
        self.sampler: Optional[DecodeSampler] = next((s for s in self.stages if isinstance(s, DecodeSampler)), None)
        after = self.stages.index(self.sampler) + 1 if self.sampler is not None else 0
        self.before = self.stages[:after]
        self.transforms = self.stages[after:]
        self.fused = fuse_stages(self.transforms) if fuse else list(self.transforms)

    def __call__(self, results: Dict[str, Any]) -> Dict[str, Any]:
        for stage in self.before:
            results = stage(results)
        return self.transform(results)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """The transforms after decoding, on `results['imgs']`."""
        for stage in self.fused:
            results = stage(results)
        return results

    def split_spatial(self) -> Tuple[List[Callable], List[Callable]]:
        """(transforms that ignore the spatial view, the rest from the first that uses it): multi-view test runs
        the first part once per temporal window. A stage that does not say (`spatial`) counts as using it."""
        for i, stage in enumerate(self.fused):
            if getattr(stage, "spatial", True):
                return self.fused[:i], self.fused[i:]
        return list(self.fused), []

    def clip_shapes(self) -> Optional[Tuple[Tuple[int, ...], Tuple[int, ...]]]:
        """(slow, fast) shapes of one packed clip, (C, T, H, W), when the stages tell them; else None."""
        return clip_shapes(self.stages)

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(type(s).__name__ for s in self.fused) + ")"


def build_pipeline(cfg: Mapping[str, Any], *, fuse: bool = True, where: str = "PIPELINE") -> Compose:
    """A Compose from one `PIPELINE.<mode>` node (decode stage + `transform` list), or from a list of entries."""
    if cfg is None:
        raise ConfigError("no pipeline configured", key=where, expected="PIPELINE.<mode> with decode_sampler and "
                          "transform")
    items = cfg.items() if isinstance(cfg, Mapping) else [("transform", cfg)]
    stages: List[Callable] = []
    for key, value in items:
        path = f"{where}.{key}"
        if isinstance(value, Mapping):
            stages.append(build_stage(value, path))
        elif isinstance(value, list):
            stages.extend(build_stage(entry, path) for entry in value)
        elif value is not None:
            raise ConfigError(f"unexpected pipeline key '{key}'", key=path, file=_source(cfg, key),
                              expected="a stage mapping or a transform list")
    return Compose(stages, fuse=fuse)
