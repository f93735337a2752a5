"""Shared test fixtures: paths of the repository and the optional PaddleVideo snapshot."""
from __future__ import annotations

import os
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


TINY_AVA_CLASSES = 10  # the generated dataset's action ids 1..9 and the reserved column 0


@pytest.fixture(scope="session")
def tiny_ava_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated AVA-format detection set (64 px, 5 s: 2 keyframes a video; 4 train + 2 val videos)."""
    from paddlevideo_slowfast.data.ava_synthetic import make_embedded_ava

    return make_embedded_ava(tmp_path_factory.mktemp("ava") / "tiny_ava", seed=0, size=64, seconds=5,
                             train_videos=4, val_videos=2, max_actors=2, workers=1)


def tiny_ava_config_text(data: Path) -> str:
    """A YAML config for a tiny SlowFast detector on `data` that inherits the AVA recipe (the model's layout)."""
    notes = data / "annotations"
    split = {mode: ("train" if mode == "train" else "val") for mode in ("train", "valid", "test")}
    lines = [f"_BASE_: ['{REPO / 'configs' / 'ava_slowfast_r50_8x8.yaml'}', "
             f"'{REPO / 'configs' / '_base_' / 'schedules' / 'adamw_cosine_30e.yaml'}']",
             "model_name: TinyAVA", "epochs: 2", "log_interval: 1", "save_interval: 1", "val_interval: 1",
             "seed: 7",
             "MODEL:",
             "  backbone: {depth: 10, width_per_group: 8, spatial_strides: [[1, 1], [2, 2], [1, 1], [1, 1]]}",
             "  head:",
             "    bbox_roi_extractor: {output_size: 2}",
             f"    bbox_head: {{in_channels: null, num_classes: {TINY_AVA_CLASSES}, dropout_ratio: 0.0}}",
             "    sampler: {num: 4}",
             "DATASET:",
             "  batch_size: 2", "  valid_batch_size: 2", "  test_batch_size: 2", "  num_workers: 0"]
    for mode, name in split.items():
        test = ", test_mode: true" if mode != "train" else ""
        lines.append(f"  {mode}: {{data_prefix: '{data / 'videos'}', source: video, "
                     f"file_path: '{notes / f'ava_{name}.csv'}', "
                     f"exclude_file: '{notes / f'ava_{name}_excluded_timestamps.csv'}', "
                     f"proposal_file: '{notes / f'ava_dense_proposals_{name}.pkl'}', "
                     f"label_file: '{notes / 'ava_action_list.pbtxt'}', timestamp_start: 900, timestamp_end: 905, "
                     f"padding_len: 16, num_classes: {TINY_AVA_CLASSES}{test}}}")
    norm = "Normalize: {mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], to_bgr: false}"
    lines.append("PIPELINE:")
    for mode in split:
        transforms = (["RandomRescale: {scale_range: [64, 72]}", "RandomCrop_v2: {size: 64}", "Flip: {flip_ratio: 0.5}"]
                      if mode == "train" else ["Rescale: {scale_range: [-1, 64]}"])
        lines += [f"  {mode}:", "    sampler: {clip_len: 8}", "    transform:",
                  *(f"      - {t}" for t in [*transforms, norm, "PackOutput: {alpha: 4}"])]
    lines += [f"METRIC: {{file_path: '{notes / 'ava_val.csv'}', "
              f"exclude_file: '{notes / 'ava_val_excluded_timestamps.csv'}', "
              f"label_file: '{notes / 'ava_action_list.pbtxt'}'}}",
              "PRECISEBN: {num_iters_preciseBN: 1}",
              "OPTIMIZER: {learning_rate: {warmup_epochs: 1, max_epoch: 2}}",
              "INFERENCE: {num_frames: 8, target_size: 64}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def tiny_ava_config(tiny_ava_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny detection config as a file."""
    path = tmp_path_factory.mktemp("cfg") / "tiny_ava.yaml"
    path.write_text(tiny_ava_config_text(tiny_ava_dataset))
    return path


@pytest.fixture
def tiny_ava_cfg(tiny_ava_config: Path):
    """The tiny detection config loaded."""
    from paddlevideo_slowfast.config import load_config

    return load_config(str(tiny_ava_config))


def _read_frames(path):
    import cv2
    import numpy as np

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)


@pytest.fixture(scope="session")
def read_frames():
    """Every frame of a video file, BGR uint8 (N, H, W, 3), read by OpenCV alone (not through our decoders)."""
    return _read_frames
