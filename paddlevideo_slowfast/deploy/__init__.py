"""Deployment: export to Paddle Inference (and ONNX), `Predictor` on video files, `Detector` (AVA actions per person
and keyframe), BN folding for inference."""
from .detector import Detection, DetectionRun, Detector
from .export import ExportOptions, ExportResult, export_model
from .infer_cfg import INFER_CFG, InferConfig, read_infer_config
from .predictor import Prediction, Predictor

__all__ = ["ExportOptions", "ExportResult", "export_model", "INFER_CFG", "InferConfig", "read_infer_config",
           "Prediction", "Predictor", "Detection", "DetectionRun", "Detector"]
