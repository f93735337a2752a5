"""Grad-CAM's arithmetic: the hooked stage output and its weighting, upsampling in time and space, box masses."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.errors import ConfigError
from paddlevideo_slowfast.explain.box_mass import box_area_share, box_mass_share, box_masks
from paddlevideo_slowfast.explain.gradcam import frame_positions, grad_cam, upsample_cam

MODEL = {"framework": "Recognizer3D",
         "backbone": {"name": "ResNetSlowFast", "depth": 10, "width_per_group": 8, "alpha": 4, "beta": 4},
         "head": {"name": "SlowFastHead", "num_classes": 3, "num_frames": 8, "crop_size": 32, "dropout_rate": 0.0}}


@pytest.fixture(scope="module")
def model():
    from paddlevideo_slowfast.modeling import build_model

    model = build_model(MODEL)
    model.eval()
    return model


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(1)
    slow, fast = rng.standard_normal((3, 2, 32, 32)), rng.standard_normal((3, 8, 32, 32))
    return slow.astype(np.float32), fast.astype(np.float32)


def test_grad_cam_is_relu_of_gradient_weighted_last_stage(model, clip) -> None:
    import paddle

    slow, fast = clip
    cam = grad_cam(model, slow, fast, target=2)
    features = model.backbone([paddle.to_tensor(slow[None]), paddle.to_tensor(fast[None])])
    for f in features:
        f.stop_gradient = False
    score = model.head.position_logits(features).mean(axis=[1, 2, 3])[0, 2]
    grads = paddle.grad(score, features)
    assert cam.pathways == ["slow", "fast"] and cam.target == 2
    for a, g, got in zip(features, grads, cam.maps):
        weights = g.numpy()[0].mean(axis=(1, 2, 3))
        want = np.maximum(np.tensordot(weights, a.numpy()[0], axes=1), 0)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * float(np.abs(want).max() + 1))
    with paddle.no_grad():
        probabilities = model([paddle.to_tensor(slow[None]), paddle.to_tensor(fast[None])], mode="infer").numpy()[0]
    np.testing.assert_allclose(cam.probabilities, probabilities, rtol=1e-5)


def test_top_class_by_default_and_other_layers(model, clip) -> None:
    cam = grad_cam(model, *clip)
    assert cam.target == int(np.argmax(cam.probabilities))
    early = grad_cam(model, *clip, layer="s3")
    assert [m.shape for m in early.maps] == [(2, 4, 4), (8, 4, 4)]  # res3: 1/8 of 32 px
    with pytest.raises(ConfigError, match="--layer"):
        grad_cam(model, *clip, layer="s9")
    with pytest.raises(ConfigError, match="out of range"):
        grad_cam(model, *clip, target=3)


def test_upsample_in_time_follows_the_pathway_frames() -> None:
    cam = np.zeros((2, 1, 1), np.float32)
    cam[1] = 1.0                                       # Slow frames 0 and 7 of 8: 0 at frame 0, 1 at frame 7
    positions = frame_positions("slow", 8, 4)
    assert positions.tolist() == [0, 7]
    up = upsample_cam(cam, positions, 8, (4, 6))
    assert up.shape == (8, 4, 6)
    np.testing.assert_allclose(up[:, 0, 0], np.arange(8) / 7, atol=1e-6)
    assert frame_positions("fast", 8, 4).tolist() == list(range(8))


def test_upsample_in_space_keeps_the_hot_quadrant() -> None:
    cam = np.zeros((1, 2, 2), np.float32)
    cam[0, 0, 1] = 1.0                                 # top right
    up = upsample_cam(cam, np.array([0]), 3, (16, 16))
    assert up.shape == (3, 16, 16)
    assert up[:, :8, 8:].sum() > 0.5 * up.sum()


def test_box_mass_and_area() -> None:
    boxes = np.array([[2.0, 2.0, 5.0, 5.0], [0.0, 0.0, 3.0, 3.0]])    # 4x4 pixel centres each
    masks = box_masks(boxes, (8, 8), dilation=1.0)
    assert masks.shape == (2, 8, 8) and masks.sum(axis=(1, 2)).tolist() == [16, 16]
    assert box_area_share(masks) == pytest.approx(16 / 64)
    cam = np.zeros((2, 8, 8))
    cam[0, 3, 3], cam[1, 7, 7] = 3.0, 1.0
    assert box_mass_share(cam, masks) == pytest.approx(0.75)
    assert np.isnan(box_mass_share(np.zeros((2, 8, 8)), masks))
    dilated = box_masks(boxes[:1], (8, 8))                              # 1.25x: 4.75 px wide about 3.5
    assert dilated.sum() == 16                                          # centres 1.125..5.875 -> still 2..5
    assert box_masks(boxes[:1], (8, 8), dilation=2.0).sum() == 36      # 0.5..6.5 -> 1..6
