"""Print the fully merged config (after _BASE_ and -o) and the file each top-level key came from.

Loading checks it (schema types and ranges, restated facts that must agree): a bad value exits 2 with one line.
"""
from __future__ import annotations

import argparse

from ..config import config_file, describe_sources, dump_config
from ..config_schema import schema_path
from .common import add_config_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    print(f"# config: {config_file(cfg)}")
    print(f"# checked against: {schema_path()} and the alpha/frames/crop agreement")
    for key, source in describe_sources(cfg):
        print(f"# {key}: {source}")
    print(dump_config(cfg), end="")
    return 0
