"""SlowFast R50 in PyTorch with our state-dict names, for timing PyTorch eager against ours (bench_train.py).

Runs under another interpreter (TORCH_PYTHON, which has torch): imports torch and numpy only. The layers
mirror paddlevideo_slowfast.modeling (stems, time-strided-conv laterals, bottleneck stages, fixed-window
head), so the Paddle model's weights, saved as .npz, load here and both give the same outputs.

    $TORCH_PYTHON scripts/torch_slowfast.py --worker '{"kind": "forward", "weights": "w.npz", "threads": 2}'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# (name, (slow, fast) temporal kernel, spatial stride, width multiple), as modeling/backbone.py's STAGES
STAGES = (("s2", (1, 3), 1, 1), ("s3", (1, 3), 2, 2), ("s4", (3, 3), 2, 4), ("s5", (3, 3), 2, 8))
DEPTHS = {50: (3, 4, 6, 3), 18: (2, 2, 2, 2)}


def bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=1e-5, momentum=0.1)  # Paddle's momentum 0.9 is torch's 0.1


class Stem(nn.Module):
    def __init__(self, c_in: int, c_out: int, kt: int):
        super().__init__()
        self._conv = nn.Conv3d(c_in, c_out, (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3), bias=False)
        self._bn = bn(c_out)

    def forward(self, x):
        return F.max_pool3d(F.relu(self._bn(self._conv(x))), (1, 3, 3), (1, 2, 2), (0, 1, 1))


class Fuse(nn.Module):
    def __init__(self, c_fast: int, alpha: int):
        super().__init__()
        self._conv_f2s = nn.Conv3d(c_fast, 2 * c_fast, (5, 1, 1), stride=(alpha, 1, 1), padding=(2, 0, 0), bias=False)
        self._bn = bn(2 * c_fast)

    def forward(self, xs):
        slow, fast = xs
        return [torch.cat([slow, F.relu(self._bn(self._conv_f2s(fast)))], 1), fast]


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, c_out: int, inner: int, kt: int, stride: int):
        super().__init__()
        self.a = nn.Conv3d(c_in, inner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.a_bn = bn(inner)
        self.b = nn.Conv3d(inner, inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.b_bn = bn(inner)
        self.c = nn.Conv3d(inner, c_out, 1, bias=False)
        self.c_bn = bn(c_out)

    def forward(self, x):
        x = F.relu(self.a_bn(self.a(x)))
        x = F.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, inner: int, kt: int, stride: int):
        super().__init__()
        self.projects = c_in != c_out or stride != 1
        if self.projects:
            self.branch1 = nn.Conv3d(c_in, c_out, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = bn(c_out)
        self.branch2 = Bottleneck(c_in, c_out, inner, kt, stride)

    def forward(self, x):
        shortcut = self.branch1_bn(self.branch1(x)) if self.projects else x
        return F.relu(shortcut + self.branch2(x))


class SlowFast(nn.Module):
    """ResNetSlowFast + SlowFastHead (fixed pool) of paddlevideo_slowfast, R50 4x16 by default."""

    def __init__(self, depth: int = 50, alpha: int = 8, beta: int = 8, width: int = 64, num_classes: int = 400,
                 num_frames: int = 32, crop: int = 224):
        super().__init__()
        self.backbone = nn.Module()
        widths = [width, width // beta]
        self.backbone.s1 = nn.Module()
        for p, kt in enumerate((1, 5)):
            setattr(self.backbone.s1, f"pathway{p}_stem", Stem(3, widths[p], kt))
        self.names: List[tuple] = []
        for i, ((name, kts, stride, mult), blocks) in enumerate(zip(STAGES, DEPTHS[depth])):
            setattr(self.backbone, f"s{i + 1}_fuse", Fuse(widths[1], alpha))
            c_in = [widths[0] + 2 * widths[1], widths[1]]
            widths = [width * 4 * mult // d for d in (1, beta)]
            stage = nn.Module()
            for p, d in enumerate((1, beta)):
                for b in range(blocks):
                    setattr(stage, f"pathway{p}_res{b}", ResBlock(c_in[p] if b == 0 else widths[p], widths[p],
                                                                  width * mult // d, kts[p], stride if b == 0 else 1))
            setattr(self.backbone, name, stage)
            self.names.append((f"s{i + 1}_fuse", name, blocks))
        self.pools = [[num_frames // alpha, crop // 32, crop // 32], [num_frames, crop // 32, crop // 32]]
        self.head = nn.Module()
        self.head.dropout = nn.Dropout(0.5)
        self.head.projection = nn.Linear(sum(widths), num_classes)

    def features(self, clips: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        xs = [getattr(self.backbone.s1, f"pathway{p}_stem")(x) for p, x in enumerate(clips)]
        for fuse, name, blocks in self.names:
            xs = getattr(self.backbone, fuse)(xs)
            stage = getattr(self.backbone, name)
            out = []
            for p, x in enumerate(xs):
                for b in range(blocks):
                    x = getattr(stage, f"pathway{p}_res{b}")(x)
                out.append(x)
            xs = out
        return xs

    def classify(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        pooled = [F.avg_pool3d(x, k, stride=1) for x, k in zip(feats, self.pools)]
        x = torch.cat(pooled, 1).permute(0, 2, 3, 4, 1)
        x = self.head.projection(self.head.dropout(x))
        return x.mean((1, 2, 3)) if self.training else F.softmax(x, -1).mean((1, 2, 3))


def load_paddle_weights(model: nn.Module, path: str) -> None:
    """Our Paddle state dict (npz): BN `_mean`/`_variance` are running_mean/var, Linear weights transposed."""
    arrays = np.load(path)
    state = model.state_dict()
    for key, value in arrays.items():
        name = key.replace("._mean", ".running_mean").replace("._variance", ".running_var")
        if name.endswith("projection.weight"):
            value = value.T
        if name not in state:
            raise KeyError(f"{key}: no such torch parameter")
        state[name] = torch.from_numpy(np.ascontiguousarray(value))
    model.load_state_dict(state)


def _serve(spec: Dict) -> int:
    torch.set_num_threads(int(spec.get("threads", 1)))
    torch.manual_seed(0)
    model = SlowFast()
    if spec.get("weights"):
        load_paddle_weights(model, spec["weights"])
    rng = np.random.default_rng(0)
    batch = 1 if spec["kind"] == "forward" else 2
    clips = [torch.from_numpy(rng.standard_normal((batch, 3, t, 224, 224), dtype=np.float32)) for t in (4, 32)]
    if spec["kind"] == "forward":
        model.eval()

        def step():
            with torch.no_grad():
                feats = model.features(clips)
                return [f.numpy() for f in feats], model.classify(feats).numpy()

        def check(first):
            feats, probs = first
            return dict(probs=probs[0].tolist(), features=[f.ravel()[::97].tolist() for f in feats])
    else:
        model.train()
        labels = torch.tensor([1, 2])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        stem = model.backbone.s1.pathway1_stem._conv.weight

        def step():
            loss = F.cross_entropy(model.classify(model.features(clips)), labels)
            loss.backward()
            grad = stem.grad.numpy().copy()
            optimizer.step()
            optimizer.zero_grad()
            return float(loss), grad

        def check(first):  # dropout masks differ from Paddle's: nothing to compare
            return dict(loss=first[0])
    first = step()
    print(json.dumps(dict(threads=torch.get_num_threads(), check=check(first))), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        print(json.dumps(dict(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", required=True, help="JSON: kind (forward | train), threads, weights (.npz)")
    return _serve(json.loads(parser.parse_args().worker))


if __name__ == "__main__":
    sys.exit(main())
