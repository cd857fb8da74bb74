"""ruff (the rules in pyproject.toml) and mypy (strict on the pure core) are clean: `make test` runs both."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900)


def test_ruff_is_clean():
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    result = _run("mypy", "ses_mail")
    assert result.returncode == 0, result.stdout + result.stderr
