"""build_dataloader: paddle DataLoader with 2 workers, item seeding by (seed, epoch, index), bad videos reported
from the workers, and the batch layouts of train, valid and test."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import yaml

from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.data import build_dataloader
from paddlevideo_slowfast.data.loader import EpochBatchSampler
from video_corpus import TEST, TRAIN


def write_config(tmp_path: Path, videos, corpus, *, copies: int = 8, bad: bool = False) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "same.mp4").symlink_to(videos["main"])
    lines = [f"same.mp4 {i % 3}" for i in range(copies)]
    if bad:
        (root / "broken.mp4").symlink_to(corpus["overwritten_header"])
        lines[1] = "broken.mp4 1"
    (root / "list.txt").write_text("\n".join(lines) + "\n")
    node = {"format": "SFVideoDataset", "data_prefix": str(root), "file_path": str(root / "list.txt")}
    cfg = {"seed": 3,
           "DATASET": {"batch_size": 4, "num_workers": 2, "test_batch_size": 2, "backend": "opencv",
                       "train": dict(node), "valid": dict(node),
                       "test": dict(node, num_ensemble_views=2, num_spatial_crops=3)},
           "PIPELINE": {"train": copy.deepcopy(TRAIN), "valid": copy.deepcopy(TRAIN), "test": copy.deepcopy(TEST)}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def clips(loader, epoch):
    loader.set_epoch(epoch)
    return [fast.numpy()[i].tobytes() for _, fast, _ in loader for i in range(fast.shape[0])]


def test_two_workers_seeded_per_item_and_epoch(tmp_path, videos, corpus) -> None:
    cfg = load_config(str(write_config(tmp_path, videos, corpus)))
    loader = build_dataloader(cfg, "train")
    assert len(loader) == 2 and loader.loader.num_workers == 2
    slow, fast, label = next(iter(loader))
    assert list(slow.shape) == [4, 3, 2, 56, 56] and list(fast.shape) == [4, 3, 8, 56, 56]
    assert list(label.shape) == [4, 1]
    epoch0 = clips(loader, 0)
    assert len(set(epoch0)) == 8            # one video 8 times: every item its own window/crop/flip
    epoch1 = clips(loader, 1)
    assert not set(epoch0) & set(epoch1)    # a new epoch draws new ones
    assert clips(loader, 0) == epoch0       # and epoch 0 again is epoch 0 again (resumable)
    alone = build_dataloader(cfg, "train", num_workers=0)
    assert clips(alone, 0) == epoch0        # independent of the worker count


def test_bad_videos_reach_the_main_process(tmp_path, videos, corpus) -> None:
    cfg = load_config(str(write_config(tmp_path, videos, corpus, bad=True)))
    train = build_dataloader(cfg, "train")
    assert sum(1 for _ in train) == 2
    assert train.dataset.bad_count == 1 and train.dataset.substitutions >= 1
    assert Path(train.dataset.bad_videos[0][0]).name == "broken.mp4"
    valid = build_dataloader(cfg, "valid")
    batches = list(valid)
    masks = np.concatenate([b[3].numpy().reshape(-1) for b in batches])
    assert masks.dtype == bool and masks.tolist() == [True, False] + [True] * 6
    assert valid.dataset.unscored == [1]
    test = build_dataloader(cfg, "test")
    slow, fast, label, index, valid_mask = next(iter(test))
    assert list(fast.shape) == [2, 6, 3, 8, 56, 56] and index.numpy().reshape(-1).tolist() == [0, 1]
    assert valid_mask.numpy().reshape(-1).tolist() == [True, False]


def test_epoch_batch_sampler_single_process() -> None:
    sampler = EpochBatchSampler(list(range(10)), 4, shuffle=True, drop_last=True, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2 and all(e == 0 for b in batches for _, e in b)
    sampler.set_epoch(5)
    again = list(sampler)
    assert all(e == 5 for b in again for _, e in b)
    assert [i for b in batches for i, _ in b] != [i for b in again for i, _ in b]
    ordered = EpochBatchSampler(list(range(10)), 4, shuffle=False, drop_last=False)
    assert [[i for i, _ in b] for b in ordered] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(ordered) == 3


def test_workers_start_after_opencv_threads_ran(tmp_path, videos, corpus) -> None:
    """A process whose OpenCV thread pool has run forks its workers without deadlocking (cv2.setNumThreads in a
    forked child used to hang waiting for the parent's pool threads)."""
    import subprocess
    import sys
    import textwrap

    config = write_config(tmp_path, videos, corpus)
    script = textwrap.dedent(f"""
        import cv2, numpy as np
        cv2.setNumThreads(2)
        for _ in range(30):
            cv2.resize(np.zeros((256, 340, 3), np.uint8), (400, 300))
        from paddlevideo_slowfast.config import load_config
        from paddlevideo_slowfast.data import build_dataloader
        loader = build_dataloader(load_config({str(config)!r}), "train")
        print("batches", sum(1 for _ in loader))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=str(Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "batches 2" in done.stdout
