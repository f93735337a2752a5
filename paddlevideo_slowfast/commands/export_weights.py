"""Re-save weights (.pdparams or .safetensors, a path or a URL) in another format: safetensors files hold only
tensors, so they can be shared and loaded (-w) without unpickling anything."""
from __future__ import annotations

import argparse
import os

FORMATS = {"safetensors": ".safetensors", "pdparams": ".pdparams"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--weights", required=True, metavar="IN",
                        help="weights to read: .pdparams or .safetensors, a path or an http(s) URL")
    parser.add_argument("--format", default="safetensors", choices=sorted(FORMATS),
                        help="output format (default safetensors)")
    parser.add_argument("--output", required=True, metavar="OUT", help="output file")


def run(args: argparse.Namespace) -> int:
    from ..errors import CheckpointError
    from ..interop.weights import read_weights, save_weights

    suffix = FORMATS[args.format]
    if not args.output.endswith(suffix):
        raise CheckpointError(args.output, reason=f"--format {args.format} writes a {suffix} file; "
                              f"name the output accordingly")
    state = read_weights(args.weights)
    save_weights(state, args.output, metadata={"source": os.path.basename(args.weights)})
    print(f"wrote {len(state)} tensors to {args.output}")
    return 0
