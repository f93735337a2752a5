"""`register()`: every backbone, head, recognizer, detector (and its RoI extractor, box assigner and sampler),
pipeline stage, dataset and metric of ours into the real PaddleVideo's registries, under `<our name><suffix>`
(default `ResNetSlowFast_PVSF` ...).

PaddleVideo's registries refuse a second entry under a name, and ours are PaddleVideo's own names, hence the
suffix. `replace=True` is the deliberate way to put ours in place of PaddleVideo's entries instead (typically
with `suffix=""`): each replaced entry is logged as a warning, and `Registration.restore()` puts them back.
Without it a clash is an error that lists the clashing names; nothing is registered then.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

from ..errors import RegistryError
from ..registry import (BACKBONES, BBOX_ASSIGNERS, BBOX_SAMPLERS, DATASETS, DETECTORS, HEADS, METRICS, PIPELINES,
                        RECOGNIZERS, ROI_EXTRACTORS, Registry)
from . import names
from .adapters import ADAPTERS
from .importer import import_paddlevideo, registries

log = logging.getLogger("paddlevideo_slowfast.plugin")

DEFAULT_SUFFIX = "_PVSF"  # PaddleVideo-SlowFast: ResNetSlowFast_PVSF, DecodeSampler_PVSF, SFVideoDataset_PVSF ...

# PaddleVideo registry -> our registry whose every entry goes there (through its adapter when it has one)
OURS: Dict[str, Registry] = {"BACKBONES": BACKBONES, "HEADS": HEADS, "RECOGNIZERS": RECOGNIZERS,
                             "DETECTORS": DETECTORS, "ROI_EXTRACTORS": ROI_EXTRACTORS,
                             "BBOX_ASSIGNERS": BBOX_ASSIGNERS, "BBOX_SAMPLERS": BBOX_SAMPLERS,
                             "PIPELINES": PIPELINES, "DATASETS": DATASETS, "METRIC": METRICS}


def _entries(registry: Any) -> Dict[str, Any]:
    """A PaddleVideo registry's name -> object map: it has no public way to replace or remove an entry."""
    return registry._obj_map


def _describe(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


@dataclass
class Registration:
    """What one `register()` call did, and how to undo it."""

    suffix: str
    names: Dict[str, Dict[str, str]]                 # PaddleVideo registry -> {our name: registered name}
    registries: Dict[str, Any] = field(repr=False)   # PaddleVideo registry name -> the registry object
    added: List[Tuple[str, str]] = field(default_factory=list)          # (registry, name) new entries
    replaced: List[Tuple[str, str, Any]] = field(default_factory=list)  # (registry, name, PaddleVideo's entry)

    def registered_name(self, kind: str, ours: str) -> str:
        """The name under which our `ours` sits in PaddleVideo's `kind` registry."""
        try:
            return self.names[kind][ours]
        except KeyError:
            raise RegistryError(f"'{ours}' was not registered into PaddleVideo's {kind}; registered: "
                                f"{', '.join(sorted(self.names.get(kind, {})))}") from None

    def restore(self) -> None:
        """Undo this registration: remove what it added and put PaddleVideo's replaced entries back."""
        for kind, name in self.added:
            _entries(self.registries[kind]).pop(name, None)
            names.forget(kind, name)
        for kind, name, original in self.replaced:
            _entries(self.registries[kind])[name] = original
            names.forget(kind, name)
            log.info("restored PaddleVideo's %s '%s' (%s)", kind, name, _describe(original))
        self.added, self.replaced = [], []


def register(paddlevideo_module: Optional[ModuleType] = None, *, suffix: str = DEFAULT_SUFFIX,
             replace: bool = False) -> Registration:
    """Register our components into PaddleVideo's registries as `<name><suffix>`; see the module docstring.

    paddlevideo_module: the imported `paddlevideo` package (default: import it, see `import_paddlevideo`).
    Calling again with the same suffix changes nothing (the same objects are already there).
    """
    pv = paddlevideo_module or import_paddlevideo()
    targets = registries(pv)
    plan = [(kind, ours, ours + suffix, ADAPTERS.get(kind, {}).get(ours, obj))
            for kind, registry in OURS.items() for ours, obj in registry.items()]
    clashes = [(kind, name, _entries(targets[kind])[name]) for kind, _, name, obj in plan
               if _entries(targets[kind]).get(name) not in (None, obj)]
    if clashes and not replace:
        listing = ", ".join(f"{kind} '{name}' ({_describe(old)})" for kind, name, old in clashes)
        raise RegistryError(f"PaddleVideo already has {listing}; register under a suffix (default "
                            f"'{DEFAULT_SUFFIX}') or pass replace=True (pv: --replace) to put ours in their place")
    result = Registration(suffix, {}, targets)
    for kind, ours, name, obj in plan:
        entries = _entries(targets[kind])
        existing = entries.get(name)
        if existing is None:
            targets[kind].register(obj, name=name)
            result.added.append((kind, name))
        elif existing is not obj:
            entries[name] = obj
            result.replaced.append((kind, name, existing))
            log.warning("replaced PaddleVideo's %s '%s' (%s) by paddlevideo_slowfast's %s", kind, name,
                        _describe(existing), _describe(obj))
        names.remember(kind, name, ours)
        result.names.setdefault(kind, {})[ours] = name
    if result.added or result.replaced:
        log.info("registered %d components into PaddleVideo (%s)", len(plan),
                 ", ".join(f"{kind}: {' '.join(sorted(table.values()))}" for kind, table in result.names.items()))
    return result
