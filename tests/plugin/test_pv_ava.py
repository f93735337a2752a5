"""The AVA detector in the real PaddleVideo: `python -m paddlevideo_slowfast.pv train|test|export` on the tiny generated
detection set runs PaddleVideo's own trainer (its FastRCNN validation), tester (its AVAMetric calls) and exporter
with our detector, dataset and metric; checkpoints cross between the two trainers with the same detections and
mAP; PaddleVideo's calling conventions (bare indices, arrival order, the literal framework name) are met."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

PV_AVA_CONFIG = "configs/paddlevideo/ava_slowfast_tiny_embedded.yaml"
MAP = "mAP@0.5IOU"
VAL_KEYFRAMES = 3      # tiny_ava_dataset: 2 validation videos x 2 keyframes, one excluded
TRAIN_STEPS = 3        # 7 training keyframes in batches of 2, the last dropped (PaddleVideo's drop_last)


def _pv_ava_config(data: Path, repo_root: Path, folder: Path) -> Path:
    """The shipped PaddleVideo-format AVA config pointed at the tiny generated set, one epoch, smaller sizes."""
    notes = data / "annotations"
    split = {"train": "train", "valid": "val", "test": "val"}
    modes = "\n".join(
        f"  {mode}: {{data_prefix: '{data / 'videos'}', file_path: '{notes / f'ava_{name}.csv'}', "
        f"exclude_file: '{notes / f'ava_{name}_excluded_timestamps.csv'}', "
        f"proposal_file: '{notes / f'ava_dense_proposals_{name}.pkl'}', "
        f"label_file: '{notes / 'ava_action_list.pbtxt'}', timestamp_end: 905}}" for mode, name in split.items())
    norm = "Normalize: {mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], to_bgr: False}"
    pipeline = []
    for mode in split:
        scale = (["RandomRescale: {scale_range: [64, 72]}", "RandomCrop_v2: {size: 64}"] if mode == "train"
                 else ["Rescale: {scale_range: [-1, 64]}"])
        pipeline += [f"  {mode}:", "    sampler: {clip_len: 8}", "    transform:",
                     *(f"      - {t}" for t in (*scale, norm, "PackOutput: {alpha: 4}"))]
    path = folder / "tiny_pv_ava.yaml"
    path.write_text(f"_BASE_: {repo_root / PV_AVA_CONFIG}\n"
                    "model_name: TinyAVA\nepochs: 1\nsave_interval: 1\nval_interval: 1\nlog_interval: 1\n"
                    f"output_dir: '{folder / 'output'}'\n"
                    "MODEL: {head: {bbox_roi_extractor: {output_size: 2}, sampler: {num: 4}}}\n"
                    "DATASET:\n  batch_size: 2\n  valid_batch_size: 2\n  test_batch_size: 1\n  num_workers: 0\n"
                    f"  embedded: null\n{modes}\n"
                    "PIPELINE:\n" + "\n".join(pipeline) + "\n"
                    f"METRIC: {{file_path: '{notes / 'ava_val.csv'}', "
                    f"exclude_file: '{notes / 'ava_val_excluded_timestamps.csv'}', "
                    f"label_file: '{notes / 'ava_action_list.pbtxt'}'}}\n"
                    "OPTIMIZER: {learning_rate: {warmup_epochs: 1, max_epoch: 1}}\n"
                    "INFERENCE: {num_frames: 8, target_size: 64}\n")
    return path


@pytest.fixture(scope="module")
def config(paddlevideo, tiny_ava_dataset, repo_root, tmp_path_factory) -> Path:
    return _pv_ava_config(tiny_ava_dataset, repo_root, tmp_path_factory.mktemp("pv_ava"))


@pytest.fixture(scope="module")
def pv_trained(config) -> Dict[str, Any]:
    """PaddleVideo's train_model, one epoch with validation, through `pv train --device cpu`, in process."""
    import paddle

    from paddlevideo_slowfast.plugin.detection import PaddleVideoAVADataset, PaddleVideoFastRCNN
    from paddlevideo_slowfast.pv.cli import main

    losses: List[float] = []
    validations: List[Dict[str, float]] = []
    train_step, evaluate = PaddleVideoFastRCNN.train_step, PaddleVideoAVADataset.evaluate

    def recording_step(self, data_batch):
        out = train_step(self, data_batch)
        if paddle.is_grad_enabled():
            losses.append(float(out["loss"]))
        return out

    def recording_evaluate(self, results, output_dir=None):
        validations.append(evaluate(self, results, output_dir))
        return validations[-1]

    PaddleVideoFastRCNN.train_step, PaddleVideoAVADataset.evaluate = recording_step, recording_evaluate
    try:
        status = main(["train", "-c", str(config), "--device", "cpu", "--validate"])
    finally:
        PaddleVideoFastRCNN.train_step, PaddleVideoAVADataset.evaluate = train_step, evaluate
    return {"status": status, "losses": losses, "validations": validations, "output": config.parent / "output"}


