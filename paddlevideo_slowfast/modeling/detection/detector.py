"""FastRCNN: SlowFast backbone + AVARoIHead, PaddleVideo's spatio-temporal action detector (SlowFast_FastRCNN)."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import DETECTORS, HEADS
from ..builder import _source_of_errors, build_backbone
from ..init import initialize
from .batch import FAST, SLOW, as_numpy, unpad
from .pretrained import adapt_recognition_checkpoint

Detections = List[List[np.ndarray]]


@DETECTORS.register()
class FastRCNN(nn.Layer):
    """Scores person boxes given with each clip (AVA's proposals) for every action, multi-label.

    Config keys as PaddleVideo's: MODEL.backbone (a ResNetSlowFast; AVA keeps res5 at stride 1, so features are
    1/16 of the clip) and MODEL.head (AVARoIHead). State keys `backbone.*`, `roi_head.bbox_head.fc_cls.*` as
    PaddleVideo's, so its SlowFastRCNN_AVA.pdparams loads unchanged. A batch is PaddleVideo's 14-entry AVA list
    (detection/batch.py); unlike PaddleVideo, test batches may hold several clips.
    """

    task = "detection"                                   # the engine evaluates it with AVA's frame-mAP
    train_metrics = ("recall@thr=0.5", "prec@thr=0.5")  # logged beside the loss while training
    validation_key = "mAP@0.5IOU"                        # picks the `_best` checkpoint

    def __init__(self, backbone: Mapping[str, Any], head: Mapping[str, Any], init_seed: int = 0):
        super().__init__()
        self.backbone = build_backbone(backbone)
        channels = getattr(self.backbone, "out_channels", None)
        derived = {"backbone_channels": sum(channels) if channels else None,
                   "backbone_stride": getattr(self.backbone, "output_stride", None)}
        with _source_of_errors(head):
            self.roi_head = HEADS.build(head, where="MODEL.head", **derived)
        self.init_weights(init_seed)

    def init_weights(self, seed: int = 0) -> None:
        """PySlowFast's initialisation (the classifier N(0, 0.01), as PaddleVideo's), reproducible from `seed`."""
        initialize(self, seed=seed, zero_init_final_bn=getattr(self.backbone, "zero_init_final_bn", True))

    @property
    def num_classes(self) -> int:
        return self.roi_head.num_classes

    def forward(self, data_batch: Sequence[Any], mode: str = "infer") -> Any:
        steps = {"train": self.train_step, "valid": self.val_step, "test": self.test_step, "infer": self.infer_step}
        if mode not in steps:
            raise ValueError(f"mode must be one of {', '.join(steps)}, got '{mode}'")
        return steps[mode](data_batch)

    def forward_rois(self, slow: paddle.Tensor, fast: paddle.Tensor, rois: paddle.Tensor,
                     rois_num: paddle.Tensor) -> paddle.Tensor:
        """Sigmoid probabilities [R, num_classes] of `rois` [R, 4] (pixels), `rois_num` [N] int32 per clip."""
        return F.sigmoid(self.roi_head.scores(self.backbone([slow, fast]), rois, rois_num))

    def train_step(self, data_batch: Sequence[Any]) -> Dict[str, paddle.Tensor]:
        """{"loss", "recall@thr=0.5", "prec@thr=0.5", "recall@topk", "prec@topk"} of one batch."""
        clips = unpad(data_batch)
        features = self.backbone([data_batch[SLOW], data_batch[FAST]])
        return self.roi_head.train_step(features, [c.proposals for c in clips], [c.gt_bboxes for c in clips],
                                        [c.gt_labels for c in clips])

    def parallel_train_step(self, net: nn.Layer, data_batch: Sequence[Any]) -> Dict[str, paddle.Tensor]:
        """train_step through `net` (this model inside paddle.DataParallel), which all-reduces the gradients."""
        return net(data_batch, mode="train")

    def val_step(self, data_batch: Sequence[Any]) -> Detections:
        return self.test_step(data_batch)

    def test_step(self, data_batch: Sequence[Any]) -> Detections:
        """Per clip, num_classes - 1 arrays [n, 5] (box normalised to [0, 1], probability) above action_thr."""
        clips = unpad(data_batch)
        return self._detect(data_batch[SLOW], data_batch[FAST], [c.proposals for c in clips],
                            np.stack([c.img_shape for c in clips]))

    def infer_step(self, data_batch: Sequence[Any]) -> Detections:
        """test_step's output for PaddleVideo's inference batch [slow, fast, proposals [N, P, 4], img_shape [N, 2]],
        every proposal row counted."""
        img_shapes = as_numpy(data_batch[3]).reshape(-1, 2)
        proposals = as_numpy(data_batch[2]).reshape(len(img_shapes), -1, 4)
        return self._detect(data_batch[SLOW], data_batch[FAST], list(proposals), img_shapes)

    def _detect(self, slow: paddle.Tensor, fast: paddle.Tensor, proposals: Sequence[np.ndarray],
                img_shapes: np.ndarray) -> Detections:
        rois = np.concatenate([np.asarray(p, np.float32).reshape(-1, 4) for p in proposals])
        rois_num = [len(p) for p in proposals]
        with paddle.no_grad():
            probabilities = self.forward_rois(slow, fast, paddle.to_tensor(rois),
                                              paddle.to_tensor(np.array(rois_num, np.int32)))
        return self.roi_head.detections(probabilities.numpy(), rois, rois_num, img_shapes)

    def adapt_checkpoint(self, given: Mapping[str, np.ndarray], *, allow_head_reinit: bool,
                         source: str = "") -> Tuple[Dict[str, np.ndarray], List[str]]:
        """`-w` weights fitted to this model, and the keys to leave fresh: a recognition checkpoint initialises
        the backbone when a new head is allowed (training); otherwise weights load strictly, as given."""
        if not allow_head_reinit:
            return dict(given), []
        own = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        return adapt_recognition_checkpoint(given, own, source)
