"""One exit-status table for the whole CLI (ses_mail/cli/exit_codes.py, docs/exit-codes.md)."""
from __future__ import annotations

import ast
import io
import json
import re
import sys

import pytest

from ses_mail import cli
from ses_mail.cli.exit_codes import (EXIT_CHANGES, EXIT_FINDINGS, EXIT_INVALID, EXIT_OK, EXIT_SUSPENDED, EXIT_USAGE,
                                     STATUSES)
from tests.conftest import PROJECT_DIR

PACKAGE = PROJECT_DIR / "ses_mail"
TABLE = PACKAGE / "cli" / "exit_codes.py"


def test_every_command_has_its_statuses_in_the_table():
    assert set(STATUSES) == {"ses-mail", *cli.COMMANDS}
    for command, statuses in STATUSES.items():
        codes = [code for code, _ in statuses]
        assert codes == sorted(set(codes)) and EXIT_OK in codes and EXIT_USAGE in codes, command
    # The codes scripts rely on (docs/exit-codes.md).
    assert (EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_CHANGES, EXIT_SUSPENDED, EXIT_INVALID) == (0, 1, 2, 3, 3, 4)


def test_the_page_lists_every_status_of_the_table():
    page = (PROJECT_DIR / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([\w-]+)` \| (\d+) \| (.+) \|$", page, re.MULTILINE)
    assert rows == [(command, str(code), meaning) for command, statuses in STATUSES.items()
                    for code, meaning in statuses]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_no_module_defines_its_own_exit_codes_or_usage_error():
    for path, tree in _modules():
        if path == TABLE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                assert node.name != "UsageError", f"{path}: use ses_mail.cli.exit_codes.UsageError"
            if isinstance(node, ast.Assign):
                names = [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                assert not any(n.startswith("EXIT_") for n in names), f"{path}:{node.lineno}: {names}"


def test_commands_return_statuses_by_name():
    """A `return 2` in a command's module would be a status outside the table."""
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "main"):
            for node in ast.walk(fn):
                if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant):
                    assert not isinstance(node.value.value, int), f"{path}:{node.lineno}: return {node.value.value}"


def test_make_diff_relies_on_diff_s_changes_status():
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    assert f"if [ $$status -eq {EXIT_CHANGES} ]; then" in makefile
    assert EXIT_CHANGES in dict(STATUSES["diff"]) and EXIT_INVALID in dict(STATUSES["diff"])


# --- each command, run as users run it, exits with a status of its own rows ---------------------

SUSPENDED_OUTPUTS = json.dumps({"smtp_credentials": {"ann@example.com": {"status": "suspended"}}})
NO_TOKEN_ROSTER = "domains: []\n"


def _project(tmp_path, *, stack: bool = False):
    (tmp_path / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n", encoding="utf-8")
    if stack:
        (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n", encoding="utf-8")
    return tmp_path


CASES = [
    ("ses-mail", lambda d: [], EXIT_USAGE),
    ("ses-mail", lambda d: ["nope"], EXIT_USAGE),
    ("ses-mail", lambda d: ["--help"], EXIT_OK),
    ("validate", lambda d: ["validate", str(d / "missing.yaml")], EXIT_FINDINGS),
    ("validate", lambda d: ["validate", "--region", "mars-1", str(d / "r.yaml")], EXIT_USAGE),
    ("plan", lambda d: ["plan", "--project-dir", str(_project(d)), "--stack", "nope"], EXIT_USAGE),
    ("schema", lambda d: ["schema", "--check", "--project-dir", str(_project(d))], EXIT_FINDINGS),
    ("diff", lambda d: ["diff", "--base-roster", str(d / "missing.yaml"), "--project-dir", str(_project(d, stack=True))],
     EXIT_USAGE),
    ("credentials", lambda d: ["credentials", "ann@example.com", "--file", str(d / "suspended.json")], EXIT_SUSPENDED),
    ("credentials", lambda d: ["credentials", "bob@example.com", "--file", str(d / "suspended.json")], EXIT_USAGE),
    ("doctor", lambda d: ["doctor", "--project-dir", str(_project(d)), "--stack", "nope"], EXIT_USAGE),
    ("audit", lambda d: ["audit", "--project-dir", str(_project(d)), "--stack", "nope"], EXIT_USAGE),
    ("adopt", lambda d: ["adopt", "--roster", str(d / "r.yaml"), "--project-dir", str(d)], EXIT_USAGE),
]


@pytest.mark.parametrize("command,argv,expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_command_exits_with_a_status_of_its_table(tmp_path, monkeypatch, capsys, command, argv, expected):
    (tmp_path / "suspended.json").write_text(SUSPENDED_OUTPUTS, encoding="utf-8")
    (tmp_path / "r.yaml").write_text(NO_TOKEN_ROSTER, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    code = cli.main(argv(tmp_path))
    assert code == expected, capsys.readouterr()
    assert code in dict(STATUSES[command]), f"{command} returned {code}, which its rows do not document"
    assert "Traceback" not in capsys.readouterr().err
