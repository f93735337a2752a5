"""Names of our components in PaddleVideo's registries: which registered name is which of ours, and a config's
component names routed to our registered entries.

Our names are PaddleVideo's (ResNetSlowFast, SlowFastHead, Recognizer3D, DecodeSampler ... SFVideoDataset,
MultiCropMetric), so in PaddleVideo's registries ours carry a suffix (`ResNetSlowFast_PVSF`). A config keeps the
plain names, which our own CLI reads; `route_config` renames, in place, every name we registered to its
registered name before PaddleVideo's builders see the config. A name already suffixed is left as it is, and so is
a framework PaddleVideo's loops test by name (`LITERAL_FRAMEWORKS`: FastRCNN).
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, MutableMapping, Tuple

# PaddleVideo registry -> {name registered there: our own registry's name}, for every active registration
_OURS: Dict[str, Dict[str, str]] = {}

FRAMEWORK_KINDS = ("RECOGNIZERS", "DETECTORS")  # the registries MODEL.framework may name an entry of

# MODEL.head keys naming the parts an AVARoIHead builds itself, and their PaddleVideo registries
HEAD_PARTS: Dict[str, str] = {"bbox_roi_extractor": "ROI_EXTRACTORS", "bbox_head": "HEADS",
                              "assigner": "BBOX_ASSIGNERS", "sampler": "BBOX_SAMPLERS"}

# frameworks whose plain name PaddleVideo's train and test loops compare literally (`cfg.MODEL.framework ==
# "FastRCNN"` turns on its AVA validation and metric set-up): a config keeps the name, and `pv` builds ours for it
# (pv/framework.py)
LITERAL_FRAMEWORKS: Dict[str, str] = {"FastRCNN": "DETECTORS"}


def remember(kind: str, registered: str, ours: str) -> None:
    _OURS.setdefault(kind, {})[registered] = ours


def forget(kind: str, registered: str) -> None:
    _OURS.get(kind, {}).pop(registered, None)


def our_name(kind: str, name: str) -> str:
    """Our registry's name for `name` as registered in PaddleVideo's `kind` registry (`name` when not ours)."""
    return _OURS.get(kind, {}).get(name, name)


Site = Tuple[str, Any, Any]  # (dotted key, the mapping or transform list holding the name, its key or index there)


def _named(node: Any, key: str, dotted: str, kind: str) -> Iterator[Tuple[str, Site]]:
    if isinstance(node, MutableMapping) and isinstance(node.get(key), str):
        yield kind, (dotted, node, key)


def name_sites(cfg: Mapping[str, Any]) -> Iterator[Tuple[str, Site]]:
    """(PaddleVideo registry, site) of every component name a config gives PaddleVideo's builders."""
    model = cfg.get("MODEL")
    if isinstance(model, Mapping) and model.get("framework") not in LITERAL_FRAMEWORKS:
        for kind in FRAMEWORK_KINDS:
            yield from _named(model, "framework", "MODEL.framework", kind)
    if isinstance(model, Mapping):
        yield from _named(model.get("backbone"), "name", "MODEL.backbone.name", "BACKBONES")
        head = model.get("head")
        yield from _named(head, "name", "MODEL.head.name", "HEADS")
        for part, kind in HEAD_PARTS.items() if isinstance(head, Mapping) else ():
            yield from _named(head.get(part), "name", f"MODEL.head.{part}.name", kind)
    for mode, node in (cfg.get("DATASET") or {}).items():
        yield from _named(node, "format", f"DATASET.{mode}.format", "DATASETS")
    for mode, node in (cfg.get("PIPELINE") or {}).items():
        for key, value in (node or {}).items() if isinstance(node, Mapping) else ():
            where = f"PIPELINE.{mode}.{key}"
            yield from _named(value, "name", f"{where}.name", "PIPELINES")
            if isinstance(value, list):
                for i, entry in enumerate(value):
                    if isinstance(entry, MutableMapping) and len(entry) == 1:
                        yield "PIPELINES", (f"{where}.{i}", value, i)
    yield from _named(cfg.get("METRIC"), "name", "METRIC.name", "METRIC")


def route_config(cfg: MutableMapping[str, Any],
                 registered: Mapping[str, Mapping[str, str]]) -> List[Tuple[str, str, str]]:
    """Rename, in place, each component name in `cfg` that is one of ours to its registered name.

    `registered` maps PaddleVideo registry -> {our name: registered name} (`Registration.names`). Returns
    (dotted key, old name, new name) for every rename.
    """
    renamed = []
    for kind, (dotted, holder, key) in list(name_sites(cfg)):
        table = registered.get(kind, {})
        if isinstance(holder, list):  # a transform entry {ClassName: {arguments}}: the key is the name
            (old, args), = holder[key].items()
            if old in table and table[old] != old:
                holder[key] = {table[old]: args}
                renamed.append((dotted, old, table[old]))
        elif holder[key] in table and table[holder[key]] != holder[key]:
            old = holder[key]
            holder[key] = table[old]
            renamed.append((dotted, old, table[old]))
    return renamed
