"""SlowFast ResNet backbones (`ResNetSlowFast` and its one-pathway ablations), built from a stage table."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..errors import ConfigError
from ..registry import BACKBONES
from .fusion import build_fusion
from .nonlocal_block import INSTANTIATIONS, NonLocalSpec
from .norm import Norm
from .stage import ResStage
from .stem import MultiPathwayStem


@dataclass(frozen=True)
class StageSpec:
    """One resN stage: temporal kernel of each bottleneck's first conv per pathway, stride, width multiple."""

    name: str
    temporal_kernel: Tuple[int, int]  # (Slow, Fast)
    spatial_stride: int               # on the first block, both pathways (PaddleVideo's `spatial_strides`)
    width: int                        # bottleneck inner width in units of width_per_group; output is 4x that


# conv1 temporal kernels (Slow, Fast): Slow's stem sees single frames (1x7x7), Fast's 5x7x7.
STEM_TEMPORAL_KERNEL = (1, 5)

# The architecture as data (paper Table 1); no temporal striding anywhere.
STAGES = (
    StageSpec("s2", (1, 3), 1, 1),  # res2: Slow stays temporally 1x1 (early layers see appearance), 256 ch
    StageSpec("s3", (1, 3), 2, 2),  # res3: spatial stride 2, 512 ch
    StageSpec("s4", (3, 3), 2, 4),  # res4: Slow's temporal convs start here, 1024 ch
    StageSpec("s5", (3, 3), 2, 8),  # res5: 2048 ch Slow, 2048/beta Fast, 1/32 of the input size
)

# bottleneck blocks per stage (res2..res5); 10 and 18 are small test depths, all bottleneck blocks
STAGE_DEPTHS = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

# PySlowFast's NONLOCAL.POOL default: keys and values of a non-local block are max-pooled 2x2 in space
NONLOCAL_POOL = (((1, 2, 2), (1, 2, 2)),) * len(STAGES)


