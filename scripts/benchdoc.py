"""docs/benchmarks.md sections: each benchmark script owns the text between its two markers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional


def write_section(name: str, section: str, path: Path) -> None:
    """Put `section` between `<!-- name:start -->` and `<!-- name:end -->` in `path`, keeping everything else."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section}\n{end}"
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def publish(name: str, section: str, docs: Optional[str]) -> None:
    """Print a benchmark's section and, when `docs` names a file, write it there as section `name`."""
    print("\n" + section)
    if docs:
        write_section(name, section, Path(docs))
        print(f"\nwrote {docs}")