def pv_test(config: Path, weights: Path) -> Dict[str, Any]:
    """PaddleVideo's test_model through `pv test`: what our AVAMetric accumulated there, and its detections."""
    from paddlevideo_slowfast.metrics.ava import AVAMetric
    from paddlevideo_slowfast.pv.cli import main

    seen: List[Dict[str, Any]] = []
    accumulate = AVAMetric.accumulate

    def recording(self):
        result = accumulate(self)
        seen.append({**result, "table": self.detections, "clips": sorted(self.clips)})
        return result

    AVAMetric.accumulate = recording
    try:
        assert main(["test", "-c", str(config), "-w", str(weights), "--device", "cpu"]) == 0
    finally:
        AVAMetric.accumulate = accumulate
    result, = seen
    return result


def our_test(config: Path, weights: Path, out: Path, capsys) -> Dict[str, Any]:
    """Our `paddlevideo test --json`: its result and the detections CSV it wrote."""
    from paddlevideo_slowfast.cli import main
    from paddlevideo_slowfast.metrics.ava.results_csv import read_results

    capsys.readouterr()
    assert main(["test", "-c", str(config), "-w", str(weights), "--output", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    result["table"] = read_results(out / "detections.csv").table
    return result


def assert_same_scores(theirs: Dict[str, Any], ours: Dict[str, Any]) -> None:
    assert theirs[MAP] == ours[MAP] and math.isfinite(ours[MAP])
    assert {str(k): v for k, v in theirs["per_class"].items()} == ours["per_class"]
    assert theirs["keyframes"] == ours["keyframes"] == VAL_KEYFRAMES
    assert theirs["detections"] == ours["detections"] > 0
    a, b = theirs["table"], ours["table"]
    assert a.video_id.tolist() == b.video_id.tolist() and a.timestamp.tolist() == b.timestamp.tolist()
    assert a.action_id.tolist() == b.action_id.tolist()
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-6)
    np.testing.assert_allclose(a.score, b.score, atol=1e-6)  # scores as the result CSV writes them (6 places)


def test_paddlevideo_trainer_trains_validates_and_saves(pv_trained, config, tmp_path, capsys):
    assert pv_trained["status"] == 0
    assert len(pv_trained["losses"]) == TRAIN_STEPS and all(math.isfinite(x) for x in pv_trained["losses"])
    names = sorted(p.name for p in pv_trained["output"].glob("*.pd*"))
    assert names == sorted(f"TinyAVA_{stem}.{ext}" for stem in ("best", "epoch_00001") for ext in ("pdparams", "pdopt"))
    validation, = pv_trained["validations"]
    assert list(validation) == [MAP]  # PaddleVideo's record takes no other key from dataset.evaluate
    ours = our_test(config, pv_trained["output"] / "TinyAVA_epoch_00001.pdparams", tmp_path, capsys)
    assert validation[MAP] == ours[MAP]  # its validation (batches of 2, arrival order) = our test (same split)


def test_paddlevideo_test_of_its_checkpoint_matches_our_test(pv_trained, config, tmp_path, capsys):
    weights = pv_trained["output"] / "TinyAVA_epoch_00001.pdparams"
    theirs = pv_test(config, weights)
    assert theirs["clips"] == list(range(VAL_KEYFRAMES))  # test batch 1: every clip once, by its index
    assert_same_scores(theirs, our_test(config, weights, tmp_path, capsys))


def test_our_trainers_checkpoint_in_paddlevideos_test(pv_trained, config, tmp_path, capsys):
    from paddlevideo_slowfast.cli import main

    out = tmp_path / "ours"
    assert main(["train", "-c", str(config), "--validate", "--output", str(out)]) == 0
    weights = out / "TinyAVA_epoch_00001.pdparams"
    ours = our_test(config, weights, tmp_path / "test", capsys)
    theirs = pv_test(config, weights)
    assert_same_scores(theirs, ours)
    valid = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r[MAP] for r in valid if r["kind"] == "valid"] == [pytest.approx(theirs[MAP], abs=1e-9)]
    # the two trainers' weights differ (different item draws), yet each is scored the same by both testers
    assert not np.array_equal(theirs["table"].score, pv_test(config, pv_trained["output"] /
                                                              "TinyAVA_epoch_00001.pdparams")["table"].score)


