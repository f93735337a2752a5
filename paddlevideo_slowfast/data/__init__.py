"""Video data: decoders, SlowFast sampling and transforms, datasets, the loader, and the embedded dataset.

Importing this package registers the decoders (DECODERS), pipeline stages (PIPELINES) and datasets (DATASETS).
Paddle is imported only by `build_dataloader`.
"""
from . import ava, decoders, pack, sampling, transforms  # noqa: F401  (register their entries)
from .compose import Compose, build_pipeline
from .datasets import SFVideoDataset, read_label_names, read_list
from .decoders import VideoReader, open_video
from .loader import build_dataloader, build_dataset
from .multiview import decode_once_views, per_view_views
from .pack import PackOutput, slow_indices
from .synthetic import CLASSES as EMBEDDED_CLASSES, ensure_embedded_dataset, flip_label_pairs, make_embedded_dataset

__all__ = ["Compose", "build_pipeline", "SFVideoDataset", "read_list", "read_label_names", "VideoReader",
           "open_video", "build_dataloader", "build_dataset", "decode_once_views", "per_view_views", "PackOutput",
           "slow_indices", "EMBEDDED_CLASSES", "ensure_embedded_dataset", "flip_label_pairs",
           "make_embedded_dataset"]
