"""The declared type and range of each config key (configs/_base_/schema.yaml), checked when a config loads.

A value outside its row is refused with one line naming the key, the value, the file that set it and what was
expected, before anything is built: `-o DATASET.batch_size=abc` fails at load, not inside the data loader.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from .config import config_search_dirs, select, yaml_load
from .errors import ConfigError

SCHEMA_NAME = "_base_/schema.yaml"
TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,), "list": (list,), "dict": (dict,)}
TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
              "list": "a list", "dict": "a mapping"}
ROW_FIELDS = ("type", "range", "choices", "nullable")
_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])\s*$")


@dataclass(frozen=True)
class Rule:
    """One schema row: the key pattern, its type, an optional interval, choices, and whether null is accepted."""

    key: str
    type: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = True
    high_open: bool = True
    choices: Optional[Tuple[Any, ...]] = None
    nullable: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, bool) and self.type != "bool":
            return False
        if not isinstance(value, TYPES[self.type]):
            return False
        if self.choices is not None and value not in self.choices:
            return False
        if self.type in ("int", "float"):
            above = value > self.low if self.low_open else value >= self.low
            below = value < self.high if self.high_open else value <= self.high
            return above and below  # NaN fails both
        return True

    def expected(self) -> str:
        """`an integer >= 1`, `a number in [0, 1)`, `one of: fixed, adaptive` (+ `or null`)."""
        if self.choices is not None:
            text = "one of: " + ", ".join(str(c) for c in self.choices)
        else:
            text = TYPE_WORDS[self.type]
            low, high = math.isinf(self.low), math.isinf(self.high)
            if not low and high:
                text += f" {'>' if self.low_open else '>='} {_number(self.low)}"
            elif low and not high:
                text += f" {'<' if self.high_open else '<='} {_number(self.high)}"
            elif not low and not high:
                text += (f" in {'(' if self.low_open else '['}{_number(self.low)}, "
                         f"{_number(self.high)}{')' if self.high_open else ']'}")
        return text + (" or null" if self.nullable else "")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_rule(key: str, row: Any, file: str) -> Rule:
    """A Rule from one schema row; a malformed row is a ConfigError naming the schema file and key."""
    def bad(why: str) -> ConfigError:
        return ConfigError(f"bad schema row: {why}", file=file, key=key,
                           expected="{type: int|float|bool|str|list|dict, range: \"[low, high)\", "
                           "choices: [...], nullable: true}")

    if not isinstance(row, Mapping) or row.get("type") not in TYPES:
        raise bad("no known type")
    unknown = set(row) - set(ROW_FIELDS)
    if unknown:
        raise bad(f"unknown field(s) {', '.join(sorted(unknown))}")
    bounds = {}
    if row.get("range") is not None:
        match = _INTERVAL.match(str(row["range"]))
        if not match or row["type"] not in ("int", "float"):
            raise bad(f"range {row['range']!r} is not an interval of a number type")
        try:
            low, high = float(match.group(2)), float(match.group(3))
        except ValueError:
            raise bad(f"range {row['range']!r} has a bound that is not a number") from None
        bounds = dict(low=low, high=high, low_open=match.group(1) == "(", high_open=match.group(4) == ")")
    choices = row.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise bad("choices is not a list")
    return Rule(key=key, type=row["type"], choices=tuple(choices) if choices is not None else None,
                nullable=bool(row.get("nullable", False)), **bounds)


def schema_path() -> Path:
    """The schema beside the defaults: a source checkout's configs/_base_/, else the installed copy."""
    for folder in config_search_dirs():
        if (folder / SCHEMA_NAME).is_file():
            return folder / SCHEMA_NAME
    raise ConfigError("config schema not found", file=SCHEMA_NAME,
                      expected=f"{SCHEMA_NAME} under one of: {', '.join(str(d) for d in config_search_dirs())}")


@lru_cache(maxsize=None)
def _load(path: str) -> Tuple[Rule, ...]:
    data = yaml_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, Mapping):
        raise ConfigError("the schema must be a mapping of dotted keys to rows", file=path)
    return tuple(parse_rule(str(key), row, path) for key, row in data.items())


def load_schema(path: Optional[Path] = None) -> Tuple[Rule, ...]:
    """The rules of the schema file (configs/_base_/schema.yaml by default), parsed once per path."""
    return _load(str(path or schema_path()))


def violations(cfg: Mapping[str, Any], rules: Optional[Sequence[Rule]] = None) -> List[ConfigError]:
    """A ConfigError per key whose value breaks its rule, in schema order."""
    found = []
    for rule in load_schema() if rules is None else rules:
        for dotted, value, file in select(cfg, rule.key):
            if not rule.accepts(value):
                shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
                found.append(ConfigError(f"invalid value {shown}", file=file, key=dotted,
                                         expected=rule.expected()))
    return found


def check_schema(cfg: Mapping[str, Any], rules: Optional[Sequence[Rule]] = None) -> None:
    """Raise the first violation of the schema (one line: key, value, file, expected)."""
    found = violations(cfg, rules)
    if found:
        raise found[0]
