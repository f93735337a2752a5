"""Registries: decorator registration, build from a config node, and errors that list what exists."""
from __future__ import annotations

from pathlib import Path

import pytest

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.errors import ConfigError, RegistryError
from paddlevideo_slowfast.registry import Registry


def make_registry() -> Registry:
    reg = Registry("widgets")

    @reg.register()
    class Gear:
        def __init__(self, teeth: int, *, size: float = 1.0):
            self.teeth, self.size = teeth, size

    @reg.register(name="spring")
    def make_spring(k: float = 2.0):
        return ("spring", k)

    return reg


def test_register_get_build() -> None:
    reg = make_registry()
    assert reg.names() == ["Gear", "spring"]
    gear = reg.build({"name": "Gear", "teeth": 12}, size=2.0)
    assert (gear.teeth, gear.size) == (12, 2.0)
    assert reg.build({"kind": "spring", "k": 3}, key="kind") == ("spring", 3)


def test_duplicate_name_refused_unless_replaced() -> None:
    reg = make_registry()
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(lambda: 1, name="spring")
    reg.register(lambda: 1, name="spring", replace=True)


def test_unknown_name_lists_registered() -> None:
    reg = make_registry()
    with pytest.raises(RegistryError, match="Gear, spring"):
        reg.get("Sprocket")
    with pytest.raises(ConfigError) as err:
        reg.build({"name": "Sprocket"}, where="MODEL.backbone")
    assert err.value.key == "MODEL.backbone.name" and "Gear, spring" in str(err.value)


def test_unknown_argument_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("MODEL:\n  backbone:\n    name: Gear\n    teeth: 3\n    teth: 4\n")
    cfg = load_config(str(path))
    with pytest.raises(ConfigError) as err:
        make_registry().build(cfg.MODEL.backbone)
    assert err.value.key == "MODEL.backbone.teth"
    assert err.value.file == str(path)
    assert "teeth" in str(err.value) and "size" in str(err.value)
