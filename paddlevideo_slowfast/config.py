"""YAML configs in PaddleVideo's layout, with `_BASE_` inheritance and typed `-o key.path=value` overrides.

Every node remembers which file each of its keys came from, so errors can name the file and the key. A loaded
config is checked before any use: types and ranges (config_schema.py), restated facts (config_agreement.py).
"""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from .errors import ConfigError

BASE_KEY = "_BASE_"
DELETE_KEY = "_delete_"
CREATE_PREFIX = "+"

_PACKAGE_DIR = Path(__file__).resolve().parent


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-4` as a float (YAML 1.1 wants `1.0e-4`; PaddleVideo configs write both)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def yaml_load(text: str) -> Any:
    """Parse YAML safely (no object tags), floats like `1e-4` included."""
    return yaml.load(text, Loader=_Loader)


class AttrDict(dict):
    """A dict with attribute access whose nodes know their dotted path and the file of each key."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_prefix", "")
        object.__setattr__(self, "_sources", {})

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key in ("_prefix", "_sources"):
            raise AttributeError(key)  # copy/pickle probe these before __init__ has run
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"config has no key '{self.path_of(key)}'") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __reduce__(self):
        return (_rebuild, (dict(self), self._prefix, self._sources, getattr(self, "_file", None)))

    def __copy__(self) -> "AttrDict":
        """A shallow copy with its own provenance table: an override of the copy leaves the original's sources."""
        return _with_meta(AttrDict(self), self, dict(self._sources))

    def __deepcopy__(self, memo: dict) -> "AttrDict":
        """A deep copy whose nodes share one new provenance table (deepcopy's memo copies the table once)."""
        sources = copy.deepcopy(self._sources, memo)
        new = _with_meta(AttrDict(), self, sources)
        memo[id(self)] = new
        for k, v in self.items():
            new[k] = copy.deepcopy(v, memo)
        return new

    def path_of(self, key: str) -> str:
        """Dotted path of `key` in the whole config."""
        return f"{self._prefix}.{key}" if self._prefix else str(key)

    def source_of(self, key: Optional[str] = None) -> Optional[str]:
        """The file that set `key` of this node (or this node itself when key is None)."""
        path = self.path_of(key) if key is not None else self._prefix
        while path:
            if path in self._sources:
                return self._sources[path]
            path = path.rpartition(".")[0]
        return self._sources.get("", None)

    def to_dict(self) -> Dict[str, Any]:
        """A plain-dict deep copy (for YAML dumps and pickling)."""
        return _plain(self)


def _with_meta(new: AttrDict, old: AttrDict, sources: Dict[str, str]) -> AttrDict:
    """`new` with the path and top file of `old` and the provenance table `sources`."""
    object.__setattr__(new, "_prefix", old._prefix)
    object.__setattr__(new, "_sources", sources)
    file = old.__dict__.get("_file")
    if file is not None:
        object.__setattr__(new, "_file", file)
    return new


def _rebuild(items: dict, prefix: str, sources: Dict[str, str], file: Optional[str]) -> AttrDict:
    """Unpickle an AttrDict with its provenance."""
    node = AttrDict(items)
    object.__setattr__(node, "_prefix", prefix)
    object.__setattr__(node, "_sources", sources)
    if file is not None:
        object.__setattr__(node, "_file", file)
    return node


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _attach(value: Any, prefix: str, sources: Dict[str, str]) -> Any:
    """Turn nested dicts into AttrDicts that share the provenance map."""
    if isinstance(value, dict):
        node = AttrDict()
        object.__setattr__(node, "_prefix", prefix)
        object.__setattr__(node, "_sources", sources)
        for k, v in value.items():
            node[k] = _attach(v, f"{prefix}.{k}" if prefix else str(k), sources)
        return node
    if isinstance(value, list):
        return [_attach(v, f"{prefix}.{i}", sources) for i, v in enumerate(value)]
    return value


def as_config(data: Mapping[str, Any], prefix: str = "") -> AttrDict:
    """Any dict (a plain one, PaddleVideo's AttrDict) copied into our AttrDict as the node at dotted `prefix`."""
    return _attach(_plain(data), prefix, {})


def config_search_dirs() -> List[Path]:
    """Where bare config names are looked up: a source checkout's configs/, then the installed copy."""
    return [_PACKAGE_DIR.parent / "configs", _PACKAGE_DIR / "configs"]


def resolve_config_path(name: str) -> Path:
    """A local path when it exists, else the packaged config of that name (`slowfast.yaml`)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path.resolve()
    if not path.is_absolute():
        for folder in config_search_dirs():
            candidate = folder / name
            if candidate.is_file():
                return candidate.resolve()
    raise ConfigError("config file not found", file=str(name),
                      expected="an existing YAML path or a config name shipped in configs/ "
                      f"(looked in: {', '.join(str(d) for d in config_search_dirs())})")


def _read_yaml(path: Path) -> Dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=str(path)) from None
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping at its top level", file=str(path),
                          expected=f"mapping, got {type(data).__name__}")
    return data


def _merge(base: Dict[str, Any], child: Dict[str, Any], base_src: Dict[str, str],
           child_src: Dict[str, str], prefix: str = "") -> None:
    """Merge `child` into `base` in place: dicts deeply, everything else replaced; `_delete_` replaces.

    The `_delete_` marker is kept on the merged dict so that a fragment saying it still replaces when that
    fragment is itself merged onto a later base; `_strip_markers` removes it once loading is done.
    A mapping merged onto a stage list (`transform: {MultiCrop: {target_size: 64}}`) edits the stages it names.
    """
    for key, value in child.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        replace = isinstance(value, dict) and value.get(DELETE_KEY) is True
        if isinstance(value, dict) and isinstance(base.get(key), dict) and not replace:
            _merge(base[key], value, base_src, child_src, path)
            continue
        if isinstance(value, dict) and _is_stage_list(base.get(key)) and not replace:
            _merge_stages(base[key], value, base_src, child_src, path)
            continue
        for old in [p for p in base_src if p == path or p.startswith(path + ".")]:
            del base_src[old]
        base[key] = copy.deepcopy(value)
        for p, f in child_src.items():
            if p == path or p.startswith(path + "."):
                base_src[p] = f


def _is_stage_list(value: Any) -> bool:
    """A pipeline transform list: every entry a one-key mapping `{StageName: arguments}`."""
    return isinstance(value, list) and bool(value) and all(isinstance(e, dict) and len(e) == 1 for e in value)


def _merge_stages(stages: List[Dict[str, Any]], child: Dict[str, Any], base_src: Dict[str, str],
                  child_src: Dict[str, str], path: str) -> None:
    """Merge `{StageName: arguments}` into the one stage of that name in `stages`, in place; the rest stay."""
    for name, args in child.items():
        where = f"{path}.{name}"
        file = child_src.get(where)
        matches = [i for i, entry in enumerate(stages) if name in entry]
        if len(matches) != 1:
            listed = ", ".join(next(iter(e)) for e in stages)
            problem = "no stage named" if not matches else f"{len(matches)} stages named"
            raise ConfigError(f"{problem} '{name}' in the base list [{listed}]", file=file, key=where,
                              expected="the name of exactly one stage of the base list, or the whole list")
        if args is not None and not isinstance(args, dict):
            raise ConfigError(f"arguments of stage '{name}' must be a mapping, got {type(args).__name__}",
                              file=file, key=where, expected=f"{name}: {{argument: value}}")
        indexed = f"{path}.{matches[0]}"
        moved = {indexed + p[len(path):]: f for p, f in child_src.items() if p == where or p.startswith(where + ".")}
        if args:
            _merge(stages[matches[0]], {name: args}, base_src, moved, indexed)


def _strip_markers(data: Any, sources: Dict[str, str], prefix: str = "") -> None:
    """Remove every `_delete_` marker (and its provenance) once all bases are merged, in stage lists too."""
    if isinstance(data, dict):
        if DELETE_KEY in data:
            del data[DELETE_KEY]
            sources.pop(f"{prefix}.{DELETE_KEY}" if prefix else DELETE_KEY, None)
        for k, v in data.items():
            _strip_markers(v, sources, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _strip_markers(v, sources, f"{prefix}.{i}")


def _sources_of(data: Any, file: str, prefix: str = "") -> Dict[str, str]:
    """Every dotted path in `data` mapped to `file`."""
    out: Dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            out[path] = file
            out.update(_sources_of(v, file, path))
    return out


def _load_tree(path: Path, chain: Tuple[Path, ...]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Load one file and its bases, recursively; returns the merged data and its provenance."""
    if path in chain:
        cycle = " -> ".join(str(p) for p in chain + (path,))
        raise ConfigError(f"_BASE_ cycle: {cycle}", file=str(chain[-1]), key=BASE_KEY)
    data = _read_yaml(path)
    bases = data.pop(BASE_KEY, [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError("_BASE_ must be a path or a list of paths", file=str(path), key=BASE_KEY,
                          expected="string or list of strings")
    merged: Dict[str, Any] = {}
    sources: Dict[str, str] = {}
    for base in bases:
        base_path = (path.parent / os.path.expanduser(base)).resolve()
        if not base_path.is_file():
            raise ConfigError(f"base config not found: {base}", file=str(path), key=BASE_KEY,
                              expected=f"an existing file at {base_path}")
        base_data, base_src = _load_tree(base_path, chain + (path,))
        _merge(merged, base_data, sources, base_src)
    _merge(merged, data, sources, _sources_of(data, str(path)))
    return merged, sources


def load_config(path: str, overrides: Optional[Sequence[str]] = None, *, check: bool = True) -> AttrDict:
    """Load a YAML config with its `_BASE_` chain, apply `key.path=value` overrides, then `check_config` it."""
    resolved = resolve_config_path(path)
    data, sources = _load_tree(resolved, ())
    _strip_markers(data, sources)
    sources[""] = str(resolved)
    cfg = _attach(data, "", sources)
    object.__setattr__(cfg, "_file", str(resolved))
    for item in overrides or ():
        apply_override(cfg, item)
    if check:
        check_config(cfg)
    return cfg


def check_config(cfg: AttrDict) -> None:
    """Refuse values outside configs/_base_/schema.yaml and restated facts (alpha, frames, crops) that disagree."""
    from .config_agreement import check_agreement
    from .config_schema import check_schema

    check_schema(cfg)
    check_agreement(cfg)


def config_file(cfg: AttrDict) -> str:
    """The top file a config was loaded from."""
    return getattr(cfg, "_file", None) or cfg._sources.get("", "<config>")


def parse_override(item: str) -> Tuple[List[str], Any, bool]:
    """Split `[+]a.b.c=value` into keys, a YAML-typed value (never eval) and the create flag."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' is not key.path=value", key=item, expected="key.path=value")
    key, _, raw = item.partition("=")
    key = key.strip()
    create = key.startswith(CREATE_PREFIX)
    key = key[len(CREATE_PREFIX):] if create else key
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override '{item}' has an empty key part", key=key, expected="key.path=value")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value, create


def _step(node: Any, part: str, dotted: str, file: str) -> Tuple[Any, Any]:
    """Resolve one key of an override path: a dict key, a list index, or a pipeline stage by class name."""
    if isinstance(node, dict):
        return node, part
    if isinstance(node, list):
        if part.lstrip("-").isdigit():
            index = int(part)
            if not -len(node) <= index < len(node):
                raise ConfigError(f"index {index} out of range (list has {len(node)} items)", file=file,
                                  key=dotted)
            return node, index
        for i, entry in enumerate(node):
            if isinstance(entry, dict) and len(entry) == 1 and part in entry:
                return node, i
        raise ConfigError(f"list has no entry keyed '{part}'", file=file, key=dotted,
                          expected="an index or the class name of a list entry")
    raise ConfigError(f"cannot descend into a {type(node).__name__}", file=file, key=dotted)


def apply_override(cfg: AttrDict, item: str) -> None:
    """Apply one `-o` override; unknown keys are errors unless prefixed with `+` under an existing dict."""
    keys, value, create = parse_override(item)
    file = config_file(cfg)
    node: Any = cfg
    for depth, part in enumerate(keys):
        dotted = ".".join(keys[: depth + 1])
        container, slot = _step(node, part, dotted, file)
        last = depth == len(keys) - 1
        if isinstance(container, list) and isinstance(container[slot], dict) and len(container[slot]) == 1 \
                and part in container[slot] and not part.lstrip("-").isdigit():
            # a stage keyed by class name: descend to its argument dict
            entry = container[slot]
            if last:
                raise ConfigError("cannot replace a whole pipeline stage by name", file=file, key=dotted,
                                  expected="a key inside the stage, e.g. "
                                  f"{dotted}.<argument>=value")
            if entry[part] is None:
                entry[part] = _attach({}, entry.path_of(part), cfg._sources)
            node = entry[part]
            continue
        exists = (slot in container) if isinstance(container, dict) else True
        if not exists:
            if not (create and last):
                raise ConfigError("override of a key that does not exist", file=file, key=dotted,
                                  expected=f"an existing key; to add one under an existing mapping write "
                                  f"-o {CREATE_PREFIX}{'.'.join(keys)}=VALUE")
        if last:
            prefix = container.path_of(str(slot)) if isinstance(container, AttrDict) else dotted
            container[slot] = _attach(value, prefix, cfg._sources)
            cfg._sources[prefix] = "<override>"
            return
        node = container[slot]


def dump_config(cfg: Mapping[str, Any]) -> str:
    """The config as YAML text, keys in their given order."""
    return yaml.safe_dump(_plain(cfg), sort_keys=False, default_flow_style=False, allow_unicode=True)


def describe_sources(cfg: AttrDict) -> List[Tuple[str, str]]:
    """(top-level key, the files that set it or anything under it, comma-separated) for every top-level key."""
    rows = []
    for key in cfg:
        files = [f for p, f in cfg._sources.items() if p == key or p.startswith(f"{key}.")]
        rows.append((key, ", ".join(dict.fromkeys(files)) or "?"))
    return rows


def get(cfg: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """`cfg['a']['b']` for `dotted='a.b'`, or `default` when a key is absent."""
    node: Any = cfg
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return default
    return node


def select(cfg: Mapping[str, Any], pattern: str) -> List[Tuple[str, Any, Optional[str]]]:
    """(dotted path, value, file that set it) of every key matching `pattern`, in config order.

    `*` matches any key; under a stage list a name matches the stages of that class name, as `-o` addresses
    them: `PIPELINE.*.transform.PackOutput.alpha`. The path reported uses the names, not list indices.
    """
    found: List[Tuple[str, Any, Optional[str]]] = []
    top = config_file(cfg) if isinstance(cfg, AttrDict) else None

    def visit(node: Any, parts: List[str], shown: str) -> None:
        part, rest = parts[0], parts[1:]
        if isinstance(node, Mapping):
            slots = [(node, k) for k in (list(node) if part == "*" else [part] if part in node else [])]
        elif isinstance(node, list):
            slots = [(e, next(iter(e))) for e in node
                     if isinstance(e, Mapping) and len(e) == 1 and (part == "*" or part in e)]
        else:
            return
        for parent, key in slots:
            dotted = f"{shown}.{key}" if shown else str(key)
            if rest:
                visit(parent[key], rest, dotted)
            else:
                file = parent.source_of(key) if isinstance(parent, AttrDict) else None
                found.append((dotted, parent[key], file or top))

    visit(cfg, pattern.split("."), "")
    return found


def require(cfg: AttrDict, dotted: str, types: Iterable[type] = (), what: str = "") -> Any:
    """`cfg[dotted]`, raising a ConfigError that names the key and its file when missing or mistyped."""
    parts = dotted.split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            parent = node if isinstance(node, AttrDict) else cfg
            raise ConfigError("missing key", file=parent.source_of() or config_file(cfg),
                              key=".".join(parts[: i + 1]), expected=what or None)
        node = node[part]
    types = tuple(types)
    if types and not isinstance(node, types):
        raise ConfigError(f"wrong type {type(node).__name__}", file=cfg.source_of(dotted), key=dotted,
                          expected=what or " or ".join(t.__name__ for t in types))
    return node
