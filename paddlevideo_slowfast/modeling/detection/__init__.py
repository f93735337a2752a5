"""AVA action detection: FastRCNN (SlowFast backbone + RoI head) and its parts, registered under PaddleVideo's names."""
from . import assigner, bbox_head, detector, roi_extractor, roi_head, sampler  # noqa: F401  (registration)
from .assigner import AssignResult, MaxIoUAssignerAVA
from .bbox_head import BBoxHeadAVA
from .detector import FastRCNN
from .roi_extractor import SingleRoIExtractor3D
from .roi_head import AVARoIHead, bbox2result
from .sampler import RandomSampler, SamplingResult

__all__ = ["FastRCNN", "AVARoIHead", "BBoxHeadAVA", "SingleRoIExtractor3D", "MaxIoUAssignerAVA", "RandomSampler",
           "AssignResult", "SamplingResult", "bbox2result"]
