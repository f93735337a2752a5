"""PaddleVideo's own configs/detection/ava/ava.yaml, pointed at the tiny dataset, through our build_dataloader:
batches of PaddleVideo's 14 entries, and what workers drop or fail counted in the main process."""
from __future__ import annotations

import numpy as np
import pytest

from ava_data_helpers import dataset_kwargs
from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.data import build_dataloader, build_dataset
from paddlevideo_slowfast.data.ava import AVADataset


@pytest.fixture(scope="module")
def ava_cfg(ava_data, paddlevideo_dir):
    kwargs = dataset_kwargs(ava_data, "png")
    overrides = ["DATASET.batch_size=2", "DATASET.num_workers=0", "PIPELINE.train.sampler.clip_len=8",
                 "PIPELINE.valid.sampler.clip_len=8"]
    for mode in ("train", "valid"):
        overrides += [f"DATASET.{mode}.{key}={kwargs[key]}" for key in
                      ("data_prefix", "file_path", "exclude_file", "proposal_file", "label_file",
                       "timestamp_start", "timestamp_end", "person_det_score_thr")]
    return load_config(str(paddlevideo_dir / "configs" / "detection" / "ava" / "ava.yaml"), overrides, check=False)


def test_paddlevideo_config_builds_our_dataset(ava_cfg) -> None:
    train = build_dataset(ava_cfg, "train")
    assert isinstance(train, AVADataset) and len(train) == 8 and not train.test_mode
    valid = build_dataset(ava_cfg, "valid")
    assert valid.test_mode and valid.mode == "valid"
    item = valid[0]
    assert item[1].shape == (3, 8, 256, 341) and item[7].tolist() == [256, 341]


def test_batches_of_fourteen(ava_cfg) -> None:
    loader = build_dataloader(ava_cfg, "train")
    loader.set_epoch(0)
    batch = next(iter(loader))
    assert len(batch) == 14 and len(loader) == 4
    assert list(batch[0].shape) == [2, 3, 2, 256, 256] and list(batch[1].shape) == [2, 3, 8, 256, 256]
    assert list(batch[2].shape) == [2, 128, 4] and list(batch[4].shape) == [2, 128, 81]
    assert list(batch[7].shape) == [2, 2] and list(batch[8].shape) == [2] and list(batch[9].shape) == [2]


def test_worker_losses_reach_the_main_process(ava_cfg, ava_data, tmp_path) -> None:
    """A missing frame and the boxes crops drop are counted the same with one worker as in-process."""
    import copy
    import shutil

    ava_cfg = copy.deepcopy(ava_cfg)
    frames = tmp_path / "frames"
    shutil.copytree(ava_data["png"], frames)
    (frames / "vidA" / "img_00061.png").unlink()
    ava_cfg.DATASET.train.data_prefix = str(frames)
    ava_cfg.DATASET.train.person_det_score_thr = 0.2  # keeps a proposal at the left edge, which crops drop
    ava_cfg.PIPELINE.train.transform[0]["RandomRescale"]["scale_range"] = "(300,320)"
    counts = []
    for workers in (0, 1):
        loader = build_dataloader(ava_cfg, "train", num_workers=workers)
        loader.set_epoch(3)
        lengths = [int(n) for batch in loader for n in np.asarray(batch[10])]
        counts.append((loader.dataset.item_counts(), loader.dataset.substitutions, lengths))
    assert counts[0] == counts[1] and counts[0][1] >= 1 and counts[0][0]["dropped_proposals"] >= 1
    assert loader.dataset.bad_videos == [(str(frames / "vidA" / "img_00061.png"), "no such frame")]
