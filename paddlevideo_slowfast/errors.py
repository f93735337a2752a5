"""Exceptions of our own, each carrying the file, key, path or index that caused it."""
from __future__ import annotations

from typing import Iterable, Optional


class SlowFastError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SlowFastError, ValueError):
    """A config file or override is wrong: names the file, the dotted key and what was expected."""

    def __init__(self, message: str, *, file: Optional[str] = None, key: Optional[str] = None,
                 expected: Optional[str] = None):
        self.file, self.key, self.expected = file, key, expected
        parts = [message]
        if key:
            parts.append(f"key: {key}")
        if file:
            parts.append(f"file: {file}")
        if expected:
            parts.append(f"expected: {expected}")
        super().__init__("; ".join(parts))


class RegistryError(SlowFastError, KeyError):
    """An unknown name or argument was asked of a registry: lists what is registered or accepted."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class VideoDecodeError(SlowFastError):
    """A video could not be decoded exactly as asked: the path and the reason."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class CheckpointError(SlowFastError):
    """Weights do not fit the model: lists missing, unexpected and shape-mismatched keys."""

    def __init__(self, path: str, *, missing: Iterable[str] = (), unexpected: Iterable[str] = (),
                 mismatched: Iterable[str] = (), reason: str = ""):
        self.path = str(path)
        self.missing, self.unexpected, self.mismatched = list(missing), list(unexpected), list(mismatched)
        lines = [f"{path}: {reason or 'weights do not match the model'}"]
        for title, keys in (("missing", self.missing), ("unexpected", self.unexpected),
                            ("shape mismatch", self.mismatched)):
            if keys:
                lines.append(f"  {title} ({len(keys)}): " + ", ".join(keys[:50])
                             + (" ..." if len(keys) > 50 else ""))
        super().__init__("\n".join(lines))


class AnnotationError(SlowFastError, ValueError):
    """An annotation file (AVA CSV, label map, proposals) cannot be read: the path, the line when known, why."""

    def __init__(self, path: str, reason: str, line: Optional[int] = None):
        self.path, self.reason, self.line = str(path), reason, line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


class ExtensionBuildError(SlowFastError):
    """A C++ operator of paddlevideo_slowfast/ops could not be built or loaded: the library or tool, and why."""

    def __init__(self, what: str, reason: str):
        self.what, self.reason = str(what), reason
        super().__init__(f"{what}: {reason}")
