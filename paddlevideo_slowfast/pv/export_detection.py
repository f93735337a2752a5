"""PaddleVideo's export of the AVA detector (`model_name: AVA_SlowFast_FastRcnn` in its tools/export_model.py):
inputs `slow_input`, `fast_input`, `proposals` [N, P, 4] (pixels of the clip) and `img_shape` [N, 2] (h, w),
float32, as its `get_input_spec` gives them; outputs as its exported FastRCNN: one [R, 5] tensor per action class
1..num_classes-1 (each RoI's box normalised by its clip's img_shape, then its probability of that class).

Two departures, both deliberate. Its spec fixes H and W at `INFERENCE.target_size`, while its own inference helper
feeds the test pipeline's clip (short side `target_size`, aspect kept): here H and W are dynamic. And its graph keeps
only rows above `action_thr` (its 0-D index_select, which fails on Paddle 3) and only the first clip's proposals;
here every RoI of every clip keeps its row (R = N x P), which is what its predict script reads (row j is person j)
before applying `action_thr` itself.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import paddle
from paddle import nn

SPEC_MODEL_NAME = "AVA_SlowFast_FastRcnn"  # the model_name PaddleVideo's get_input_spec knows for the AVA detector
INPUT_NAMES = ("slow_input", "fast_input", "proposals", "img_shape")


class PerClassDetections(nn.Layer):
    """A FastRCNN of ours as PaddleVideo's exported detector: see the module docstring."""

    def __init__(self, detector: nn.Layer):
        super().__init__()
        self.detector = detector

    def forward(self, inputs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        slow, fast, proposals, img_shape = inputs
        rois = proposals.reshape([-1, 4])                                               # [R, 4], R = N x P
        rois_num = paddle.sum(paddle.ones_like(proposals[:, :, 0], dtype="int32"), axis=1)  # [N], P each
        probabilities = self.detector.forward_rois(slow, fast, rois, rois_num)          # [R, K]
        height, width = img_shape[:, 0:1], img_shape[:, 1:2]
        scale = paddle.concat([width, height, width, height], axis=1).unsqueeze(1)     # [N, 1, 4]
        boxes = (proposals / scale).reshape([-1, 4])                                    # [R, 4] in [0, 1]
        return [paddle.concat([boxes, probabilities[:, k:k + 1]], axis=1)
                for k in range(1, self.detector.num_classes)]


def detection_export(detector: nn.Layer, tools: Any, inference_cfg: Any) -> Tuple[nn.Layer, list]:
    """(layer to trace, input specs): PaddleVideo's AVA specs with H and W dynamic, around `detector`."""
    specs = tools.get_input_spec(inference_cfg, SPEC_MODEL_NAME)
    slow, fast, proposals, img_shape = specs[0]
    dynamic = [paddle.static.InputSpec(shape=list(spec.shape[:3]) + [None, None], dtype=spec.dtype, name=spec.name)
               for spec in (slow, fast)]
    return PerClassDetections(detector), [dynamic + [proposals, img_shape]]
