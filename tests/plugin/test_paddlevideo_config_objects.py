"""PaddleVideo's own config objects (`paddlevideo.utils.get_config`: its AttrDict, whose getattr raises KeyError and
which deep-copy cannot copy) reach our components: PaddleVideo's builders and our own take them, and a PaddleVideo
user's whole train/test/export from its `get_config` gives what `python -m paddlevideo_slowfast.pv` (our loader)
gives on the same config and overrides."""
from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.plugin import PaddleVideoMultiCropMetric, PaddleVideoRecognizer3D, route_config
from paddlevideo_slowfast.plugin.importer import submodule

TINY = "configs/paddlevideo/slowfast_tiny_embedded.yaml"
SEED = 1234  # PaddleVideo's main.py default, and pv's


def overrides(data: Path) -> List[str]:
    """`-o` items for the tiny dataset (4 classes, 2 epochs) that read the same in PaddleVideo's loader and ours."""
    items = ["MODEL.head.num_classes=4", "METRIC.num_classes=4", "epochs=2", "OPTIMIZER.learning_rate.max_epoch=2",
             "DATASET.num_workers=0", "PRECISEBN.num_iters_preciseBN=2"]
    for mode, name in (("train", "train.list"), ("valid", "val.list"), ("test", "val.list")):
        items += [f"DATASET.{mode}.data_prefix={data}", f"DATASET.{mode}.file_path={data / name}",
                  f"DATASET.{mode}.label_file={data / 'label_names.txt'}"]
    return items


@pytest.fixture
def theirs(paddlevideo, registration, repo_root, tiny_dataset):
    """A factory of the tiny config as PaddleVideo's get_config reads it, routed to our components (or not)."""
    get_config = submodule(paddlevideo, "utils.config").get_config

    def load(route: bool = True):
        cfg = get_config(str(repo_root / TINY), overrides=overrides(tiny_dataset), show=False)
        if route:
            route_config(cfg, registration.names)
        return cfg
    return load


def test_paddlevideos_builders_build_ours_from_its_config_objects(theirs, paddlevideo):
    cfg = theirs()
    assert type(cfg.MODEL.backbone).__module__ == "paddlevideo.utils.config"
    model = submodule(paddlevideo, "modeling.builder").build_model(cfg.MODEL)
    assert type(model) is PaddleVideoRecognizer3D and model.head.num_classes == 4
    copy.deepcopy(model)  # what it kept of the config copies too
    build_dataset = submodule(paddlevideo, "loader.builder").build_dataset
    for mode in ("train", "valid", "test"):
        dataset = build_dataset((cfg.DATASET[mode], cfg.PIPELINE[mode]))
        assert len(dataset) in (16, 8) and dataset[0][0].shape == (3, 2, 32, 32)
    cfg.METRIC.data_size, cfg.METRIC.batch_size = 8, 2
    assert isinstance(submodule(paddlevideo, "metrics").build_metric(cfg.METRIC), PaddleVideoMultiCropMetric)


def test_our_builders_take_paddlevideos_config_objects(theirs):
    from paddlevideo_slowfast.data import build_dataset, build_pipeline
    from paddlevideo_slowfast.deploy.infer_cfg import from_training_config
    from paddlevideo_slowfast.metrics import build_metric
    from paddlevideo_slowfast.modeling import build_model

    cfg = theirs(route=False)  # our own registries know the plain names
    assert build_model(cfg.MODEL).head.num_classes == 4
    assert build_pipeline(cfg.PIPELINE.test).clip_shapes() == ((3, 2, 32, 32), (3, 8, 32, 32))
    assert len(build_dataset(cfg, "test")) == 8
    assert build_metric(cfg.METRIC, data_size=8, batch_size=2).num_classes == 4
    info = from_training_config(cfg, model_file="m.json", params_file="m.pdiparams", model_format="pir")
    assert info.pipeline == dict(cfg.PIPELINE.test) and info.num_classes == 4  # the infer_cfg.yml of our export
    cfg.MODEL.head.alpha = 2
    with pytest.raises(ConfigError, match="MODEL.head.alpha = 2 disagrees with MODEL.backbone.alpha"):
        build_model(cfg.MODEL)
    cfg.MODEL.head.alpha, cfg.MODEL.backbone.depht = 4, 10
    with pytest.raises(ConfigError, match="takes no argument 'depht'") as info:
        build_model(cfg.MODEL)
    assert info.value.key == "MODEL.backbone.depht"


def _seed() -> None:
    import paddle

    random.seed(SEED)
    np.random.seed(SEED)
    paddle.seed(SEED)


