"""Sub-batch BatchNorm for multigrid training: BN statistics over groups of clips instead of the whole batch.

PaddleVideo's `SubBatchNorm3D` semantics (utils/multigrid/batchnorm_helper.py, as PySlowFast's): in training a
batch of n clips is viewed as n/k rows of k*C channels, so clips i, i+k, i+2k, ... form one of k groups, each
normalised with its own statistics and running averages; the scale and shift are shared and applied after. For
evaluation the k running averages are merged into the layer's own (mean of the means; mean of the variances plus
the variance of the means) and the layer runs as plain BN.

Here the layer stays the model's own BatchNorm3D object: `enable_sub_batchnorm` turns it into a SubBatchNorm3D in
place, so the parameters, their names and the state keys (weight, bias, _mean, _variance) are PaddleVideo's plain
ones; the per-group averages are buffers outside the state dict (`split_state` carries them into a checkpoint's
`.pdopt`). With one group the layer is exactly BatchNorm3D.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..errors import ConfigError


class SubBatchNorm3D(nn.BatchNorm3D):
    """BatchNorm3D whose training statistics come from `num_splits` interleaved groups of the batch."""

    num_splits: int = 1

    def set_splits(self, num_splits: int, restart: bool = False) -> None:
        """Use `num_splits` groups from now on. New group averages, or all of them with `restart`, start from the
        merged ones, as when the anchors rebuild the model from its last checkpoint at a long-cycle change."""
        num_splits = max(1, int(num_splits))
        if num_splits == self.num_splits and not restart and (num_splits == 1 or hasattr(self, "_split_mean")):
            return
        self.num_splits = num_splits
        if num_splits > 1:
            self.register_buffer("_split_mean", paddle.tile(self._mean.detach(), [num_splits]), persistable=False)
            self.register_buffer("_split_variance", paddle.tile(self._variance.detach(), [num_splits]),
                                 persistable=False)

    def running_stats(self) -> Tuple[paddle.Tensor, paddle.Tensor]:
        """The (mean, variance) averages a training forward updates (PreciseBN recomputes these)."""
        if self.num_splits > 1:
            return self._split_mean, self._split_variance
        return self._mean, self._variance

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if not self.training or self.num_splits == 1:
            return super().forward(x)
        k = self.num_splits
        n, c = x.shape[0], x.shape[1]
        if n % k:
            raise ConfigError(f"a batch of {n} clips does not split into {k} BN groups", key="MULTIGRID.bn_base_size",
                              expected="batches that are multiples of the group count")
        grouped = x.reshape([n // k, c * k, *x.shape[2:]])          # [n/k, k*C, T, H, W]: group = clip index % k
        # the shared scale and shift tiled into the one BN kernel: 3x faster than applying them after it
        return F.batch_norm(grouped, self._split_mean, self._split_variance, weight=self.weight.tile([k]),
                            bias=self.bias.tile([k]), training=True, momentum=self._momentum,
                            epsilon=self._epsilon).reshape(x.shape)

    def aggregate_stats(self) -> None:
        """Merge the group averages into the layer's own: what evaluation and checkpoints use."""
        if self.num_splits == 1:
            return
        k, c = self.num_splits, self._mean.shape[0]
        means = self._split_mean.reshape([k, c])
        mean = means.mean(axis=0)
        variance = self._split_variance.reshape([k, c]).mean(axis=0) + ((means - mean) ** 2).mean(axis=0)
        self._mean.set_value(mean)
        self._variance.set_value(variance)


def sub_batchnorm_layers(model: nn.Layer) -> List[Tuple[str, SubBatchNorm3D]]:
    return [(name, layer) for name, layer in model.named_sublayers() if isinstance(layer, SubBatchNorm3D)]


def enable_sub_batchnorm(model: nn.Layer) -> int:
    """Turn every BatchNorm3D of `model` into a SubBatchNorm3D (one group until `set_bn_splits`); returns how
    many. The layers keep their identity, parameters and state keys."""
    count = 0
    for layer in model.sublayers():
        if type(layer) is nn.BatchNorm3D:
            layer.__class__ = SubBatchNorm3D
            count += 1
    return count


def set_bn_splits(model: nn.Layer, num_splits: int, restart: bool = False) -> None:
    """Every sub-batch BN of `model` takes its statistics over `num_splits` groups (see `set_splits`)."""
    for _, layer in sub_batchnorm_layers(model):
        layer.set_splits(num_splits, restart)


def aggregate_sub_bn_stats(model: nn.Layer) -> int:
    """Merge each sub-batch BN's group averages into its own (before evaluation or a checkpoint); returns how many
    layers had groups."""
    layers = [layer for _, layer in sub_batchnorm_layers(model) if layer.num_splits > 1]
    with paddle.no_grad():
        for layer in layers:
            layer.aggregate_stats()
    return len(layers)


def split_state(model: nn.Layer) -> Dict[str, List[paddle.Tensor]]:
    """The group averages by layer name, for the `.pdopt` file (a resume then continues them exactly)."""
    return {name: [layer._split_mean.detach().clone(), layer._split_variance.detach().clone()]
            for name, layer in sub_batchnorm_layers(model) if layer.num_splits > 1}


def load_split_state(model: nn.Layer, state: Dict[str, List[paddle.Tensor]]) -> None:
    """Restore what `split_state` saved: each layer's group count and averages."""
    layers = dict(sub_batchnorm_layers(model))
    for name, (mean, variance) in state.items():
        layer = layers[name]
        layer.set_splits(int(mean.shape[0]) // int(layer._mean.shape[0]))
        layer._split_mean.set_value(paddle.to_tensor(mean))
        layer._split_variance.set_value(paddle.to_tensor(variance))
