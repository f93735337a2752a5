"""PaddleVideo's own `build_model` on our R50 4x16 config builds our recognizer, backbone and head, whose state dict
is PaddleVideo's, key for key and shape for shape (so its released checkpoints and ours are interchangeable)."""
from __future__ import annotations

import pytest

from paddlevideo_slowfast.plugin import PaddleVideoRecognizer3D, route_config
from paddlevideo_slowfast.plugin.importer import submodule


REFERENCE = "paddlevideo_slowfast_r50_4x16_keys.txt"


@pytest.mark.slow
def test_paddlevideo_build_model_builds_ours_with_paddlevideo_keys(registration, paddlevideo, repo_root):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.modeling.backbone import ResNetSlowFast
    from paddlevideo_slowfast.modeling.head import SlowFastHead

    reference = repo_root.parent / "shared" / "reference" / REFERENCE
    if not reference.is_file():
        pytest.skip(f"reference key list not found at {reference}")
    cfg = load_config(str(repo_root / "configs" / "paddlevideo" / "slowfast_r50_4x16_k400.yaml"))
    route_config(cfg, registration.names)
    model = submodule(paddlevideo, "modeling.builder").build_model(cfg.MODEL)
    assert (type(model), type(model.backbone), type(model.head)) == \
        (PaddleVideoRecognizer3D, ResNetSlowFast, SlowFastHead)
    rows = [(key, str(list(value.shape)), str(value.dtype).replace("paddle.", ""))
            for key, value in model.state_dict().items()]
    expected = [tuple(line.split("\t")) for line in reference.read_text().splitlines()
                if line and not line.startswith("#")]
    assert len(rows) == len(expected) == 552
    assert rows == expected