class Recorder:
    """Training losses (grad passes only: PreciseBN's are not counted) and test results of one run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import paddle

        self.losses: List[float] = []
        self.results: List[Dict[str, Any]] = []
        train_step, accumulate = PaddleVideoRecognizer3D.train_step, PaddleVideoMultiCropMetric.accumulate

        def recording_step(model, batch):
            out = train_step(model, batch)
            if paddle.is_grad_enabled():
                self.losses.append(float(out["loss"]))
            return out

        def recording_accumulate(metric):
            self.results.append(accumulate(metric))
            return self.results[-1]

        monkeypatch.setattr(PaddleVideoRecognizer3D, "train_step", recording_step)
        monkeypatch.setattr(PaddleVideoMultiCropMetric, "accumulate", recording_accumulate)


def _paddlevideo_user(paddlevideo, theirs, out: Path) -> None:
    """main.py (train --validate, then --test) and the export path, from PaddleVideo's get_config, on the CPU."""
    from paddlevideo_slowfast.pv.device import paddlevideo_device
    from paddlevideo_slowfast.pv.export import export_paddlevideo

    for verb, task in (("train", "train_model"), ("test", "test_model")):
        module = submodule(paddlevideo, f"tasks.{verb}")
        _seed()
        with paddlevideo_device("cpu", [module]):
            if verb == "train":
                getattr(module, task)(theirs(), parallel=False, validate=True)
            else:
                getattr(module, task)(theirs(), weights="output/SlowFast_tiny/SlowFast_tiny_epoch_00002.pdparams",
                                      parallel=False)
    export_paddlevideo(paddlevideo, theirs(), "output/SlowFast_tiny/SlowFast_tiny_epoch_00002.pdparams",
                       str(out / "inference"))


def _pv_cli(repo_root: Path, data: Path, out: Path) -> None:
    from paddlevideo_slowfast.pv.cli import main

    config, items = str(repo_root / TINY), overrides(data)
    weights = "output/SlowFast_tiny/SlowFast_tiny_epoch_00002.pdparams"
    assert main(["train", "-c", config, "-o", *items, "--device", "cpu", "--validate"]) == 0
    assert main(["test", "-c", config, "-o", *items, "-w", weights, "--device", "cpu"]) == 0
    assert main(["export", "-c", config, "--override", *items, "-p", weights, "-o", str(out / "inference")]) == 0


def _exported_probabilities(folder: Path, seed: int = 3) -> np.ndarray:
    import paddle.inference as pi

    config = pi.Config(str(folder / "SlowFast_tiny.json"), str(folder / "SlowFast_tiny.pdiparams"))
    config.disable_gpu()
    predictor = pi.create_predictor(config)
    rng = np.random.default_rng(seed)
    for name, frames in zip(predictor.get_input_names(), (2, 8)):
        predictor.get_input_handle(name).copy_from_cpu(rng.standard_normal((2, 3, frames, 32, 32)).astype("float32"))
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


@pytest.mark.slow
def test_train_test_export_from_paddlevideos_get_config_match_ours(theirs, paddlevideo, repo_root, tiny_dataset,
                                                                   tmp_path, monkeypatch):
    import paddle

    from paddlevideo_slowfast.config import load_config

    assert load_config(str(repo_root / TINY), overrides(tiny_dataset)).to_dict() == \
        submodule(paddlevideo, "utils.config").get_config(str(repo_root / TINY), overrides(tiny_dataset), show=False)
    runs = {}
    for flow in ("paddlevideo", "ours"):
        folder = tmp_path / flow
        folder.mkdir()
        monkeypatch.chdir(folder)  # output/<model_name>, as both write it
        with monkeypatch.context() as patch:
            runs[flow] = Recorder(patch)
            if flow == "paddlevideo":
                _paddlevideo_user(paddlevideo, theirs, folder)
            else:
                _pv_cli(repo_root, tiny_dataset, folder)
    pv, ours = runs["paddlevideo"], runs["ours"]
    assert len(pv.losses) == 2 * 4 and np.isfinite(pv.losses).all()  # 2 epochs of 16 videos in batches of 4
    np.testing.assert_allclose(pv.losses, ours.losses, rtol=1e-5)
    theirs_state, ours_state = (paddle.load(str(tmp_path / flow / "output/SlowFast_tiny/SlowFast_tiny_epoch_00002"
                                                                   ".pdparams")) for flow in ("paddlevideo", "ours"))
    assert sorted(theirs_state) == sorted(ours_state)
    for key, value in theirs_state.items():
        np.testing.assert_allclose(np.asarray(value), np.asarray(ours_state[key]), rtol=1e-5, atol=1e-6, err_msg=key)
    (result,), (expected,) = pv.results, ours.results
    assert result["scored"] == expected["scored"] == 8
    assert (result["top1"], result["top5"]) == (expected["top1"], expected["top5"])
    np.testing.assert_allclose(_exported_probabilities(tmp_path / "paddlevideo" / "inference"),
                               _exported_probabilities(tmp_path / "ours" / "inference"), atol=1e-5)


def test_a_wrong_optimizer_key_in_their_config_is_a_config_error(theirs) -> None:
    """The solver's errors ask the node for its source file only when it is ours (theirs raises KeyError)."""
    from paddle import nn

    from paddlevideo_slowfast.solver.lr import build_lr
    from paddlevideo_slowfast.solver.optimizer import build_optimizer

    cfg = theirs()
    cfg.OPTIMIZER.learning_rate["no_such_argument"] = 1
    with pytest.raises(ConfigError, match="no_such_argument"):
        build_lr(cfg.OPTIMIZER.learning_rate, 4)
    cfg = theirs()
    cfg.OPTIMIZER["weight_decay"] = "heavy"
    with pytest.raises(ConfigError, match="weight_decay must be a number"):
        build_optimizer(cfg.OPTIMIZER, nn.Linear(2, 2), 4)
