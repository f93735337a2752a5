"""AVA spatio-temporal detection data: the official annotation files, `AVADataset`, and the stages that sample,
decode (from frames or videos) and transform clips together with their boxes.

Importing this package registers AVADataset (DATASETS) and SampleAVAFrames, RawFrameDecode, RandomRescale,
Rescale, RandomCrop_v2, Flip, Normalize (PIPELINES).
"""
from .annotations import (AVAAnnotations, AVABox, proposal_key, read_annotations, read_excluded, read_label_map,
                          read_proposals, write_annotations, write_excluded, write_label_map, write_proposals)
from .dataset import AVADataset
from .decode import RawFrameDecode, read_frame_clip, read_video_clip
from .sampling import SampleAVAFrames
from .transforms import Flip, Normalize, RandomCrop_v2, RandomRescale, Rescale

__all__ = ["AVAAnnotations", "AVABox", "proposal_key", "read_annotations", "read_excluded", "read_label_map",
           "read_proposals", "write_annotations", "write_excluded", "write_label_map", "write_proposals",
           "AVADataset", "RawFrameDecode", "read_frame_clip", "read_video_clip", "SampleAVAFrames", "Flip",
           "Normalize", "RandomCrop_v2", "RandomRescale", "Rescale"]
