"""The embedded dataset needs motion: a single-frame 2D model is near chance, the same model on 4 frames is not.

The same small 2D CNN, the same data, budget and seed; the only difference is whether the input is one frame
or four frames stacked as channels (so motion is visible). Videos are rendered in memory at 32 px (the
generator itself; encoding changes nothing about what one frame shows).
"""
from __future__ import annotations

import numpy as np
import paddle
from paddle import nn

from paddlevideo_slowfast.data.synthetic import CLASSES, _video_rng, render_video

FRAMES, SIZE, STEP = 16, 32, 4   # the 4-frame input takes frames t, t+4, t+8, t+12


def videos(split: str, per_class: int):
    clips, labels = [], []
    for label, name in enumerate(CLASSES):
        for k in range(per_class):
            clips.append(render_video(name, _video_rng(0, label, split, k), size=SIZE, frames=FRAMES))
            labels.append(label)
    return np.stack(clips).astype(np.float32) / 255.0, np.array(labels)


def frames_as_channels(clips: np.ndarray, starts: np.ndarray, count: int) -> np.ndarray:
    """[N, 3*count, H, W]: frames start, start+STEP, ... of each clip, concatenated on channels."""
    rows = np.arange(len(clips))
    return np.concatenate([clips[rows, starts + q * STEP] for q in range(count)], axis=-1).transpose(0, 3, 1, 2)


def cnn(in_channels: int) -> nn.Layer:
    layers, width = [], in_channels
    for out in (16, 32, 32):
        layers += [nn.Conv2D(width, out, 3, stride=2, padding=1), nn.BatchNorm2D(out), nn.ReLU()]
        width = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(width, len(CLASSES)))


def val_accuracy(count: int, train, val, epochs: int = 30, batch: int = 40) -> float:
    """Train the CNN on `count` frames of random windows; top-1 on the validation videos' middle window."""
    paddle.seed(0)
    rng = np.random.default_rng(0)
    model = cnn(3 * count)
    opt = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
    clips, labels = train
    last_start = FRAMES - (count - 1) * STEP
    for _ in range(epochs):
        order = rng.permutation(len(labels))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            x = frames_as_channels(clips[idx], rng.integers(0, last_start, len(idx)), count)
            loss = nn.functional.cross_entropy(model(paddle.to_tensor(x)), paddle.to_tensor(labels[idx]))
            loss.backward()
            opt.step()
            opt.clear_grad()
    model.eval()
    clips, labels = val
    starts = np.full(len(labels), (last_start - 1) // 2)
    with paddle.no_grad():
        predicted = model(paddle.to_tensor(frames_as_channels(clips, starts, count))).numpy().argmax(1)
    return float((predicted == labels).mean())


def test_single_frame_is_near_chance_and_motion_is_not() -> None:
    train, val = videos("train", 40), videos("val", 20)
    single = val_accuracy(1, train, val)
    motion = val_accuracy(4, train, val)
    # measured: 20.5% and 49% (chance 10%; a faded frame gives blinking away, not its rate)
    assert single < 0.30, f"one frame tells the class too often: {single:.1%}"
    assert motion > single + 0.15, f"4 frames {motion:.1%} vs 1 frame {single:.1%}"