def test_validation_scores_items_by_their_index_in_any_arrival_order(paddlevideo, registration, config, pv_trained):
    """PaddleVideo gathers validation results across ranks by interleaving items, the sampler's order only at
    batch 1: tagged detections score the same in any order; untagged ones are taken in dataset order."""
    import paddle

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data.loader import build_dataloader
    from paddlevideo_slowfast.interop.weights import load_weights
    from paddlevideo_slowfast.plugin import route_config
    from paddlevideo_slowfast.plugin.detection import ItemDetections
    from paddlevideo_slowfast.plugin.importer import submodule
    from paddlevideo_slowfast.pv.framework import literal, routed

    cfg = load_config(str(config))
    route_config(cfg, registration.names)
    build = routed(submodule(paddlevideo, "modeling.builder").build_model, literal(cfg, registration.names))
    model = build(cfg.MODEL)
    load_weights(model, str(pv_trained["output"] / "TinyAVA_epoch_00001.pdparams"), allow_head_reinit=False)
    model.eval()
    dataset = submodule(paddlevideo, "loader.builder").build_dataset((cfg.DATASET.valid, cfg.PIPELINE.valid))
    loader = build_dataloader(load_config(str(config)), "valid")
    with paddle.no_grad():
        results = [item for batch in loader for item in model(batch, mode="valid")]
    assert all(isinstance(r, ItemDetections) for r in results) and [r.item for r in results] == [0, 1, 2]
    in_order = dataset.evaluate(results)[MAP]
    assert dataset.evaluate(results[::-1])[MAP] == in_order
    assert dataset.evaluate([list(r) for r in results])[MAP] == in_order  # untagged: dataset order


def test_training_items_draw_fresh_crops_under_bare_indices(paddlevideo, registration, config):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.plugin import route_config
    from paddlevideo_slowfast.plugin.detection import PaddleVideoAVADataset
    from paddlevideo_slowfast.plugin.importer import submodule

    cfg = load_config(str(config), ["PIPELINE.train.transform.0.RandomRescale.scale_range=[64, 96]"])
    route_config(cfg, registration.names)
    dataset = submodule(paddlevideo, "loader.builder").build_dataset((cfg.DATASET.train, cfg.PIPELINE.train))
    assert type(dataset) is PaddleVideoAVADataset
    np.random.seed(0)
    draws = [dataset[0][2][:dataset[0][9]] for _ in range(4)]  # proposals in crop pixels, one bare index
    assert any(not np.array_equal(draws[0], d) for d in draws[1:])
    np.testing.assert_array_equal(dataset[(0, 3)][0], dataset[(0, 3)][0])  # an explicit (index, epoch) stays fixed


