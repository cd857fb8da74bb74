"""requirements.txt and pyproject.toml's dependencies name the same runtime requirements."""
from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_txt_equals_pyproject_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(_requirements()) == sorted(pyproject["project"]["dependencies"])


def test_live_commands_runtime_needs_are_runtime_requirements():
    names = {re.split(r"[<>=!~\[ ]", r, 1)[0].lower() for r in _requirements()}
    assert {"boto3", "dnspython"} <= names
