"""Shared fixtures: write rosters to temporary files and run the real program under mocks."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from ses_mail.review.engine import ProgramRun, run_program  # noqa: E402

# Fixtures of the support modules, for every test without importing them by name (an imported
# fixture reads as an unused import, and a test's parameter of that name as a redefinition).
pytest_plugins = ("tests.credential_helpers", "tests.support.dns_server", "tests.support.live_aws",
                  "tests.support.smtp_server")

EXAMPLE_ROSTER = PROJECT_DIR / "config" / "roster.yaml"

BASIC = """
domains:
  - name: test1.com
people:
  - email: taro@test1.com
    name: Taro Yamada
  - email: hanako@test1.com
"""


@pytest.fixture
def write_roster(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "roster.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    return write


@pytest.fixture
def run(write_roster) -> Callable[..., ProgramRun]:
    """Run the program for roster text (or a path) with the dev stack's config."""
    def go(roster: str | Path = BASIC, **kwargs) -> ProgramRun:
        path = roster if isinstance(roster, Path) else write_roster(roster)
        kwargs.setdefault("region", "eu-west-1")
        return run_program(roster=path, **kwargs)
    return go
