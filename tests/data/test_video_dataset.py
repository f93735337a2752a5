"""SFVideoDataset: the list format, item layouts per mode, and bad videos (train substitutes and counts; valid
and test never substitute and report the video unscored)."""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest

from paddlevideo_slowfast.data import SFVideoDataset, read_label_names, read_list
from paddlevideo_slowfast.errors import ConfigError, VideoDecodeError
from video_corpus import TEST, TRAIN


@pytest.fixture
def lists(tmp_path, videos, corpus):
    """A data folder with two good and two bad videos listed: good, bad, good, bad."""
    root = tmp_path / "data"
    (root / "clips").mkdir(parents=True)
    for name in ("main", "portrait"):
        (root / "clips" / f"{name}.mp4").symlink_to(videos[name])
    (root / "clips" / "text.mp4").symlink_to(corpus["text"])
    listing = root / "all.list"
    listing.write_text("clips/main.mp4 0\nclips/text.mp4 1\n\n# a comment\nclips/portrait.mp4 2\n"
                       "clips/missing.mp4 3\n")
    return root, listing


def make(lists, mode, **kw):
    root, listing = lists
    pipeline = TEST if mode == "test" else TRAIN
    return SFVideoDataset(str(listing), copy.deepcopy(pipeline), data_prefix=str(root), mode=mode, seed=7, **kw)


def test_read_list_and_label_names(tmp_path, lists) -> None:
    root, listing = lists
    items = read_list(str(listing), str(root))
    assert [(Path(p).name, label) for p, label in items] == [("main.mp4", 0), ("text.mp4", 1), ("portrait.mp4", 2),
                                                              ("missing.mp4", 3)]
    bad = tmp_path / "bad.list"
    bad.write_text("a.mp4 0\nb.mp4 zero\n")
    with pytest.raises(ConfigError, match="line 2") as err:
        read_list(str(bad))
    assert err.value.file == str(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        read_list(str(tmp_path / "none.list"))
    names = tmp_path / "names.txt"
    names.write_text("left\nright\n")
    assert read_label_names(str(names)) == ["left", "right"]
    names.write_text("0 abseiling\n1 air drumming\n")
    assert read_label_names(str(names)) == ["abseiling", "air drumming"]


def test_train_items_are_deterministic_per_seed_epoch_index(lists) -> None:
    dataset = make(lists, "train")
    slow, fast, label = dataset[0]
    assert slow.shape == (3, 2, 56, 56) and fast.shape == (3, 8, 56, 56) and fast.dtype == np.float32
    assert label.dtype == np.int64 and label.tolist() == [0]
    np.testing.assert_array_equal(dataset[(0, 0)][1], fast)
    assert not np.array_equal(dataset[(0, 1)][1], fast)       # another epoch, another crop/window
    dataset.set_epoch(1)
    np.testing.assert_array_equal(dataset[0][1], dataset[(0, 1)][1])


def test_train_substitutes_a_bad_video_and_counts_it(lists, caplog) -> None:
    dataset = make(lists, "train")
    with caplog.at_level(logging.WARNING, logger="paddlevideo_slowfast.data"):
        for epoch in range(3):
            slow, fast, label = dataset[(1, epoch)]                # text.mp4: not a video
            assert fast.shape == (3, 8, 56, 56) and label.tolist()[0] in (0, 2)
        dataset[(3, 0)]                                             # missing file
    paths = [Path(p).name for p, _ in dataset.bad_videos]
    assert set(paths) >= {"text.mp4", "missing.mp4"} and dataset.bad_count == len(paths)
    assert dataset.substitutions >= 4 and dataset.unscored == []
    reasons = dict((Path(p).name, r) for p, r in dataset.bad_videos)
    assert "no such file" in reasons["missing.mp4"]
    assert sum("text.mp4" in r.message for r in caplog.records) == 1  # logged once, counted every time


def test_train_gives_up_when_everything_is_bad(tmp_path) -> None:
    listing = tmp_path / "bad.list"
    listing.write_text("nope1.mp4 0\nnope2.mp4 1\n")
    dataset = SFVideoDataset(str(listing), copy.deepcopy(TRAIN), data_prefix=str(tmp_path), num_retries=3)
    with pytest.raises(VideoDecodeError, match="3 videos in a row"):
        dataset[0]
    assert dataset.substitutions == 3


def test_valid_never_substitutes(lists) -> None:
    dataset = make(lists, "valid")
    slow, fast, label, valid = dataset[0]
    assert valid.tolist() == [True] and fast.shape == (3, 8, 56, 56)
    slow, fast, label, valid = dataset[1]
    assert valid.tolist() == [False] and label.tolist() == [1]
    assert not fast.any() and fast.shape == (3, 8, 56, 56) and slow.shape == (3, 2, 56, 56)
    assert dataset.unscored == [1] and dataset.substitutions == 0 and dataset.bad_count == 1


def test_test_items_carry_every_view_of_a_video(lists) -> None:
    dataset = make(lists, "test", num_ensemble_views=2, num_spatial_crops=3)
    assert len(dataset) == 4
    slow, fast, label, index, valid = dataset[2]
    assert fast.shape == (6, 3, 8, 56, 56) and slow.shape == (6, 3, 2, 56, 56)
    assert label.tolist() == [2] and index.tolist() == [2] and valid.tolist() == [True]
    slow, fast, label, index, valid = dataset[3]
    assert valid.tolist() == [False] and index.tolist() == [3] and fast.shape == (6, 3, 8, 56, 56)
    assert dataset.unscored == [3]


def test_test_per_view_items_as_paddlevideo(lists) -> None:
    dataset = make(lists, "test", num_ensemble_views=2, num_spatial_crops=3, decode_once=False)
    assert len(dataset) == 4 * 6
    once = make(lists, "test", num_ensemble_views=2, num_spatial_crops=3)[0]
    for view in range(6):
        slow, fast, label, index, valid = dataset[view]
        assert index.tolist() == [view] and valid.tolist() == [True]
        np.testing.assert_array_equal(fast, once[1][view])


def test_flip_swaps_mirror_image_labels(lists) -> None:
    pipeline = copy.deepcopy(TRAIN)
    pipeline["transform"][2] = {"RandomFlip": {"p": 1.0, "label_pairs": [[0, 5]]}}
    root, listing = lists
    dataset = SFVideoDataset(str(listing), pipeline, data_prefix=str(root))
    assert dataset[0][2].tolist() == [5]


def test_precise_bn_subset(tmp_path, videos) -> None:
    """The subset is drawn per epoch from (seed, epoch): item k is the subset's k-th video, with its label."""
    listing = tmp_path / "good.list"
    listing.write_text(f"{videos['main']} 4\n{videos['portrait']} 9\n")
    dataset = SFVideoDataset(str(listing), copy.deepcopy(TRAIN), num_samples_precise_bn=1, seed=7)
    assert len(dataset) == 1
    labels = set()
    for epoch in range(6):
        chosen = int(np.random.default_rng([7, epoch, 0xB4]).permutation(2)[0])
        label = dataset[(0, epoch)][2].tolist()
        assert label == [(4, 9)[chosen]]
        labels.add(label[0])
    assert labels == {4, 9}                                    # reshuffled on some pass


def test_unknown_mode(lists) -> None:
    with pytest.raises(ConfigError, match="mode"):
        make(lists, "eval")