@BACKBONES.register()
class ResNetSlowFast(nn.Layer):
    """SlowFast ResNet (Feichtenhofer et al. 2019): Slow at T frames, Fast at alpha*T frames and 1/beta width.

    Takes [slow, fast] clips ([N, 3, T, H, W], [N, 3, alpha*T, H, W]) and returns the res5 features of each
    pathway. Keys are PaddleVideo's (checkpoints load unchanged) plus `fusion` (the Fast->Slow lateral),
    `zero_init_final_bn`, the BN options and PySlowFast's family options below. `alpha` in the paper is
    `alpha`; the paper's beta (1/8) is `1 / beta` here, as in PaddleVideo. `fusion_kernel_sz` defaults to 5
    (R50 4x16), where PaddleVideo's constructor defaults to 7. `bn_norm_type`, `bn_num_splits`, `num_pathways`
    are accepted for PaddleVideo's configs; only plain batchnorm is supported. `cpu_fast_conv` (on by default)
    lets the Fast pathway's temporal convs (stem and Tx1x1) run as conv2d + a time-shift matmul in CPU eager
    mode: same maths and state keys, a 3-5x cheaper stem (modeling/conv3d_fast.py); static graphs and GPUs are
    unaffected.

    PySlowFast's options, one [slow, fast] entry per stage res2..res5 (the defaults build the R50 as before):
    `num_block_temp_kernel` (RESNET.NUM_BLOCK_TEMP_KERNEL): how many leading blocks of a stage get its temporal
    kernel, the others 1 (None: every block); `spatial_dilations` (RESNET.SPATIAL_DILATIONS): dilation of the
    1x3x3 convs; `nonlocal_location` (NONLOCAL.LOCATION): the block indices after which a non-local block runs;
    `nonlocal_group`, `nonlocal_pool` [t, h, w], `nonlocal_instantiation` ('dot_product' | 'softmax') as
    NONLOCAL.GROUP, POOL, INSTANTIATION.
    """

    PATHWAYS: Tuple[int, ...] = (0, 1)  # indices into the [slow, fast] input this backbone runs

    def __init__(self, alpha: int = 8, beta: int = 8, depth: int = 50, width_per_group: int = 64,
                 num_groups: int = 1, fusion: str = "time_strided_conv", fusion_kernel_sz: int = 5,
                 fusion_conv_channel_ratio: int = 2, fuse_bn_relu: bool = True,
                 input_channel_num: Sequence[int] = (3, 3),
                 spatial_strides: Sequence[Sequence[int]] = ((1, 1), (2, 2), (2, 2), (2, 2)),
                 pool_size_ratio: Sequence[Sequence[int]] = ((1, 1, 1), (1, 1, 1)), use_pool_af_s2: bool = True,
                 bn_eps: float = 1e-5, bn_momentum: float = 0.9, bn_weight_decay: float = 0.0,
                 zero_init_final_bn: bool = True, bn_norm_type: str = "batchnorm", bn_num_splits: int = 1,
                 num_pathways: Optional[int] = None, cpu_fast_conv: bool = True,
                 num_block_temp_kernel: Optional[Sequence[Sequence[int]]] = None,
                 spatial_dilations: Sequence[Sequence[int]] = ((1, 1),) * len(STAGES),
                 nonlocal_location: Optional[Sequence[Sequence[Sequence[int]]]] = None,
                 nonlocal_group: Sequence[Sequence[int]] = ((1, 1),) * len(STAGES),
                 nonlocal_pool: Sequence[Sequence[Sequence[int]]] = NONLOCAL_POOL,
                 nonlocal_instantiation: str = "dot_product"):
        super().__init__()
        _check(bn_norm_type == "batchnorm", "bn_norm_type", bn_norm_type, "batchnorm (sub_batchnorm is not supported)")
        _check(num_pathways in (None, len(self.PATHWAYS)), "num_pathways", num_pathways,
               f"{len(self.PATHWAYS)} for {type(self).__name__}")
        _check(depth in STAGE_DEPTHS, "depth", depth, f"one of {sorted(STAGE_DEPTHS)}")
        _check(_is_grid(spatial_strides, len(STAGES), 2), "spatial_strides", spatial_strides,
               f"{len(STAGES)} pairs [slow, fast]")
        _check(_is_grid(pool_size_ratio, 2, 3), "pool_size_ratio", pool_size_ratio, "2 triples [t, h, w]")
        _check(len(input_channel_num) == 2, "input_channel_num", input_channel_num, "[slow, fast]")
        depths = STAGE_DEPTHS[depth]
        temporal_blocks = _temporal_blocks(num_block_temp_kernel, depths)
        nonlocal_specs = _nonlocal_specs(nonlocal_location, nonlocal_group, nonlocal_pool, nonlocal_instantiation,
                                         depths)
        _check(_is_table(spatial_dilations, (len(STAGES), 2), low=1), "spatial_dilations", spatial_dilations,
               f"{len(STAGES)} pairs [slow, fast] of dilations >= 1")
        self.alpha, self.beta, self.depth = alpha, beta, depth
        paths = self.PATHWAYS
        fuses = len(paths) == 2
        self.width_per_group, self.num_groups = width_per_group, num_groups
        self.fusion = fusion if fuses else None
        self.zero_init_final_bn = bool(zero_init_final_bn)
        norm = Norm(eps=bn_eps, momentum=bn_momentum, weight_decay=bn_weight_decay)
        divisor = [(1, beta)[p] for p in paths]  # channel divisor per pathway: the Fast one is 1/beta as wide
        _check(all(width_per_group // d >= 1 for d in divisor), "width_per_group", width_per_group,
               f"at least beta = {beta}: the Fast pathway is width_per_group // beta channels wide")
        # folding time pays where frames are many and channels few: the Fast pathway (measured per layer)
        fast_conv = [bool(cpu_fast_conv) and p == 1 for p in paths]

        widths = [width_per_group // d for d in divisor]
        self.s1 = MultiPathwayStem([input_channel_num[p] for p in paths], widths,
                                   [STEM_TEMPORAL_KERNEL[p] for p in paths], paths, norm=norm,
                                   fast_conv=fast_conv)
        self._blocks = []  # forward order: (lateral feeding the stage or None, stage)
        for i, (spec, blocks) in enumerate(zip(STAGES, depths)):
            in_widths = list(widths)
            lateral = f"s{i + 1}_fuse"
            if fuses:
                # the lateral after s{i+1} concatenates onto Slow: the next stage's Slow input widens by it
                setattr(self, lateral, build_fusion(fusion, widths[1], alpha=alpha, kernel_size=fusion_kernel_sz,
                                                    channel_ratio=fusion_conv_channel_ratio, bn_relu=fuse_bn_relu,
                                                    norm=norm))
                in_widths[0] += getattr(self, lateral).out_channels
            widths = [width_per_group * 4 * spec.width // d for d in divisor]
            inner = [width_per_group * num_groups * spec.width // d for d in divisor]
            kernels = [[spec.temporal_kernel[p]] * temporal_blocks[i][p] + [1] * (blocks - temporal_blocks[i][p])
                       for p in paths]
            setattr(self, spec.name, ResStage(in_widths, widths, inner, kernels,
                                              [spatial_strides[i][p] for p in paths], paths,
                                              num_blocks=blocks, groups=num_groups, norm=norm,
                                              fast_conv=fast_conv, dilations=[spatial_dilations[i][p] for p in paths],
                                              nonlocal_specs=[nonlocal_specs[i][p] for p in paths]))
            self._blocks.append((lateral if fuses else None, spec.name))
        pools = [list(pool_size_ratio[p]) for p in paths]
        self._pool_after_s2 = pools if use_pool_af_s2 and any(k != 1 for pool in pools for k in pool) else None
        self.out_channels: List[int] = widths
        self.temporal_divisors: List[int] = [(alpha, 1)[p] for p in paths]  # clip frames / output frames
        self.output_stride: int = 4 * math.prod(s[paths[0]] for s in spatial_strides)

    def forward(self, inputs: Sequence[paddle.Tensor]) -> List[paddle.Tensor]:
        xs = self.s1([inputs[p] for p in self.PATHWAYS])
        for lateral, stage in self._blocks:
            if lateral is not None:
                xs = getattr(self, lateral)(xs)
            if stage == "s3" and self._pool_after_s2:
                xs = [F.max_pool3d(x, kernel_size=k, stride=k) for x, k in zip(xs, self._pool_after_s2)]
            xs = getattr(self, stage)(xs)
        return xs


@BACKBONES.register()
class ResNetSlowOnly(ResNetSlowFast):
    """The Slow pathway alone (paper Table 5 ablation): reads `slow` of [slow, fast]; fusion keys unused."""

    PATHWAYS = (0,)


@BACKBONES.register()
class ResNetFastOnly(ResNetSlowFast):
    """The Fast pathway alone: reads `fast` of [slow, fast], keeps PaddleVideo's `pathway1_*` names."""

    PATHWAYS = (1,)


def _check(ok: bool, key: str, value, expected: str) -> None:
    if not ok:
        raise ConfigError(f"unsupported {key}: {value!r}", key=f"MODEL.backbone.{key}", expected=expected)


def _is_grid(value, rows: int, cols: int) -> bool:
    return len(value) == rows and all(len(row) == cols for row in value)


def _is_table(value, shape: Tuple[Optional[int], ...], low: int = 0) -> bool:
    """Nested lists of the given lengths (None: any length) ending in integers >= `low`."""
    if not shape:
        return isinstance(value, int) and not isinstance(value, bool) and value >= low
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return False
    return (shape[0] is None or len(value) == shape[0]) and all(_is_table(v, shape[1:], low) for v in value)


def _temporal_blocks(counts: Optional[Sequence[Sequence[int]]], depths: Sequence[int]) -> List[List[int]]:
    """Per stage, per pathway: how many leading blocks take the stage's temporal kernel (None: all of them)."""
    if counts is None:
        return [[blocks, blocks] for blocks in depths]
    _check(_is_table(counts, (len(STAGES), 2)) and all(max(row) <= n for row, n in zip(counts, depths)),
           "num_block_temp_kernel", counts,
           f"{len(STAGES)} pairs [slow, fast], each at most the stage's block count {list(depths)}")
    return [list(row) for row in counts]


def _nonlocal_specs(location, group, pool, instantiation: str, depths: Sequence[int]) -> List[List[NonLocalSpec]]:
    """Per stage, per pathway: the NonLocalSpec of PySlowFast's NONLOCAL.LOCATION, GROUP, POOL, INSTANTIATION."""
    stages = len(STAGES)
    if location is None:
        location = [[[], []]] * stages
    _check(_is_table(location, (stages, 2, None)) and all(b < n for row, n in zip(location, depths)
                                                           for blocks in row for b in blocks),
           "nonlocal_location", location, f"{stages} pairs [slow, fast] of lists of block indices below the "
           f"stage's block count {list(depths)}")
    _check(_is_table(group, (stages, 2), low=1), "nonlocal_group", group, f"{stages} pairs [slow, fast] of ints >= 1")
    _check(_is_table(pool, (stages, 2, 3), low=1), "nonlocal_pool", pool,
           f"{stages} pairs [slow, fast] of [t, h, w] pool sizes >= 1")
    _check(instantiation in INSTANTIATIONS, "nonlocal_instantiation", instantiation,
           f"one of: {', '.join(INSTANTIATIONS)}")
    return [[NonLocalSpec(tuple(location[s][p]), group[s][p], tuple(pool[s][p]), instantiation) for p in range(2)]
            for s in range(stages)]
