"""AVA spatio-temporal action detection evaluation: frame-mAP, AVA's result CSV and the registered `AVAMetric`."""
from .frame_map import ClassAP, FrameMAP, frame_map, pair_iou, voc_ap
from .metric import AVAMetric
from .report import format_table, write_report
from .results_csv import ResultsFile, read_results, rounded, write_results
from .table import BoxTable

__all__ = ["AVAMetric", "BoxTable", "ClassAP", "FrameMAP", "ResultsFile", "format_table", "frame_map", "pair_iou",
           "read_results", "rounded", "voc_ap", "write_report", "write_results"]
