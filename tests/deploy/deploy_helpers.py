"""Constants and overrides of the tiny deployment model (a module of its own: conftest is not importable by name)."""
from __future__ import annotations

from pathlib import Path
from typing import List

NUM_CLASSES = 10
CROP, FRAMES, ALPHA = 64, 8, 4


def tiny_overrides(label_file: Path) -> List[str]:
    """-o overrides turning configs/slowfast.yaml into a depth-10, width-8, 64 px, 8-frame, 10-class model."""
    return [
        "MODEL.backbone.depth=10", "MODEL.backbone.width_per_group=8", f"MODEL.backbone.alpha={ALPHA}",
        "MODEL.backbone.beta=4", "MODEL.head.width_per_group=8", f"MODEL.head.alpha={ALPHA}", "MODEL.head.beta=4",
        f"MODEL.head.num_classes={NUM_CLASSES}", f"MODEL.head.num_frames={FRAMES}", f"MODEL.head.crop_size={CROP}",
        "MODEL.head.dropout_rate=0.0",
        f"PIPELINE.test.decode_sampler.num_frames={FRAMES}",
        f"PIPELINE.test.transform.JitterScale.min_size={CROP}", f"PIPELINE.test.transform.JitterScale.max_size={CROP}",
        f"PIPELINE.test.transform.MultiCrop.target_size={CROP}", f"PIPELINE.test.transform.PackOutput.alpha={ALPHA}",
        f"INFERENCE.num_frames={FRAMES}", f"INFERENCE.alpha={ALPHA}", f"INFERENCE.target_size={CROP}",
        f"+DATASET.test.label_file={label_file}",
        # the training clips too: a config states one alpha, clip length and crop
        *(f"PIPELINE.{mode}.{key}" for mode in ("train", "valid")
          for key in (f"decode_sampler.num_frames={FRAMES}", f"transform.MultiCrop.target_size={CROP}",
                      f"transform.PackOutput.alpha={ALPHA}")),
    ]
