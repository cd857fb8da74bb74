"""Release helpers for .github/workflows/release.yml (standard library only).

    python tools/release_notes.py check TAG     # TAG is v<version of pyproject.toml>, and CHANGELOG.md has it
    python tools/release_notes.py notes TAG     # that version's section of CHANGELOG.md, for the GitHub release
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def section(text: str, wanted: str) -> str | None:
    """The body of `## [wanted]` up to the next `## ` heading or the link references."""
    match = re.search(rf"^## \[{re.escape(wanted)}\][^\n]*\n(.*?)(?=^## |^\[[^\]]+\]: |\Z)", text, re.S | re.M)
    return match[1].strip() + "\n" if match else None


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "notes") or not re.fullmatch(r"v\d+\.\d+\.\d+([a-z0-9.]*)", argv[1]):
        print(__doc__, file=sys.stderr)
        return 2
    command, tag = argv
    wanted = tag[1:]
    notes = section((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), wanted)
    if wanted != version():
        print(f"error: tag {tag} but pyproject.toml has version {version()}", file=sys.stderr)
        return 1
    if not notes:
        print(f"error: CHANGELOG.md has no section ## [{wanted}]", file=sys.stderr)
        return 1
    if command == "notes":
        sys.stdout.write(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
