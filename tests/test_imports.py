"""Imports between the package's layers run one way: modeling <- deploy <- engine, runtime below them all.

Every import statement counts, also those inside functions (the package imports lazily to keep `--help` fast).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Set

PACKAGE = "paddlevideo_slowfast"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Set[str]:
    """The package modules `path` imports, absolute (`from .x import y` gives both `...x` and `...x.y`)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {module for module in found if module == PACKAGE or module.startswith(PACKAGE + ".")}


def import_graph() -> Dict[str, Set[str]]:
    return {_module_name(path): _imports(path) for path in ROOT.rglob("*.py")}


def _in(module: str, layer: str) -> bool:
    full = f"{PACKAGE}.{layer}"
    return module == full or module.startswith(full + ".")


def test_modeling_imports_neither_engine_nor_deploy() -> None:
    bad = {m: sorted(i for i in imports if _in(i, "engine") or _in(i, "deploy") or _in(i, "commands"))
           for m, imports in import_graph().items() if _in(m, "modeling")}
    assert not {m: i for m, i in bad.items() if i}


def test_runtime_imports_no_layer_above_it() -> None:
    imports = import_graph()[f"{PACKAGE}.runtime"]
    assert not [i for i in imports if any(_in(i, layer) for layer in ("engine", "deploy", "modeling", "commands"))]


def test_deploy_imports_no_engine() -> None:
    bad = {m: sorted(i for i in imports if _in(i, "engine") or _in(i, "commands"))
           for m, imports in import_graph().items() if _in(m, "deploy")}
    assert not {m: i for m, i in bad.items() if i}


def test_engine_uses_deploy_only_for_the_eval_predictor() -> None:
    uses = {m: sorted(i for i in imports if _in(i, "deploy"))
            for m, imports in import_graph().items() if _in(m, "engine")}
    assert {m: i for m, i in uses.items() if i} == {
        f"{PACKAGE}.engine.evaluator": [f"{PACKAGE}.deploy.eval_predictor", f"{PACKAGE}.deploy.eval_predictor.accelerate_for_eval"]}


def test_evaluator_does_not_import_the_trainer() -> None:
    """The trainer validates through the evaluator; the way back would make a cycle."""
    imports = import_graph()[f"{PACKAGE}.engine.evaluator"]
    assert not [i for i in imports if _in(i, "engine.trainer")]


def test_the_checker_sees_relative_and_lazy_imports() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.engine.evaluator" in graph[f"{PACKAGE}.engine.trainer"]  # `from .evaluator import evaluate` in a method
    assert f"{PACKAGE}.runtime" in graph[f"{PACKAGE}.deploy.eval_predictor"]    # `from ..runtime import ...`
