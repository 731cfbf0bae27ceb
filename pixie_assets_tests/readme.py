"""The README's shell commands, read from the README itself, so tests run them as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"```bash\n(.*?)```", re.DOTALL)


def section(title: str) -> str:
    """The README text from the heading ``title`` (any level) to the next heading of the same
    or a higher level."""
    text = README.read_text()
    match = re.search(rf"^(#+) {re.escape(title)}\s*$", text, re.MULTILINE)
    if match is None:
        raise LookupError(f"README.md has no heading {title!r}")
    level = len(match[1])
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def bash_commands(title: str) -> list[str]:
    """Every command line of the section's ```bash blocks: comments dropped, backslash
    continuations joined."""
    commands: list[str] = []
    for block in _FENCE.findall(section(title)):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if line:
                commands.append(line)
    return commands
