"""PaddleVideo's config objects turned into ours where PaddleVideo hands them to our components.

PaddleVideo's `get_config` returns its own AttrDict, whose `__getattr__` answers a missing attribute with a KeyError
instead of an AttributeError. Python's protocols probe attributes and expect the latter, so on its nodes
`copy.deepcopy` (it looks up `__deepcopy__`), `getattr(node, name, default)` and `hasattr` raise KeyError. Its
builders pass such nodes on as they are (the recognizer gets `backbone` and `head` as its AttrDicts), so every
adapter converts what it is given, once, into our AttrDict: a dict that copies, pickles and names its dotted keys
in errors. Our own config nodes pass through untouched (they keep the file each key came from).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

from ..config import AttrDict, as_config


def our_config(node: Any, where: str = "") -> Any:
    """`node` with each mapping in it as our AttrDict (at dotted path `where`); ours and other values as given."""
    if isinstance(node, AttrDict):
        return node
    if isinstance(node, Mapping):
        return as_config(dict(node), where)
    if isinstance(node, list):
        return [our_config(value, f"{where}.{i}") for i, value in enumerate(node)]
    return node


def our_kwargs(kwargs: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """Keyword arguments from a PaddleVideo builder (`build(cfg, REGISTRY)` spreads one config node) made ours."""
    return {key: our_config(value, f"{where}.{key}") for key, value in kwargs.items()}
