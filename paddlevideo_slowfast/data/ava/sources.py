"""Where the frames of an AVA video are: a folder of extracted frames or a video file, found once per video.

`source: frames` looks for `<data_prefix>/<video_id>/` holding `suffix`-named frames (`img_{:05}.jpg`; with no
`suffix` configured, `img_{:05}.jpg`, then PaddleVideo's default `{:05}.jpg`, then `img_{:05}.png`, whichever
frame 1 exists under); `source: video` looks for `<data_prefix>/<video_id>.<ext>` (mp4, mkv, webm, avi, mov, m4v;
AVA ships several); no `source` takes the folder when there is one, else the video file.
"""
from __future__ import annotations

import os
import string
from typing import Dict, List, NamedTuple, Optional, Tuple

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
FRAME_SUFFIXES = ("img_{:05}.jpg", "{:05}.jpg", "img_{:05}.png")
SOURCES = ("frames", "video")


class VideoSource(NamedTuple):
    """One video's frames: `kind` frames (folder `path`, `suffix`, `total_frames`) or video (file `path`)."""

    kind: str
    path: str
    suffix: Optional[str] = None
    total_frames: int = 0


def _template_parts(suffix: str) -> Tuple[str, str]:
    """(text before, text after) the one number field of a frame-name template like `img_{:05}.jpg`."""
    parts = list(string.Formatter().parse(suffix))
    before = parts[0][0]
    after = "".join(literal for literal, *_ in parts[1:])
    return before, after


def count_frames(names: List[str], suffix: str) -> int:
    """How many names fit the template `suffix` (a prefix, digits, an ending)."""
    before, after = _template_parts(suffix)
    return sum(1 for n in names if n.startswith(before) and n.endswith(after)
               and n[len(before):len(n) - len(after)].isdigit())


def frame_folder(folder: str, suffix: Optional[str]) -> Tuple[Optional[VideoSource], str]:
    """The frames source in `folder`, or (None, why not)."""
    try:
        names = os.listdir(folder)
    except OSError as exc:
        return None, f"cannot list the frame folder {folder} ({exc.strerror})"
    candidates = (suffix,) if suffix else FRAME_SUFFIXES
    for template in candidates:
        if template.format(1) in names:
            return VideoSource("frames", folder, template, count_frames(names, template)), ""
    return None, f"the frame folder {folder} has no frame 1 named {' or '.join(t.format(1) for t in candidates)}"


class SourceFinder:
    """Finds each video's source under `data_prefix`, listing the folder once for the video files."""

    def __init__(self, data_prefix: Optional[str], source: Optional[str] = None, suffix: Optional[str] = None):
        self.prefix, self.source, self.suffix = data_prefix or "", source, suffix
        self._videos: Optional[Dict[str, str]] = None

    def videos(self) -> Dict[str, str]:
        """video_id -> file name of the video files in `data_prefix` (first extension in VIDEO_EXTENSIONS wins)."""
        if self._videos is None:
            try:
                names = sorted(os.listdir(self.prefix or "."))
            except OSError:
                names = []
            found: Dict[str, str] = {}
            for ext in VIDEO_EXTENSIONS:
                for name in names:
                    stem, dot_ext = os.path.splitext(name)
                    if dot_ext.lower() == ext and stem not in found:
                        found[stem] = name
            self._videos = found
        return self._videos

    def find(self, video_id: str) -> Tuple[Optional[VideoSource], str]:
        """(the source of `video_id`, "") or (None, where it was looked for)."""
        folder = os.path.join(self.prefix, video_id)
        reasons = []
        if self.source in (None, "frames"):
            if os.path.isdir(folder):
                found, why = frame_folder(folder, self.suffix)
                if found is not None:
                    return found, ""
                reasons.append(why)
            elif self.source == "frames":
                reasons.append(f"no frame folder {folder}")
        if self.source in (None, "video"):
            name = self.videos().get(video_id)
            if name is not None:
                path = os.path.join(self.prefix, name)
                if os.path.getsize(path) > 0:
                    return VideoSource("video", path), ""
                reasons.append(f"the video {path} is empty")
            else:
                reasons.append(f"no video {os.path.join(self.prefix, video_id)}"
                               f".{{{','.join(e[1:] for e in VIDEO_EXTENSIONS)}}}")
            if self.source is None and not os.path.isdir(folder):
                reasons.insert(0, f"no frame folder {folder}")
        return None, "; ".join(reasons)
