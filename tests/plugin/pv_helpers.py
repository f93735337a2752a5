"""Shared by the plugin tests (their conftest makes each of these once per session): the real PaddleVideo imported
from a temporary folder, a tiny PaddleVideo-mode config on the tiny embedded dataset, and one short run of
PaddleVideo's own trainer."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

TINY_PV_CONFIG = "configs/paddlevideo/slowfast_tiny_embedded.yaml"
EPOCHS = 8
BATCH = 4  # 16 training videos: 4 iterations an epoch


def paddlevideo_module(paddlevideo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The `paddlevideo` package with its registries, imported with the cwd in a temporary folder (its logger opens
    `.log.txt` in the cwd at import); skips the test when it does not import."""
    from paddlevideo_slowfast.plugin import PaddleVideoNotFound, import_paddlevideo, registries

    cwd = os.getcwd()
    os.chdir(tmp_path_factory.getbasetemp())
    try:
        module = import_paddlevideo(str(paddlevideo_dir))
        registries(module)  # imports its model, loader and metric packages
    except (PaddleVideoNotFound, ImportError) as exc:
        pytest.skip(f"PaddleVideo at {paddlevideo_dir} does not import: {exc}")
    finally:
        os.chdir(cwd)
    return module


def pv_config(tiny_dataset: Path, repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/paddlevideo/slowfast_tiny_embedded.yaml pointed at the tiny dataset (4 classes), as a PaddleVideo user
    would derive it."""
    data = tiny_dataset
    folder = tmp_path_factory.mktemp("pv_cfg")
    lists = {"train": "train.list", "valid": "val.list", "test": "val.list"}
    modes = "\n".join(f"  {mode}: {{data_prefix: '{data}', file_path: '{data / name}', "
                      f"label_file: '{data / 'label_names.txt'}'}}" for mode, name in lists.items())
    path = folder / "tiny_pv.yaml"
    path.write_text(f"_BASE_: {repo_root / TINY_PV_CONFIG}\n"
                    f"model_name: Tiny\nepochs: {EPOCHS}\nsave_interval: 4\nval_interval: 4\nlog_interval: 4\n"
                    f"output_dir: '{folder / 'output'}'\n"
                    "MODEL: {head: {num_classes: 4}}\n"
                    f"DATASET:\n  batch_size: {BATCH}\n  num_workers: 0\n{modes}\n"
                    "METRIC: {num_classes: 4}\n"
                    "PRECISEBN: {num_iters_preciseBN: 2, preciseBN_interval: 4}\n"
                    f"OPTIMIZER: {{learning_rate: {{max_epoch: {EPOCHS}, warmup_start_lr: 0.001, "
                    "cosine_base_lr: 0.02}}\n")
    return path


def trained(config: Path) -> Dict[str, Any]:
    """One run of PaddleVideo's train_model on the CPU through `python -m paddlevideo_slowfast.pv train`, in process;
    the training losses are read off our recognizer's train_step (PreciseBN's passes, without grad, are not
    counted)."""
    import paddle

    from paddlevideo_slowfast.plugin import PaddleVideoRecognizer3D
    from paddlevideo_slowfast.pv.cli import main

    losses: List[float] = []
    original = PaddleVideoRecognizer3D.train_step

    def recording(self, data_batch):
        out = original(self, data_batch)
        if paddle.is_grad_enabled():
            losses.append(float(out["loss"]))
        return out

    PaddleVideoRecognizer3D.train_step = recording
    try:
        status = main(["train", "-c", str(config), "--device", "cpu", "--validate"])
    finally:
        PaddleVideoRecognizer3D.train_step = original
    return {"status": status, "losses": losses, "output": config.parent / "output", "config": config,
            "epochs": EPOCHS, "iterations_per_epoch": 16 // BATCH}
