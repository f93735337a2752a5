"""`paddlevideo explain` on a detector: one set of pictures per person box (RoI) and keyframe, one scores JSON per
video, and maps that tell the boxes apart (HiResCAM: mass on the RoI's own box, not on the other's; Grad-CAM gives
two boxes scored for one action the same map, which is why it is not the detection default)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.explain.box_mass import box_mass_share, box_masks

SIZE, FRAMES = 64, 60                                    # 2 s at 30 fps: keyframes at 0 and 1 s
BOXES = [[0.0625, 0.10, 0.5, 0.40], [0.56, 0.56, 0.9, 0.9]]   # normalised x1, y1, x2, y2 of the two shapes
CLIP_LEN = 8                                             # the tiny AVA config's sampler


@pytest.fixture(scope="module")
def cfg(tiny_ava_config: Path):
    from paddlevideo_slowfast.config import load_config

    return load_config(str(tiny_ava_config))


@pytest.fixture(scope="module")
def model(cfg):
    """The tiny detector with every BatchNorm's scale and statistics drawn at random, as after training (the
    zero-initialised last BN of each block would leave a pathway's map all zero)."""
    import paddle

    from paddlevideo_slowfast.modeling import build_model

    model = build_model(cfg.MODEL)
    rng = np.random.default_rng(3)
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm3D):
            c = layer._mean.shape[0]
            layer.weight.set_value(rng.uniform(0.5, 1.5, c).astype(np.float32))
            layer._mean.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
            layer._variance.set_value((rng.random(c) + 0.5).astype(np.float32))
    model.eval()
    return model


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Two shapes on noise: a red square moving right (top left), a cyan one blinking (bottom right)."""
    from paddlevideo_slowfast.data.video_writer import write_video

    rng = np.random.default_rng(0)
    frames = rng.normal(90, 6, (FRAMES, SIZE, SIZE, 3)).clip(0, 255).astype(np.uint8)
    for t in range(FRAMES):
        x = int(6 + t * 0.2)
        frames[t, 8:24, x:x + 16] = (230, 60, 40)
        if (t // 4) % 2 == 0:
            frames[t, 38:56, 38:56] = (40, 200, 230)
    folder = tmp_path_factory.mktemp("two_people")
    write_video(folder / "two.mp4", frames, fps=30)
    (folder / "boxes.csv").write_text("".join(f"two,1,{','.join(map(str, b))}\n" for b in BOXES))
    return folder / "two.mp4"




def test_explain_writes_one_set_per_box_and_a_scores_file(tiny_ava_config, model, clip, tmp_path, capsys,
                                                           read_frames) -> None:
    import paddle

    weights = tmp_path / "det.pdparams"
    paddle.save(model.state_dict(), str(weights))
    out = tmp_path / "cam"
    assert main(["explain", "-c", str(tiny_ava_config), "-w", str(weights), "--video", str(clip),
                 "--boxes", str(clip.with_name("boxes.csv")), "--keyframe", "1", "--target-class", "move_right",
                 "--top-k", "3", "--out", str(out), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["timestamp"], r["roi"]) for r in records] == [(1.0, 0), (1.0, 1)]
    scores = json.loads((out / "two_scores.json").read_text())
    assert scores["method"] == "hirescam" and scores["layer"] == "s5" and len(scores["rois"]) == 2
    for record, saved, box in zip(records, scores["rois"], BOXES):
        assert record["box"] == pytest.approx(box) and saved["box"] == record["box"]
        assert record["target"]["label"] == "move_right" and len(record["actions"]) == 3
        assert [a["score"] for a in record["actions"]] == sorted((a["score"] for a in record["actions"]), reverse=True)
        assert len(record["frames"]) == CLIP_LEN
        stem = f"two_t1_roi{record['roi']}"
        assert record["files"] == {"slow": str(out / f"{stem}_slow.mp4"), "fast": str(out / f"{stem}_fast.mp4"),
                                   "strip": str(out / f"{stem}_gradcam.png"),
                                   "scores": str(out / "two_scores.json")}
        for pathway in ("slow", "fast"):
            assert read_frames(record["files"][pathway]).shape == (CLIP_LEN, 192, 192, 3)   # 64 px scaled 3x
        assert cv2.imread(record["files"]["strip"]).shape == (3 * (128 + 2), 64 + 8 * (128 + 2), 3)  # 64 px x2


def test_each_box_gets_its_own_map(cfg, model, clip) -> None:
    from paddlevideo_slowfast.explain.detection_run import DetectionExplainer

    rois = list(DetectionExplainer(cfg, model=model).explain(clip, str(clip.with_name("boxes.csv"))))
    assert [(r.timestamp, r.index) for r in rois] == [(1.0, 0), (1.0, 1)]            # every keyframe with boxes
    np.testing.assert_allclose(rois[0].pixels, np.array(BOXES[0]) * SIZE, atol=0.5)  # the shown frames' pixels
    for roi in rois:
        assert roi.cam.target == 1 + int(np.argmax(roi.cam.probabilities[1:]))       # its top action
    for own, other in ((rois[0], rois[1]), (rois[1], rois[0])):
        for name, cam in own.maps.items():
            assert cam.shape == (CLIP_LEN, SIZE, SIZE) and np.isfinite(cam).all() and cam.min() >= 0
            assert cam.sum() > 0 and not np.allclose(cam, other.maps[name])
            mine = box_mass_share(cam, box_masks(np.repeat(own.pixels[None], CLIP_LEN, 0), (SIZE, SIZE)))
            theirs = box_mass_share(cam, box_masks(np.repeat(other.pixels[None], CLIP_LEN, 0), (SIZE, SIZE)))
            assert mine > 0.6 and theirs < 0.05, (own.index, name, mine, theirs)


def test_grad_cam_cannot_tell_boxes_scored_for_one_action_apart(cfg, model, clip) -> None:
    from paddlevideo_slowfast.explain.detection_run import DetectionExplainer

    explainer = DetectionExplainer(cfg, model=model, method="gradcam")
    shown = 0
    for column in range(1, model.num_classes):
        first, second = explainer.explain(clip, str(clip.with_name("boxes.csv")), target=column)
        for name in first.maps:
            shown += first.maps[name].sum() > 0
            np.testing.assert_allclose(first.maps[name], second.maps[name], rtol=1e-4,
                                       atol=1e-5 * float(first.maps[name].max()) + 1e-12)
    assert shown >= 4   # not all ReLU-zero: equal maps that show something


def test_boxes_from_a_person_detector_and_chosen_keyframes(cfg, model, clip) -> None:
    from paddlevideo_slowfast.errors import ConfigError
    from paddlevideo_slowfast.explain.detection_run import DetectionExplainer

    seen = []

    def people(image: np.ndarray) -> np.ndarray:       # a person detector: the keyframe in, [n, 5] boxes out
        seen.append(image.shape)
        return np.array([[*BOXES[1], 0.95], [*BOXES[0], 0.3]])

    explainer = DetectionExplainer(cfg, model=model)
    rois = list(explainer.explain(clip, people, keyframes=[1.0], det_threshold=0.5))
    assert seen == [(SIZE, SIZE, 3)] and [(r.timestamp, r.box, r.person_score) for r in rois] == [(1.0, BOXES[1], 0.95)]
    with pytest.raises(ConfigError, match="--keyframe"):
        list(explainer.explain(clip, people, keyframes=[1.5]))
    with pytest.raises(ConfigError, match="no person boxes"):
        list(explainer.explain(clip, str(clip.with_name("boxes.csv")), keyframes=[0.0]))
