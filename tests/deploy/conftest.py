"""A tiny SlowFast, its config and one export, shared by the deployment tests (built once per session).

The model's BN statistics are randomised (so folding BN at export is really exercised) and its classifier is
scaled up, so that probabilities are peaked and a 1e-4 parity bound on them means something.
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest

from deploy_helpers import ALPHA, CROP, FRAMES, NUM_CLASSES, tiny_overrides  # noqa: E402,F401


@pytest.fixture(scope="session")
def embedded(tmp_path_factory) -> Path:
    """The embedded dataset, one validation video per class (64 px, 48 frames at 30 fps)."""
    from paddlevideo_slowfast.data import make_embedded_dataset

    return make_embedded_dataset(tmp_path_factory.mktemp("embedded") / "data", train_per_class=0, val_per_class=1,
                                 workers=1)


@pytest.fixture(scope="session")
def tiny_override_list(embedded) -> List[str]:
    """`tiny_overrides` for the session's embedded dataset (conftest modules are not importable by name)."""
    return tiny_overrides(embedded / "label_names.txt")


@pytest.fixture(scope="session")
def tiny_cfg(repo_root, embedded):
    from paddlevideo_slowfast.config import load_config

    return load_config(str(repo_root / "configs" / "slowfast.yaml"), tiny_overrides(embedded / "label_names.txt"))


def make_peaked(model) -> None:
    """Random BN statistics and a 30x classifier, in place (the model stays in eval mode)."""
    import paddle

    rng = np.random.default_rng(7)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm3D):
            c = layer._mean.shape[0]
            layer._mean.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
            layer._variance.set_value((rng.random(c) + 0.5).astype(np.float32))
            layer.weight.set_value((rng.random(c) + 0.5).astype(np.float32))
            layer.bias.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
    projection = model.head.projection.weight
    projection.set_value(projection.numpy() * 30)


@pytest.fixture(scope="session")
def tiny_model(tiny_cfg):
    from paddlevideo_slowfast.modeling import build_model

    model = build_model(tiny_cfg.MODEL)
    model.eval()
    make_peaked(model)
    return model


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory, tiny_model) -> Path:
    import paddle

    path = tmp_path_factory.mktemp("weights") / "tiny.pdparams"
    paddle.save(tiny_model.state_dict(), str(path))
    return path


@pytest.fixture(scope="session")
def exported(tmp_path_factory, tiny_cfg, tiny_model):
    """The tiny model exported in the PIR format, with its ONNX conversion."""
    from paddlevideo_slowfast.deploy import ExportOptions, export_model

    return export_model(tiny_cfg, None, tmp_path_factory.mktemp("export") / "tiny", ExportOptions(onnx=True),
                        model=tiny_model)


@pytest.fixture(scope="session")
def clips():
    """A batch of two random normalised clips (slow, fast) of the tiny model's shapes."""
    rng = np.random.default_rng(3)
    slow = rng.standard_normal((2, 3, FRAMES // ALPHA, CROP, CROP)).astype(np.float32)
    fast = rng.standard_normal((2, 3, FRAMES, CROP, CROP)).astype(np.float32)
    return slow, fast


@pytest.fixture(scope="session")
def dygraph(tiny_model, clips) -> np.ndarray:
    """The dygraph model's probabilities on `clips`."""
    import paddle

    with paddle.no_grad():
        return tiny_model([paddle.to_tensor(c) for c in clips], mode="infer").numpy()
