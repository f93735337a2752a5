"""Why an upload is not a video, in words a client can act on: the decoders only say they cannot open it.

Looks at what FFmpeg (PyAV) makes of the file and at its first bytes: audio with no video stream, an MP4 cut
short (its `ftyp` box is there, its index is not: an unfinished or truncated upload), text, or unknown data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

TEXT_BYTES = bytes(range(32, 127)) + b"\t\n\r\f\b"


def looks_like_text(head: bytes) -> bool:
    """True when the first bytes are (almost) all printable ASCII or valid UTF-8 text."""
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return False
    binary = sum(1 for b in head if b < 32 and b not in TEXT_BYTES)
    return binary <= len(head) // 100


def diagnose(path: Union[str, Path]) -> Optional[str]:
    """A specific reason why `path` is no decodable video, or None when FFmpeg sees a video stream in it."""
    import av

    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        return None  # the decoders already say "empty file"
    try:
        with av.open(str(path)) as container:
            if container.streams.video:
                return None
            found = ", ".join(f"{s.type} ({s.codec_context.name})" for s in container.streams) or "no streams"
            return f"no video stream: the file holds {found} only"
    except Exception as exc:  # noqa: BLE001 - every FFmpeg refusal is explained from the bytes below
        if head[4:8] == b"ftyp":
            return "an MP4 cut short: its index (moov box) is missing, so the upload is truncated or unfinished"
        if looks_like_text(head):
            return "text, not a video"
        return f"not a video container FFmpeg can read ({' '.join(str(exc).split())[:120]})"
