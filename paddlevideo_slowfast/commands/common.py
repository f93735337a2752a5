"""Arguments shared by verbs that read a config."""
from __future__ import annotations

import argparse

from ..config import AttrDict, load_config

OVERRIDE_HELP = ("override a config value, PaddleVideo style: -o key.path=value (repeatable, several per flag; "
                 "values are YAML: 3, 1e-4, [1,2], true). List entries by index or by stage name: "
                 "PIPELINE.train.transform.MultiCrop.target_size=64. Overriding a key that does not exist "
                 "is an error; to add one under an existing mapping prefix it with '+': -o +MODEL.head.new_key=1")


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """-c FILE and -o key=value."""
    parser.add_argument("-c", "--config", required=required, metavar="FILE",
                        help="config YAML; a bare name such as slowfast.yaml resolves to the shipped copy "
                        "when no such local file exists")
    parser.add_argument("-o", "--override", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help=OVERRIDE_HELP)


def config_from_args(args: argparse.Namespace) -> AttrDict:
    """The merged config named by -c with the -o overrides applied."""
    return load_config(args.config, args.override)
