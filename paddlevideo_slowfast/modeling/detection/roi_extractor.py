"""SingleRoIExtractor3D: RoIAlign on the temporally pooled, pathway-concatenated res5 features."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import paddle
from paddle import nn

from ...errors import ConfigError
from ...registry import ROI_EXTRACTORS

Rois = Union[paddle.Tensor, Sequence[paddle.Tensor]]


@ROI_EXTRACTORS.register()
class SingleRoIExtractor3D(nn.Layer):
    """[N, C_p, T_p, H, W] per pathway -> RoI features [R, sum(C_p), T', output_size, output_size].

    With `with_temporal_pool` each pathway is averaged over time first (T' = 1), which is what lets Slow (T/alpha
    frames) and Fast (T frames) be concatenated; without it a single pathway keeps its T frames, each aligned.
    RoIs are pixels of the input clip; `featmap_stride` (the backbone's output stride, derived when left out)
    maps them onto the features, `aligned` shifts by half a pixel (Detectron2's RoIAlignV2), `sampling_ratio` 0
    samples adaptively. PaddleVideo's `pool_mode` and `with_global` are accepted at their only working values.
    """

    def __init__(self, roi_layer_type: str = "RoIAlign", featmap_stride: Optional[int] = None,
                 output_size: int = 16, sampling_ratio: int = 0, pool_mode: str = "avg", aligned: bool = True,
                 with_temporal_pool: bool = True, with_global: bool = False, backbone_stride: Optional[int] = None):
        super().__init__()
        where = "MODEL.head.bbox_roi_extractor"
        _check(roi_layer_type == "RoIAlign", f"{where}.roi_layer_type", roi_layer_type,
               "RoIAlign (PaddleVideo runs RoIAlign whatever this says)")
        _check(pool_mode == "avg", f"{where}.pool_mode", pool_mode, "avg (RoIAlign averages its samples)")
        _check(not with_global, f"{where}.with_global", with_global, "false (no global context feature)")
        if featmap_stride is None:
            featmap_stride = backbone_stride if backbone_stride is not None else 16
        elif backbone_stride is not None and featmap_stride != backbone_stride:
            raise ConfigError(f"{where}.featmap_stride = {featmap_stride} disagrees with the backbone's output stride "
                              f"{backbone_stride} (4 x the product of MODEL.backbone.spatial_strides)",
                              key=f"{where}.featmap_stride", expected=f"{backbone_stride}, or leave it out")
        self.featmap_stride, self.output_size = int(featmap_stride), int(output_size)
        self.spatial_scale = 1.0 / self.featmap_stride
        self.sampling_ratio, self.aligned = int(sampling_ratio), bool(aligned)
        self.with_temporal_pool = bool(with_temporal_pool)

    def forward(self, features: Sequence[paddle.Tensor], rois: Rois, rois_num: paddle.Tensor) -> paddle.Tensor:
        """RoI features of `rois` [R, 4] (or one [r_i, 4] per clip) with `rois_num` [N] int32 RoIs per clip."""
        if self.with_temporal_pool:
            features = [x.mean(axis=2, keepdim=True) for x in features]
        elif len(features) > 1:
            raise ConfigError("several pathways need temporal pooling: their frame counts differ",
                              key="MODEL.head.bbox_roi_extractor.with_temporal_pool", expected="true")
        x = paddle.concat(list(features), axis=1)  # [N, C, T', H, W]
        if isinstance(rois, (list, tuple)):  # not `not Tensor`: a traced (to_static) tensor is no paddle.Tensor
            rois = paddle.concat(list(rois)) if len(rois) else paddle.zeros([0, 4], "float32")
        rois_num = paddle.cast(rois_num, "int32")
        steps = 1 if self.with_temporal_pool else int(x.shape[2])  # a Python int: to_static unrolls the loop
        frames = [paddle.vision.ops.roi_align(x[:, :, t], rois, rois_num, self.output_size, self.spatial_scale,
                                              self.sampling_ratio, self.aligned)
                  for t in range(steps)]
        return paddle.stack(frames, axis=2)  # [R, C, T', out, out]


def _check(ok: bool, key: str, value, expected: str) -> None:
    if not ok:
        raise ConfigError(f"unsupported value {value!r}", key=key, expected=expected)
