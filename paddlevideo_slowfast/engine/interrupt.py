"""Ctrl-C as one line and exit 130.

Python raises KeyboardInterrupt wherever the main thread happens to be; inside a PyLayer's backward (our
conv3d fold's transpose) Paddle wraps it in an OSError with a C++ trace. `deferred_interrupt` turns the first
SIGINT into a request that the training loop honours between micro-batches, so nothing is wrapped;
`is_interrupt` still recognises a wrapped one for every other verb.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional


class Interrupted(KeyboardInterrupt):
    """A Ctrl-C that carries the one line to print (where the last complete checkpoint is)."""


class StopRequest:
    """Set by the first SIGINT inside `deferred_interrupt`."""

    def __init__(self) -> None:
        self.requested = False


def is_interrupt(exc: Optional[BaseException]) -> bool:
    """Whether `exc` is a KeyboardInterrupt, or carries one: in its cause/context chain, or in the message of
    the OSError/RuntimeError Paddle raises when a Python callback (a PyLayer backward) was interrupted."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        if isinstance(exc, (OSError, RuntimeError)) and "KeyboardInterrupt" in str(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def interrupt_message(exc: BaseException) -> str:
    """The one line the CLI prints for an interrupt."""
    if isinstance(exc, Interrupted) and exc.args:
        return str(exc.args[0])
    return "interrupted"


@contextmanager
def deferred_interrupt() -> Iterator[StopRequest]:
    """Within the block the first Ctrl-C only sets `request.requested`; a second one interrupts at once.

    Does nothing outside the main thread (only it can set signal handlers) or where SIGINT is ignored.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):
        yield request
        return

    def first(signum, frame) -> None:
        request.requested = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, first)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
