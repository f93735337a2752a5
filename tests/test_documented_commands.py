"""Every `paddlevideo VERB ...` line that README.md and docs/*.md show parses with the real CLI parser, and the
config it names (with its `-o` overrides) loads: a documented flag that does not exist or a documented override the
schema refuses is a failing test, not a user's surprise. Lines with placeholders (DIR, CONFIG, N, ...) are templates
and only their verb is checked. Running the jobs themselves is left to the tests of each verb."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import List, Tuple

import pytest

from paddlevideo_slowfast.cli import build_parser
from paddlevideo_slowfast.config import load_config

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"(^|[\s=/])([A-Z][A-Z_0-9]*)(\.[a-z]+)?($|\s)|\.\.\.|\|")
CONFIG_DIRS = ("", "configs", "configs/recognition/slowfast")


def _code_lines(text: str) -> List[str]:
    """Lines of fenced blocks (continuations joined) and inline code spans."""
    lines: List[str] = []
    fenced = False
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            line = pending + raw.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            lines.append(line)
        else:
            lines.extend(re.findall(r"`([^`]+)`", raw))
    return lines


def documented() -> List[Tuple[str, str]]:
    """(where, command) for every `paddlevideo ...` line of the docs, comments cut."""
    found = []
    for path in DOCS:
        for line in _code_lines(path.read_text(encoding="utf-8")):
            line = line.split(" #")[0].strip()
            if line.startswith("paddlevideo ") and not line.startswith("paddlevideo_"):
                found.append((path.name, line))
    return sorted(set(found))


def _config(value: str) -> Path:
    for folder in CONFIG_DIRS:
        path = REPO / folder / value
        if path.is_file():
            return path
    return Path()


@pytest.mark.parametrize("where,command", documented(), ids=lambda x: x if len(x) < 60 else x[:60])
def test_documented_command_parses_and_its_config_loads(where: str, command: str) -> None:
    args = shlex.split(command)[1:]
    verbs = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001 (argparse keeps them there)
    named = next(a for a in args if not a.startswith("-"))
    assert set(named.split("|")) <= set(verbs), f"{where}: unknown verb in `{command}`"
    if len(args) == 1 or PLACEHOLDER.search(command.split(" ", 2)[-1]):
        return  # prose naming a verb, or a template
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{where}: `{command}` does not parse (exit {exc.code})")
    config = getattr(parsed, "config", None) or getattr(parsed, "c", None)
    if config and _config(config).is_file():
        load_config(str(_config(config)), list(getattr(parsed, "override", None) or []))


def test_the_docs_document_commands() -> None:
    assert len(documented()) > 30
