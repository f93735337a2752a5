"""Name -> class registries, one per kind, with PaddleVideo's names; `build` turns a config dict into an object."""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

from .errors import ConfigError, RegistryError


class Registry:
    """Maps names to classes or functions; entries register themselves by decorator at their definition."""

    def __init__(self, kind: str, autoload: Iterable[str] = ()):
        self.kind = kind
        self._entries: Dict[str, Callable] = {}
        self._autoload = tuple(autoload)
        self._loaded = not self._autoload

    def _load(self) -> None:
        """Import the modules whose decorators fill this registry (once, on first use)."""
        if not self._loaded:
            self._loaded = True
            for module in self._autoload:
                importlib.import_module(module)

    def register(self, obj: Optional[Callable] = None, *, name: Optional[str] = None,
                 replace: bool = False):
        """Register `obj` under `name` (default: its own name); usable as `@REG.register()` or `@REG.register`."""
        def add(target: Callable) -> Callable:
            key = name or target.__name__
            if key in self._entries and self._entries[key] is not target and not replace:
                raise RegistryError(f"{self.kind}: '{key}' is already registered "
                                    f"({self._entries[key].__module__}); pass replace=True to override")
            self._entries[key] = target
            return target
        return add(obj) if obj is not None else add

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries

    def names(self) -> List[str]:
        """Sorted registered names."""
        self._load()
        return sorted(self._entries)

    def items(self):
        self._load()
        return sorted(self._entries.items())

    def get(self, name: str) -> Callable:
        """The entry registered as `name`; an unknown name lists what is registered."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} '{name}'; registered: {', '.join(self.names())}") from None

    def build(self, cfg: Mapping[str, Any], *, key: str = "name", where: str = "", **extra: Any) -> Any:
        """Build the entry `cfg[key]` with the other keys of `cfg` (plus `extra`) as keyword arguments."""
        if not isinstance(cfg, Mapping) or key not in cfg:
            raise config_error(cfg, f"{self.kind} config needs a '{key}'", where, key,
                                f"one of: {', '.join(self.names())}")
        name = cfg[key]
        if name not in self:
            raise config_error(cfg, f"unknown {self.kind} '{name}'", where, key,
                                f"one of: {', '.join(self.names())}")
        target = self.get(name)
        kwargs = {k: v for k, v in cfg.items() if k != key}
        kwargs.update(extra)
        check_kwargs(target, kwargs, what=f"{self.kind} '{name}'", cfg=cfg, where=where)
        return target(**kwargs)


def accepted_arguments(target: Callable) -> Optional[List[str]]:
    """Keyword names `target` accepts, or None when it takes **kwargs."""
    sig = inspect.signature(target)
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]


def check_kwargs(target: Callable, kwargs: Mapping[str, Any], *, what: str,
                 cfg: Any = None, where: str = "") -> None:
    """Raise a ConfigError naming the key when `kwargs` holds an argument `target` does not take."""
    accepted = accepted_arguments(target)
    if accepted is None:
        return
    for arg in kwargs:
        if arg not in accepted:
            raise config_error(cfg, f"{what} takes no argument '{arg}'", where, arg,
                                f"one of: {', '.join(accepted)}")


def config_error(cfg: Any, message: str, where: str, key: str, expected: Optional[str] = None) -> ConfigError:
    """A ConfigError whose file and dotted key come from the config node when it knows them."""
    file = None
    dotted = f"{where}.{key}" if where else key
    if callable(getattr(type(cfg), "source_of", None)):  # asked of the class: PaddleVideo's AttrDict raises KeyError
        file = cfg.source_of(key)
        dotted = cfg.path_of(key)
    return ConfigError(message, file=file, key=dotted, expected=expected)


_MODELING = ("paddlevideo_slowfast.modeling",)
_DATA = ("paddlevideo_slowfast.data",)

BACKBONES = Registry("backbones", _MODELING)
HEADS = Registry("heads", _MODELING)
RECOGNIZERS = Registry("recognizers", _MODELING)
LOSSES = Registry("losses", _MODELING)
DETECTORS = Registry("detectors", _MODELING)
ROI_EXTRACTORS = Registry("roi extractors", _MODELING)
BBOX_ASSIGNERS = Registry("bbox assigners", _MODELING)
BBOX_SAMPLERS = Registry("bbox samplers", _MODELING)
PIPELINES = Registry("pipelines", _DATA)
DECODERS = Registry("decoders", _DATA)
DATASETS = Registry("datasets", _DATA)
METRICS = Registry("metrics", ("paddlevideo_slowfast.metrics",))
LRSCHEDULERS = Registry("lr schedulers", ("paddlevideo_slowfast.solver",))
