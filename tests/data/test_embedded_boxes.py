"""The shape's box in every frame of a generated video: tight around the polygon the renderer paints, and every
pixel the shape changes lies inside it; `embedded_video_boxes` finds a dataset video's boxes from its path."""
from __future__ import annotations

import numpy as np
import pytest

from paddlevideo_slowfast.data.synthetic import (CLASSES, _video_rng, embedded_video_boxes, fill_polygon, render_video,
                                                 shape_boxes, video_plan)
from paddlevideo_slowfast.errors import ConfigError


@pytest.mark.parametrize("name", CLASSES)
def test_boxes_hold_the_painted_shape(name: str) -> None:
    seed = (3, CLASSES.index(name), "val", 1)
    boxes = shape_boxes(name, _video_rng(*seed), 64, 24)
    plan = video_plan(name, _video_rng(*seed), 64, 24)
    frames = render_video(name, _video_rng(*seed), 64, 24).astype(np.float32)
    mask = np.empty((64, 64), np.uint8)
    ys, xs = np.mgrid[0:64, 0:64]
    assert boxes.shape == (24, 4)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        covered = fill_polygon(mask, plan.points(i)) > 0
        inside = (xs >= np.floor(x1) - 1) & (xs <= np.ceil(x2) + 1) & (ys >= np.floor(y1) - 1) & (ys <= np.ceil(y2) + 1)
        assert covered.any() and not (covered & ~inside).any()
        cols, rows = xs[covered], ys[covered]                      # tight: the polygon reaches each side
        for got, want in ((cols.min(), x1), (cols.max(), x2), (rows.min(), y1), (rows.max(), y2)):
            if 0 <= want <= 63:
                assert abs(got - want) <= 2.0                      # anti-aliased edges spread
        changed = np.abs(frames[i] - plan.background).max(axis=-1) > 40     # noise is N(0, 6)
        assert not (changed & ~inside).any()


def test_dataset_video_boxes_from_its_path(tiny_dataset) -> None:
    boxes = embedded_video_boxes(tiny_dataset, "val/blink_slow/0001.mp4")
    want = shape_boxes("blink_slow", _video_rng(0, CLASSES.index("blink_slow"), "val", 1), 32, 24)
    np.testing.assert_array_equal(boxes, want)
    for bad in ("val/jump/0000.mp4", "test/left/0000.mp4", "val/left/x.mp4"):
        with pytest.raises(ConfigError, match="not a video of the embedded dataset"):
            embedded_video_boxes(tiny_dataset, bad)
    with pytest.raises(ConfigError, match="dataset.json"):
        embedded_video_boxes(tiny_dataset / "val", "val/left/0000.mp4")
