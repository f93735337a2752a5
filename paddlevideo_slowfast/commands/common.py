"""Arguments shared by verbs that read a config."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any, Callable, Union

from ..config import AttrDict, load_config
from ..errors import ConfigError

OVERRIDE_HELP = ("override a config value, PaddleVideo style: -o key.path=value (repeatable, several per flag; "
                 "values are YAML: 3, 1e-4, [1,2], true). List entries by index or by stage name: "
                 "PIPELINE.train.transform.JitterScale.max_size=288. Overriding a key that does not exist "
                 "is an error; to add one under an existing mapping prefix it with '+': -o +MODEL.head.new_key=1")


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """-c FILE and -o key=value."""
    parser.add_argument("-c", "--config", required=required, metavar="FILE",
                        help="config YAML; a bare name such as slowfast.yaml resolves to the shipped copy "
                        "when no such local file exists")
    parser.add_argument("-o", "--override", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help=OVERRIDE_HELP)


def config_from_args(args: argparse.Namespace) -> AttrDict:
    """The merged config named by -c with the -o overrides applied, checked (schema, agreement) before any use."""
    return load_config(args.config, args.override)


def positive(kind: type) -> Callable[[str], Any]:
    """An argparse `type` taking numbers > 0 of `kind` (int or float): 0 or less is a usage error (exit 2)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def writable_folder(folder: Union[str, Path], key: str) -> Path:
    """Create `folder` (and its parents) and check that a file can be written in it, before any work is done;
    a ConfigError naming the folder and the option `key` that chose it otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write_check_"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder {folder}: {exc.strerror or exc}", key=key,
                          expected="a folder this user may create and write") from None
    return folder
