"""Shared test fixtures: paths of the repository and the optional PaddleVideo snapshot."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PADDLEVIDEO_DIR = Path(os.environ.get("PADDLEVIDEO_DIR", REPO.parent / "shared" / "third_party" / "PaddleVideo"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def paddlevideo_dir() -> Path:
    """The unmodified PaddleVideo snapshot used for integration tests; skip when it is absent."""
    if not (PADDLEVIDEO_DIR / "paddlevideo" / "__init__.py").is_file():
        pytest.skip(f"PaddleVideo snapshot not found at {PADDLEVIDEO_DIR} (set PADDLEVIDEO_DIR)")
    return PADDLEVIDEO_DIR


TINY_CLASSES = ["left", "right", "blink_slow", "blink_fast"]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small embedded dataset (4 classes, 32 px, 24 frames, 4 train + 2 val videos per class), made once."""
    from paddlevideo_slowfast.data.synthetic import make_embedded_dataset

    return make_embedded_dataset(tmp_path_factory.mktemp("data") / "tiny", seed=0, classes=TINY_CLASSES, size=32,
                                 frames=24, train_per_class=4, val_per_class=2, workers=2)


def tiny_config_text(data: Path) -> str:
    """A YAML config for a tiny SlowFast on `data` that inherits the quickstart (and so slowfast.yaml)."""
    lines = [f"_BASE_: {REPO / 'configs' / 'quickstart.yaml'}",
             "model_name: Tiny", "epochs: 2", "log_interval: 1", "save_interval: 1", "val_interval: 1",
             "seed: 7",
             "MODEL:",
             "  backbone: {width_per_group: 8}",
             "  head: {width_per_group: 8, num_classes: 4, num_frames: 8, crop_size: 32, dropout_rate: 0.0}",
             "DATASET:",
             "  batch_size: 2", "  num_workers: 0", "  embedded: null"]
    extra_test = "num_ensemble_views: 2, num_spatial_crops: 3"
    for mode, name in (("train", "train"), ("valid", "val"), ("test", "val")):
        views = f", {extra_test}" if mode == "test" else ""
        lines.append(f"  {mode}: {{data_prefix: '{data}', file_path: '{data / (name + '.list')}', "
                     f"label_file: '{data / 'label_names.txt'}'{views}}}")
    lines += ["METRIC: {num_classes: 4, num_ensemble_views: 2, label_names: '" + str(data / "label_names.txt") + "'}",
              "PRECISEBN: {num_iters_preciseBN: 2}",
              "OPTIMIZER: {learning_rate: {warmup_epochs: 1, max_epoch: 2}}",
              "INFERENCE: {num_frames: 8, target_size: 32}",
              "PIPELINE:"]
    norm = "Normalization: {mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225], tensor_shape: [1, 1, 1, 3]}"
    for mode, scale, test in (("train", "{min_size: 32, max_size: 36}", ""), ("valid", "{min_size: 32, max_size: 32}", ""),
                              ("test", "{min_size: 32, max_size: 32}", ", test_mode: True")):
        lines += [f"  {mode}:",
                  f"    decode_sampler: {{name: DecodeSampler, num_frames: 8, sampling_rate: 2{test}}}",
                  "    transform:",
                  f"      - JitterScale: {scale}",
                  f"      - MultiCrop: {{target_size: 32{test}}}",
                  "      - Image2Array: {transpose: False}",
                  f"      - {norm}",
                  "      - PackOutput: {alpha: 4}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def tiny_config(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny config as a file."""
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(tiny_config_text(tiny_dataset))
    return path


@pytest.fixture
def tiny_cfg(tiny_config: Path):
    """The tiny config loaded."""
    from paddlevideo_slowfast.config import load_config

    return load_config(str(tiny_config))
