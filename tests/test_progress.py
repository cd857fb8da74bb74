"""Progress on a terminal for long offline runs, and none anywhere else."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

PEOPLE = 150


@pytest.fixture
def big_roster(tmp_path: Path) -> Path:
    path = tmp_path / "roster.yaml"
    people = "".join(f"  - email: person{i}@example.com\n" for i in range(PEOPLE))
    path.write_text("domains:\n  - name: example.com\npeople:\n" + people, encoding="utf-8")
    return path


def ses_mail(*args: str, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    return subprocess.run([sys.executable, "-m", "ses_mail", *args], cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=300, env={**env, "TERM": "xterm"})


def test_piped_plan_and_diff_print_no_progress(big_roster, tmp_path):
    done = ses_mail("plan", "--roster", str(big_roster))
    assert done.returncode == 0 and done.stderr == ""
    # 3 per person, 8 for the domain, 7 for the stack's configuration set, feedback topic and alarms.
    assert f"{PEOPLE * 3 + 8 + 7} resources to create" in done.stdout
    base = tmp_path / "base.yaml"
    base.write_text(big_roster.read_text().rsplit("  - email:", 1)[0], encoding="utf-8")
    done = ses_mail("diff", "--base-roster", str(base), "--roster", str(big_roster))
    assert done.returncode == 3 and done.stderr == ""


def test_a_terminal_sees_a_live_count_of_registrations(big_roster):
    leader, follower = pty.openpty()
    seen: list[bytes] = []

    def read() -> None:  # drained as it comes, so a full terminal buffer never blocks the run
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = ses_mail("plan", "--roster", str(big_roster), stderr=follower)
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert done.returncode == 0
    shown = b"".join(seen).decode("utf-8", "replace")
    assert "stack dev under the mock engine" in shown and "resources registered" in shown
    assert "Offline plan" not in shown  # the plan itself goes to stdout
