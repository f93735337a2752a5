"""Which video files a `predict` argument names: a file, a folder of videos, or a list file of paths."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".flv", ".mpg", ".mpeg", ".wmv", ".3gp", ".ts"}
LIST_SUFFIXES = {".txt", ".list", ".lst"}


def expand_videos(arguments: Iterable[str]) -> List[str]:
    """Video paths in argument order: folders give their videos sorted by name (not recursive); a list file
    (.txt/.list) gives the first field of each non-empty, non-# line, relative paths taken from its folder
    (PaddleVideo's `path label` lines work); anything else is taken as a video, to be reported if unreadable. A
    broken symbolic link in a folder is kept, so that it is reported as unreadable rather than skipped."""
    videos: List[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            videos.extend(str(p) for p in sorted(path.iterdir())
                          if p.suffix.lower() in VIDEO_SUFFIXES and (p.is_file() or _broken_link(p)))
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            videos.extend(_read_list(path))
        else:
            videos.append(str(path))
    return videos


def _broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _read_list(path: Path) -> List[str]:
    videos = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry = Path(line.split()[0])
        videos.append(str(entry if entry.is_absolute() else path.parent / entry))
    return videos
