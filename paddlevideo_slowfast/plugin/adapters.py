"""Our recognizer, dataset and metrics under PaddleVideo's calling conventions (what its trainer, tester and
exporter pass and expect), where those differ from ours.

- Config nodes: PaddleVideo's builders pass its own AttrDict nodes on (they cannot be deep-copied, and `getattr`
  with a default raises on them); each adapter takes them as our AttrDict (`configs.our_config`).
- Recognizer: PaddleVideo's config may name the backbone and head by their registered (suffixed) names; its
  test loop calls `model(batch, mode='test')` on our decode-once batches, whose clips are [B, V, C, T, H, W]
  (all V views of each video), and its validation loop calls `mode='valid'` on items that carry our `valid`
  flag (a video that could not be read is left out, never scored as zeros).
- Dataset: PaddleVideo builds the pipeline itself (its `Compose`) and passes it in; its sampler passes bare
  indices and never sets an epoch. It also passes only `test_mode`, so a validation set says `mode: valid`.
- Metrics: PaddleVideo's test batches from our dataset end with the `valid` flag after label and index.
- Detection (FastRCNN, AVADataset): detection.py, whose adapters join the ADAPTERS table here.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from ..data import Compose, SFVideoDataset
from ..metrics import CenterCropMetric, MultiCropMetric
from ..modeling.recognizer import Recognizer3D
from ..registry import PIPELINES
from . import names
from .configs import our_config, our_kwargs


def our_part(cfg: Optional[Mapping[str, Any]], kind: str) -> Optional[Mapping[str, Any]]:
    """`cfg` with its `name` given as our own registry's name (it may be the name registered in PaddleVideo)."""
    if not isinstance(cfg, Mapping) or "name" not in cfg:
        return cfg
    ours = names.our_name(kind, cfg["name"])
    if ours == cfg["name"]:
        return cfg
    part = copy.deepcopy(cfg)  # our AttrDict (see our_config): keeps the node's file provenance for error messages
    part["name"] = ours
    return part


def _is_flag(tensor: Any) -> bool:
    return "bool" in str(getattr(tensor, "dtype", ""))


class PaddleVideoRecognizer3D(Recognizer3D):
    """Our Recognizer3D for PaddleVideo's trainer/tester/exporter; same layers and state-dict keys."""

    def __init__(self, backbone: Mapping[str, Any], head: Mapping[str, Any], runtime_cfg: Optional[Mapping] = None,
                 init_seed: int = 0):
        backbone, head = our_config(backbone, "MODEL.backbone"), our_config(head, "MODEL.head")
        super().__init__(our_part(backbone, "BACKBONES"), our_part(head, "HEADS"),
                         our_config(runtime_cfg, "MODEL.runtime_cfg"), init_seed)

    def val_step(self, data_batch: Sequence[Any]) -> Dict[str, Any]:
        """Loss/top-1/top-5 over the readable items of a validation batch ({} when none is)."""
        import paddle

        clips, labels = list(data_batch[0:2]), list(data_batch[2:])
        if labels and _is_flag(labels[-1]):
            readable = labels.pop().reshape([-1])
            keep = paddle.nonzero(readable).reshape([-1])
            if int(keep.shape[0]) == 0:
                return {}  # PaddleVideo's loop records the keys it gets: none
            if int(keep.shape[0]) < int(readable.shape[0]):
                clips = [paddle.gather(x, keep) for x in clips]
                labels = [paddle.gather(y, keep) if y.ndim > 0 and y.shape[0] == readable.shape[0] else y
                          for y in labels]
        return self.head.loss(self.forward_net(clips), labels, valid_mode=True)

    def test_step(self, data_batch: Sequence[Any]) -> Any:
        """Probabilities [B, K] of single clips, or [B, V, K] of decode-once items holding every view of a video."""
        from ..engine.evaluator import run_views

        slow, fast = data_batch[0], data_batch[1]
        if slow.ndim == 6:
            return run_views(self.forward_net, slow, fast)
        return self.forward_net([slow, fast])


def our_pipeline(pipeline: Any) -> Any:
    """PaddleVideo's Compose rebuilt as ours when every stage in it is one of ours (fused fast paths, decode-once
    multi-view); otherwise the callable as given."""
    stages = getattr(pipeline, "pipelines", None)
    ours = {cls for _, cls in PIPELINES.items()}
    if isinstance(stages, list) and stages and all(type(stage) in ours for stage in stages):
        return Compose(stages)
    return pipeline


class FreshTrainDraws:
    """For a dataset of ours that takes `(index, epoch)` keys: a bare training index gets a fresh draw as its epoch.

    PaddleVideo's sampler passes bare indices and never calls set_epoch: without a fresh draw every epoch would
    repeat the same crops. NumPy's global state is what Paddle seeds per loader worker and epoch.
    """

    mode: str

    def __getitem__(self, key: Any) -> Any:
        if self.mode == "train" and not isinstance(key, (tuple, list)):
            key = (int(key), int(np.random.randint(0, 2 ** 31 - 1)))
        return super().__getitem__(key)


class PaddleVideoSFVideoDataset(FreshTrainDraws, SFVideoDataset):
    """Our SFVideoDataset built by PaddleVideo's `build_dataset` (its pipeline object, its sampler)."""

    def __init__(self, file_path: str, pipeline: Callable, **kwargs: Any):
        super().__init__(file_path, our_pipeline(our_config(pipeline, "PIPELINE")), **our_kwargs(kwargs, "DATASET"))


def _dict_batch(data: Any) -> Any:
    """Our dataset's list batches `[slow, fast, label, (index,) valid]` as the dict our metrics read."""
    if isinstance(data, Mapping) or not isinstance(data, Sequence) or len(data) < 4 or not _is_flag(data[-1]):
        return data
    batch = {"label": data[2], "scored": data[-1]}
    if len(data) >= 5:
        batch["index"] = data[3]
    return batch


class PaddleVideoCenterCropMetric(CenterCropMetric):
    """CenterCropMetric fed by PaddleVideo's test loop."""

    def parse_batch(self, data: Any, outputs: Any) -> Dict[str, Any]:
        return super().parse_batch(_dict_batch(data), outputs)


class PaddleVideoMultiCropMetric(MultiCropMetric):
    """MultiCropMetric fed by PaddleVideo's test loop (all views per item, or PaddleVideo's one view per item)."""

    def parse_batch(self, data: Any, outputs: Any) -> Dict[str, Any]:
        return super().parse_batch(_dict_batch(data), outputs)


# our registered name -> the class PaddleVideo gets instead, per PaddleVideo registry
ADAPTERS: Dict[str, Dict[str, type]] = {
    "RECOGNIZERS": {"Recognizer3D": PaddleVideoRecognizer3D},
    "DATASETS": {"SFVideoDataset": PaddleVideoSFVideoDataset},
    "METRIC": {"CenterCropMetric": PaddleVideoCenterCropMetric, "MultiCropMetric": PaddleVideoMultiCropMetric},
}

from .detection import ADAPTERS as _DETECTION  # noqa: E402  (detection.py builds on the helpers above)

for _kind, _table in _DETECTION.items():
    ADAPTERS.setdefault(_kind, {}).update(_table)
