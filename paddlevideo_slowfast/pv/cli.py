"""`python -m paddlevideo_slowfast.pv train|test|export`: PaddleVideo's own workflow (its `main.py` and
`tools/export_model.py` flags, its task functions) running our SlowFast components through the plugin.

Each verb imports PaddleVideo, registers our components (`plugin.register`), loads the config with our loader
(`_BASE_` inheritance, `-o key=value` typed without eval, errors naming file and key), routes the config's
component names to our registered entries, and calls PaddleVideo's `train_model` / `test_model` / export path.
"""
from __future__ import annotations

import argparse
import logging
import random
from types import ModuleType
from typing import Any, List, Optional, Tuple


log = logging.getLogger("paddlevideo_slowfast.pv")


def _common(parser: argparse.ArgumentParser, overrides: str) -> None:
    parser.add_argument("-c", "--config", required=True, metavar="FILE", help="config in PaddleVideo's layout "
                        "(configs/paddlevideo/*.yaml); _BASE_ inheritance works as in our own configs")
    parser.add_argument(*(["-o", "--override"] if overrides == "-o" else ["--override"]), dest="override",
                        action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override a config value: KEY.path=VALUE (YAML-typed); +KEY=VALUE adds a new key")
    parser.add_argument("--device", choices=["cpu", "gpu"], default=None,
                        help="where PaddleVideo's code runs; its trainer and tester call paddle.set_device('gpu') "
                        "unconditionally, so a CPU-only Paddle needs --device cpu (default: gpu for train/test, "
                        "Paddle's default for export)")
    parser.add_argument("--paddlevideo", metavar="DIR",
                        help="a PaddleVideo checkout to import from (default: the importable paddlevideo, or "
                        "$PADDLEVIDEO_DIR)")
    parser.add_argument("--suffix", default=None, metavar="S",
                        help="suffix of our names in PaddleVideo's registries (default _PVSF)")
    parser.add_argument("--replace", action="store_true",
                        help="put ours in place of PaddleVideo's same-named entries (logged) instead of clashing")
    parser.add_argument("--no-route", dest="route", action="store_false",
                        help="keep the config's component names as written: plain names then mean PaddleVideo's own "
                        "components, NAME_PVSF ours")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m paddlevideo_slowfast.pv",
                                     description="PaddleVideo's own train/test/export with our SlowFast components "
                                     "registered (docs/paddlevideo.md)")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = verbs.add_parser("train", help="PaddleVideo's train_model (main.py)")
    _common(train, "-o")
    train.add_argument("-w", "--weights", help="weights to fine-tune from (PaddleVideo loads them non-strictly)")
    train.add_argument("--validate", action="store_true", help="evaluate on DATASET.valid every val_interval epochs")
    train.add_argument("--seed", type=int, default=1234,
                       help="seed of Python, NumPy and Paddle (PaddleVideo's default)")
    train.add_argument("--amp", action="store_true", help="mixed precision (GPU)")
    train.add_argument("--amp_level", default=None, choices=["O1", "O2"], help="amp level (default O1 with --amp)")
    train.add_argument("--max_iters", type=int, default=None, help="stop each epoch after this many iterations")
    train.set_defaults(_run=run_train)
    test = verbs.add_parser("test", help="PaddleVideo's test_model (main.py --test)")
    _common(test, "-o")
    test.add_argument("-w", "--weights", required=True, help="weights to test (.pdparams)")
    test.add_argument("--seed", type=int, default=1234, help="seed of Python, NumPy and Paddle")
    test.set_defaults(_run=run_test)
    export = verbs.add_parser("export", help="PaddleVideo's tools/export_model.py")
    _common(export, "--override")
    export.add_argument("-p", "--pretrained_params", required=True, metavar="WEIGHTS", help="weights to export")
    export.add_argument("-o", "--output_path", default="./inference", metavar="DIR", help="output folder")
    export.add_argument("--save_name", default=None, help="file name of the model (default: model_name)")
    export.set_defaults(_run=run_export)
    return parser


def prepare(args: argparse.Namespace) -> Tuple[ModuleType, Any, Any, Optional[str]]:
    """(paddlevideo module, Registration, config, our framework to build under a name PaddleVideo's loops test
    literally, or None) for a verb: import, register, load, route (pv/framework.py)."""
    from ..config import load_config
    from ..plugin import DEFAULT_SUFFIX, import_paddlevideo, register, route_config
    from .framework import literal

    pv = import_paddlevideo(args.paddlevideo)
    registration = register(pv, suffix=DEFAULT_SUFFIX if args.suffix is None else args.suffix,
                            replace=args.replace)
    cfg = load_config(args.config, args.override)
    if args.route:
        for key, old, new in route_config(cfg, registration.names):
            log.info("%s: %s -> %s (paddlevideo_slowfast)", key, old, new)
    return pv, registration, cfg, literal(cfg, registration.names, plain_is_ours=args.route)


def _seed(seed: Optional[int]) -> None:
    import numpy as np
    import paddle

    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
        paddle.seed(seed)


def _parallel() -> bool:
    """Several processes (paddle.distributed.launch) -> PaddleVideo's DataParallel, as its main.py decides."""
    import paddle.distributed as dist

    parallel = dist.get_world_size() != 1
    if parallel:
        dist.init_parallel_env()
    return parallel


def run_train(args: argparse.Namespace) -> int:
    from ..plugin.importer import submodule
    from .device import paddlevideo_device, resolve_device
    from .framework import framework_builder
    from .safe_load import restricted_load

    pv, _, cfg, framework = prepare(args)
    device = resolve_device(args.device)
    _seed(args.seed)
    amp_level = (args.amp_level or "O1") if args.amp else None
    module = submodule(pv, "tasks.train")
    with paddlevideo_device(device, [module]), restricted_load([module]), framework_builder(framework, [module]):
        module.train_model(cfg, weights=args.weights, parallel=_parallel(), validate=args.validate,
                           use_amp=args.amp, amp_level=amp_level, max_iters=args.max_iters)
    print(f"training finished; checkpoints in {cfg.get('output_dir', f'./output/{cfg.model_name}')}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    from ..plugin.importer import submodule
    from .device import paddlevideo_device, resolve_device
    from .framework import framework_builder
    from .safe_load import restricted_load

    pv, _, cfg, framework = prepare(args)
    device = resolve_device(args.device)
    _seed(args.seed)
    module = submodule(pv, "tasks.test")
    with paddlevideo_device(device, [module]), restricted_load([module]), framework_builder(framework, [module]):
        module.test_model(cfg, weights=args.weights, parallel=_parallel())
    return 0


def run_export(args: argparse.Namespace) -> int:
    import paddle

    from .device import resolve_device
    from .export import export_paddlevideo

    pv, _, cfg, framework = prepare(args)
    if args.device:  # PaddleVideo's exporter leaves Paddle's default device
        paddle.set_device(resolve_device(args.device))
    result = export_paddlevideo(pv, cfg, args.pretrained_params, args.output_path, args.save_name,
                                framework=framework)
    print(f"model ({result['model_name']}) saved in {args.output_path}: "
          + ", ".join(f.rsplit("/", 1)[-1] for f in result["files"]))
    print("inputs: " + "; ".join(f"{i['name']} {i['shape']}" for i in result["inputs"]))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m paddlevideo_slowfast.pv`."""
    from ..cli import dispatch
    from ..engine.logging import setup_logging

    return dispatch(build_parser(), argv, lambda args: setup_logging(None))
