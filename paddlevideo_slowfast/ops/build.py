"""Compile this package's C++ operators against the installed Paddle once, into a cache folder, and load them.

The library lands in `<cache>/paddlevideo_slowfast/ops/<key>/` where the key hashes the sources, the compiler,
the flags and the Paddle build, so a changed source or another Paddle gets its own build and an unchanged one
is loaded in milliseconds. A file lock makes concurrent processes (paddle.distributed.launch ranks) wait for
one compile instead of racing. Nothing is downloaded: the compiler is the machine's, the headers and
libraries (libpaddle, oneDNN) are those of the Paddle wheel.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Sequence

from ..errors import ExtensionBuildError

CSRC = Path(__file__).resolve().parent / "csrc"
CACHE_ENV = "PADDLEVIDEO_SLOWFAST_CACHE"
COMPILE_TIMEOUT_S = 600

logger = logging.getLogger("paddlevideo_slowfast.ops")
CXX_FLAGS = ["-O2", "-std=c++17", "-fPIC", "-shared", "-w", "-DPADDLE_WITH_CUSTOM_KERNEL",
             "-D_GLIBCXX_USE_CXX11_ABI=1"]


def cache_root() -> Path:
    """$PADDLEVIDEO_SLOWFAST_CACHE, else $XDG_CACHE_HOME/paddlevideo_slowfast, else ~/.cache/paddlevideo_slowfast."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "paddlevideo_slowfast"


def find_compiler() -> str:
    """$CXX, else g++ or c++ on PATH."""
    for candidate in (os.environ.get("CXX"), "g++", "c++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise ExtensionBuildError("C++ compiler", "none found (no $CXX, g++ or c++ on PATH)")


def paddle_paths() -> dict:
    """Paddle's include folder, the folders of libpaddle.so and of the bundled libraries (libdnnl.so.3)."""
    import paddle

    root = Path(paddle.__file__).resolve().parent
    paths = {"include": root / "include", "base": root / "base", "libs": root / "libs"}
    for needed in (paths["include"] / "paddle" / "extension.h", paths["base"] / "libpaddle.so"):
        if not needed.is_file():
            raise ExtensionBuildError("Paddle", f"{needed} is missing (a Paddle wheel without custom-op support?)")
    return paths


def build_library(name: str, sources: Sequence[str], libraries: Sequence[str]) -> Path:
    """The shared library `name`.so built from csrc/`sources`, linked to libpaddle and Paddle's `libraries`."""
    compiler = find_compiler()
    paths = paddle_paths()
    for lib in libraries:
        if not (paths["libs"] / lib).is_file():
            raise ExtensionBuildError("Paddle", f"{paths['libs'] / lib} is missing (this Paddle build lacks it)")
    command = _command(compiler, paths, [CSRC / s for s in sources], libraries)
    folder = cache_root() / "ops" / _key(name, sources, command, compiler)
    target = folder / f"{name}.so"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_suffix(".lock")):
        if target.is_file():  # another process built it while this one waited
            return target
        partial = folder / f".{name}.{os.getpid()}.so"
        log = folder / "build.log"
        logger.info("compiling %s once into %s (about 20 s)", name, folder)
        try:
            proc = subprocess.run(command + ["-o", str(partial)], capture_output=True, text=True,
                                  timeout=COMPILE_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExtensionBuildError(compiler, f"could not run: {exc}") from exc
        log.write_text(" ".join(command) + "\n\n" + proc.stdout + proc.stderr)
        if proc.returncode != 0 or not partial.is_file():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ExtensionBuildError(f"compiling {name}", f"{compiler} exited with {proc.returncode}: {last[:300]} "
                                      f"(full log: {log})")
        os.replace(partial, target)
    return target


def load_library(path: Path) -> List[str]:
    """Register the operators of a built library with Paddle; returns their names."""
    from paddle.utils.cpp_extension.extension_utils import load_op_meta_info_and_register_op

    try:
        return list(load_op_meta_info_and_register_op(str(path)))
    except Exception as exc:  # a library Paddle cannot load: the caller falls back
        raise ExtensionBuildError(f"loading {path}", f"{type(exc).__name__}: {exc}"[:400]) from exc


def _command(compiler: str, paths: dict, sources: Sequence[Path], libraries: Sequence[str]) -> List[str]:
    include = paths["include"]
    python_include = sysconfig.get_paths()["include"]
    rpath = f"{paths['base']}:{paths['libs']}"
    # libpaddle first: its OpenMP (libiomp5) is then the one this library and oneDNN share
    links = ["-Wl,--no-as-needed", "-l:libpaddle.so"] + [f"-l:{lib}" for lib in libraries] + ["-Wl,--as-needed"]
    return ([compiler] + CXX_FLAGS + [f"-I{include}", f"-I{include / 'third_party'}", f"-I{python_include}",
                                      f"-I{CSRC}"]
            + [str(s) for s in sources]
            + [f"-L{paths['base']}", f"-L{paths['libs']}"] + links + [f"-Wl,-rpath,{rpath}"])


def _key(name: str, sources: Sequence[str], command: Sequence[str], compiler: str) -> str:
    import paddle

    digest = hashlib.sha256()
    for path in sorted(CSRC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    for part in (name, " ".join(sources), " ".join(command), version, paddle.__version__,
                 getattr(paddle.version, "commit", ""), sys.version):
        digest.update(str(part).encode() + b"\0")
    return f"{name}-{digest.hexdigest()[:16]}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if absent) for the block; released if the process dies."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
