"""The README's CLI section lists every command the parser has, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_cli_errors import subcommands

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> set[tuple[str, ...]]:
    section = README.read_text().split("\n## CLI\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    found = set()
    for line in block.splitlines():
        if not line.startswith("sqlgate "):
            continue
        words = []
        for word in line.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            words.append(word)
        found.add(tuple(words))
    return found


def test_the_readme_lists_every_command() -> None:
    listed = readme_commands()
    assert ("query",) in listed and ("connections", "remove") in listed
    assert listed == set(subcommands())
