"""`plugin.register`: every component of ours in every PaddleVideo registry under the suffix, through the adapters
PaddleVideo's calling conventions need; a clash is refused unless `replace=True` (logged, undone by `restore`);
config names are routed to the registered entries; the configs/paddlevideo files read the same in both loaders."""
from __future__ import annotations

import logging

import pytest

from paddlevideo_slowfast.errors import RegistryError
from paddlevideo_slowfast.plugin import DEFAULT_SUFFIX, register, registries, route_config
from paddlevideo_slowfast.plugin.adapters import ADAPTERS, PaddleVideoRecognizer3D
from paddlevideo_slowfast.plugin.registration import OURS


PV_CONFIGS = ("slowfast_r50_4x16_k400.yaml", "slowfast_tiny_embedded.yaml")


class Records(logging.Handler):
    """Collects the records of one logger (ours do not propagate once the CLI has set up logging)."""

    def __init__(self, name: str):
        super().__init__(logging.DEBUG)
        self.records, self.logger = [], logging.getLogger(name)

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        self.logger.addHandler(self)
        self.level, self.logger.level = self.logger.level, logging.DEBUG
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)


@pytest.mark.parametrize("kind", sorted(OURS))
def test_every_component_is_in_paddlevideos_registry(kind, registration, paddlevideo):
    target = registries(paddlevideo)[kind]
    ours = OURS[kind]
    assert ours.names() and sorted(registration.names[kind]) == ours.names()
    for name in ours.names():
        assert registration.registered_name(kind, name) == name + DEFAULT_SUFFIX
        assert target.get(name + DEFAULT_SUFFIX) is ADAPTERS.get(kind, {}).get(name, ours.get(name))
        if name in target:  # PaddleVideo's own same-named entry is untouched
            assert target.get(name).__module__.startswith("paddlevideo.")


def test_registering_again_changes_nothing(registration, paddlevideo):
    again = register(paddlevideo)
    assert again.added == [] and again.replaced == [] and again.names == registration.names


def test_a_clash_is_an_error_that_names_it_and_registers_nothing(registration, paddlevideo):
    targets = registries(paddlevideo)
    before = {kind: dict(target._obj_map) for kind, target in targets.items()}
    with pytest.raises(RegistryError) as info:
        register(paddlevideo, suffix="")
    message = str(info.value)
    assert "BACKBONES 'ResNetSlowFast' (paddlevideo.modeling.backbones" in message
    assert "METRIC 'MultiCropMetric'" in message and "replace=True" in message and DEFAULT_SUFFIX in message
    assert {kind: dict(target._obj_map) for kind, target in targets.items()} == before


def test_replace_puts_ours_in_place_logs_each_and_restore_undoes_it(registration, paddlevideo):
    from paddlevideo_slowfast.modeling.backbone import ResNetSlowFast

    targets = registries(paddlevideo)
    theirs = {name: targets["BACKBONES"].get(name) for name in ("ResNetSlowFast",)}
    with Records("paddlevideo_slowfast.plugin") as log:
        swap = register(paddlevideo, suffix="", replace=True)
    try:
        assert targets["BACKBONES"].get("ResNetSlowFast") is ResNetSlowFast
        assert targets["RECOGNIZERS"].get("Recognizer3D") is PaddleVideoRecognizer3D
        replaced = {(kind, name) for kind, name, _ in swap.replaced}
        assert {("BACKBONES", "ResNetSlowFast"), ("HEADS", "SlowFastHead"), ("PIPELINES", "DecodeSampler"),
                ("DATASETS", "SFVideoDataset"), ("METRIC", "MultiCropMetric")} <= replaced
        assert ("BACKBONES", "ResNetSlowOnly") in swap.added  # a name PaddleVideo does not have
        warnings = [r.getMessage() for r in log.records if r.levelno == logging.WARNING]
        assert len(warnings) == len(swap.replaced)
        assert any("BACKBONES 'ResNetSlowFast' (paddlevideo.modeling.backbones" in w for w in warnings)
    finally:
        swap.restore()
    assert targets["BACKBONES"].get("ResNetSlowFast") is theirs["ResNetSlowFast"]
    assert "ResNetSlowOnly" not in targets["BACKBONES"]
    assert targets["BACKBONES"].get("ResNetSlowFast" + DEFAULT_SUFFIX) is ResNetSlowFast  # the session's stays


def test_route_config_renames_every_component_name(registration, repo_root):
    from paddlevideo_slowfast.config import load_config

    cfg = load_config(str(repo_root / "configs" / "paddlevideo" / PV_CONFIGS[0]))
    renamed = route_config(cfg, registration.names)
    s = DEFAULT_SUFFIX
    assert (cfg.MODEL.framework, cfg.MODEL.backbone.name, cfg.MODEL.head.name, cfg.METRIC.name) == \
        (f"Recognizer3D{s}", f"ResNetSlowFast{s}", f"SlowFastHead{s}", f"MultiCropMetric{s}")
    assert {cfg.DATASET[mode].format for mode in ("train", "valid", "test")} == {f"SFVideoDataset{s}"}
    assert cfg.PIPELINE.test.decode_sampler.name == f"DecodeSampler{s}"
    assert [next(iter(entry)) for entry in cfg.PIPELINE.train.transform] == \
        [f"{n}{s}" for n in ("JitterScale", "MultiCrop", "RandomFlip", "Image2Array", "Normalization", "PackOutput")]
    assert cfg.PIPELINE.train.transform[0][f"JitterScale{s}"] == {"min_size": 256, "max_size": 320}
    assert len(renamed) == 3 + 3 + (7 + 7 + 6) + 1
    assert ("MODEL.backbone.name", "ResNetSlowFast", f"ResNetSlowFast{s}") in renamed
    assert route_config(cfg, registration.names) == []  # registered names stay as they are


@pytest.mark.parametrize("name", PV_CONFIGS)
def test_paddlevideo_configs_read_the_same_in_paddlevideo_and_build_in_our_registries(name, paddlevideo, repo_root):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data import build_pipeline
    from paddlevideo_slowfast.plugin.importer import submodule

    path = repo_root / "configs" / "paddlevideo" / name
    ours = load_config(str(path))
    theirs = submodule(paddlevideo, "utils.config").get_config(str(path), show=False)
    assert ours.to_dict() == theirs
    for mode in ("train", "valid", "test"):
        assert build_pipeline(ours.PIPELINE[mode]).clip_shapes() is not None


def test_suffixed_names_build_ours_without_routing(registration, paddlevideo, repo_root):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling.backbone import ResNetSlowFast
    from paddlevideo_slowfast.plugin.importer import submodule

    s = DEFAULT_SUFFIX
    cfg = load_config(str(repo_root / "configs" / "paddlevideo" / PV_CONFIGS[1]),
                      [f"MODEL.framework=Recognizer3D{s}", f"MODEL.backbone.name=ResNetSlowFast{s}",
                       f"MODEL.head.name=SlowFastHead{s}"])
    model = submodule(paddlevideo, "modeling.builder").build_model(cfg.MODEL)
    assert type(model) is PaddleVideoRecognizer3D and type(model.backbone) is ResNetSlowFast
    assert cfg.MODEL.backbone.name == f"ResNetSlowFast{s}"  # the config itself is left as written
