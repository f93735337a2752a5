"""Fine-tuning to a new class count: make-list on a folder-per-class tree, `-w` pretrained weights of a 4-class
model, `-o MODEL.head.num_classes=3`: every weight but the classifier comes from the file, the classifier starts
fresh and the log says so, and an epoch trains."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.config import load_config
from paddlevideo_slowfast.data.datasets import read_label_names, read_list

NEW_CLASSES = ["left", "right", "blink_slow"]


def class_tree(tiny_dataset: Path, root: Path) -> Path:
    """ROOT/<class>/<video>.mp4 symlinks to the tiny dataset's train and val videos of three of its classes."""
    names = read_label_names(str(tiny_dataset / "label_names.txt"))
    for split in ("train", "val"):
        for path, label in read_list(str(tiny_dataset / f"{split}.list"), str(tiny_dataset)):
            if names[label] in NEW_CLASSES:
                folder = root / names[label]
                folder.mkdir(parents=True, exist_ok=True)
                os.symlink(path, folder / f"{split}_{Path(path).name}")
    return root


def pretrained_file(cfg, path: Path) -> dict:
    """A 4-class model's weights, every tensor moved off its init so that "loaded" and "fresh" differ."""
    import paddle

    from paddlevideo_slowfast.modeling import build_model

    rng = np.random.default_rng(5)
    state = {k: np.asarray(v) for k, v in build_model(cfg.MODEL, seed=99).state_dict().items()}
    state = {k: (v + rng.uniform(0.01, 0.1, v.shape).astype(v.dtype)) for k, v in state.items()}
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    return state


def test_finetune_to_three_classes(tiny_dataset: Path, tiny_config: Path, tmp_path: Path) -> None:
    from paddlevideo_slowfast.engine.trainer import TrainOptions, Trainer
    from paddlevideo_slowfast.modeling import build_model

    root, lists = class_tree(tiny_dataset, tmp_path / "my_videos"), tmp_path / "my_lists"
    assert main(["make-list", str(root), "--out", str(lists), "--val-split", "0.34"]) == 0
    assert read_label_names(str(lists / "label_names.txt")) == sorted(NEW_CLASSES)
    assert len(read_list(str(lists / "train.list"))) == 12 and len(read_list(str(lists / "val.list"))) == 6

    weights = tmp_path / "pretrained.pdparams"
    pretrained = pretrained_file(load_config(str(tiny_config)), weights)
    data = [f"DATASET.{mode}.{key}={value}" for mode in ("train", "valid", "test")
            for key, value in (("data_prefix", root), ("file_path", lists / ("train.list" if mode == "train"
                                                                              else "val.list")),
                               ("label_file", lists / "label_names.txt"))]
    cfg = load_config(str(tiny_config), data + ["MODEL.head.num_classes=3", "METRIC.num_classes=3", "epochs=1",
                                                f"METRIC.label_names={lists / 'label_names.txt'}"])
    out = tmp_path / "run"
    trainer = Trainer(cfg, TrainOptions(weights=str(weights), validate=True, output=str(out)))

    loaded = {k: np.asarray(v) for k, v in trainer.model.state_dict().items()}
    fresh = {k: np.asarray(v) for k, v in build_model(cfg.MODEL, seed=trainer.seed).state_dict().items()}
    head = {k for k in loaded if k.startswith("head.projection.")}
    assert head == {"head.projection.weight", "head.projection.bias"} and loaded.keys() == pretrained.keys()
    for key in loaded.keys() - head:
        np.testing.assert_array_equal(loaded[key], pretrained[key], err_msg=key)
    for key in head:
        assert loaded[key].shape[-1] == 3 and pretrained[key].shape[-1] == 4
        np.testing.assert_array_equal(loaded[key], fresh[key], err_msg=key)   # the trainer's own init
    assert "classifier has 4 classes, the model 3" in (out / "train.log").read_text()

    summary = trainer.run()
    assert np.isfinite(summary["train"]["loss"]) and summary["valid"]["scored"] == 6
    assert (out / "Tiny_epoch_00001.pdparams").is_file()
    log = (out / "train.log").read_text()
    assert "epoch 1/1 iter 6/6" in log