def test_paddlevideo_export_gives_the_models_detections(pv_trained, config, tmp_path):
    import paddle
    import paddle.inference as pi

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data.loader import build_dataloader
    from paddlevideo_slowfast.interop.weights import load_weights
    from paddlevideo_slowfast.modeling import build_model
    from paddlevideo_slowfast.modeling.detection.batch import IMG_SHAPE, PROPOSALS
    from paddlevideo_slowfast.pv.cli import main

    weights = pv_trained["output"] / "TinyAVA_epoch_00001.pdparams"
    out = tmp_path / "inference"
    assert main(["export", "-c", str(config), "-p", str(weights), "-o", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["TinyAVA.json", "TinyAVA.pdiparams"]
    settings = pi.Config(str(out / "TinyAVA.json"), str(out / "TinyAVA.pdiparams"))
    settings.disable_gpu()
    predictor = pi.create_predictor(settings)
    assert predictor.get_input_names() == ["slow_input", "fast_input", "proposals", "img_shape"]

    cfg = load_config(str(config))
    model = build_model(cfg.MODEL)
    load_weights(model, str(weights), allow_head_reinit=False)
    model.eval()
    batch = next(iter(build_dataloader(cfg, "test")))                 # one clip: [1, ...]
    count = int(batch[9].numpy().reshape(-1)[0])
    proposals = batch[PROPOSALS].numpy()[:, :count]
    inputs = [batch[0].numpy(), batch[1].numpy(), proposals, batch[IMG_SHAPE].numpy().astype("float32")]
    for name, value in zip(predictor.get_input_names(), inputs):
        predictor.get_input_handle(name).copy_from_cpu(np.ascontiguousarray(value))
    predictor.run()
    outputs = [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]
    with paddle.no_grad():
        expected, = model(batch, mode="test")                          # per class, rows above action_thr 0.0
    assert len(outputs) == len(expected) == cfg.MODEL.head.bbox_head.num_classes - 1
    for got, want in zip(outputs, expected):
        assert got.shape == (count, 5) and len(want) == count
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_suffixed_framework_name_is_set_back_and_builds_ours(paddlevideo, registration, config):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.plugin import route_config
    from paddlevideo_slowfast.plugin.detection import PaddleVideoFastRCNN
    from paddlevideo_slowfast.plugin.importer import submodule
    from paddlevideo_slowfast.pv.framework import literal, routed

    build_model = submodule(paddlevideo, "modeling.builder").build_model
    cfg = load_config(str(config), ["MODEL.framework=FastRCNN_PVSF"])
    route_config(cfg, registration.names)
    assert cfg.MODEL.head.assigner.name == "MaxIoUAssignerAVA_PVSF" and cfg.MODEL.framework == "FastRCNN_PVSF"
    registered = literal(cfg, registration.names)
    assert registered == "FastRCNN_PVSF" and cfg.MODEL.framework == "FastRCNN"  # what PaddleVideo's loops test
    model = routed(build_model, registered)(cfg.MODEL)
    assert type(model) is PaddleVideoFastRCNN and cfg.MODEL.framework == "FastRCNN"
    assert type(model.roi_head.bbox_sampler).__module__.startswith("paddlevideo_slowfast.")
    assert literal(load_config(str(config)), registration.names, plain_is_ours=False) is None  # --no-route


def test_the_ava_config_reads_the_same_in_paddlevideo_and_routes_every_part(paddlevideo, registration, repo_root):
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.plugin import route_config
    from paddlevideo_slowfast.plugin.importer import submodule

    path = repo_root / PV_AVA_CONFIG
    ours = load_config(str(path))
    assert ours.to_dict() == submodule(paddlevideo, "utils.config").get_config(str(path), show=False)
    renamed = {key: new for key, _, new in route_config(ours, registration.names)}
    assert "MODEL.framework" not in renamed and ours.MODEL.framework == "FastRCNN"
    assert {renamed[f"MODEL.head.{part}.name"] for part in ("bbox_roi_extractor", "bbox_head", "assigner", "sampler")} \
        == {"SingleRoIExtractor3D_PVSF", "BBoxHeadAVA_PVSF", "MaxIoUAssignerAVA_PVSF", "RandomSampler_PVSF"}
    assert renamed["MODEL.head.name"] == "AVARoIHead_PVSF" and renamed["METRIC.name"] == "AVAMetric_PVSF"
    assert {renamed[f"DATASET.{mode}.format"] for mode in ("train", "valid", "test")} == {"AVADataset_PVSF"}
