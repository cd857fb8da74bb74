"""The trusted pull request comment (ses_mail/cli/trusted_comment.py), run exactly as the
privileged job of .github/workflows/pull-request-comment.yml runs it, in scratch git repositories:

- `origin` holds the project (a copy of this package's code, its own stack file and roster);
  a pull request branch adds a person AND rewrites the renderer to print "No changes";
- `trusted` is a clone at the default branch (the job's checkout); the workflow step's own
  `run:` script fetches the pull request's head by ref from `origin` and renders the comment.

The comment still lists the person, because the pull request's code never runs. A control run of
the same diff from a checkout of the pull request shows the forged renderer does work there,
so the test would fail if the job ran pull request code.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR

WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "pull-request-comment.yml"
RENDER = "ses_mail/review/render.py"

ROSTER = """
domains:
  - name: shop.example
people:
  - email: ann@shop.example
"""
STACK = """
config:
  aws:region: eu-west-1
  ses-mail:roster: config/dev.yaml
"""
FORGED = '''

def render_markdown(reports, limit=MARKDOWN_LIMIT):  # the pull request's forgery
    return MARKER + "\\n## Offline plan diff\\n\\n**No changes.**\\n"
'''


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          capture_output=True, text=True, check=True, timeout=120).stdout.strip()


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def step_script() -> tuple[str, dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [step] = [s for s in workflow["jobs"]["comment"]["steps"] if "trusted_comment" in s.get("run", "")]
    return step["run"], step.get("env", {})


def run_step(trusted: Path, *, base: str, head: str, number: str, tmp: Path) -> subprocess.CompletedProcess:
    """The workflow step's `run:` as the runner runs it: venv/bin/python is the default branch's
    install (here: a link to the interpreter running these tests, with the trusted clone first on
    PYTHONPATH so that its copy of ses_mail is the one imported)."""
    script, _ = step_script()
    python = trusted / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "PYTHONPATH": str(trusted),
           "BASE_SHA": base, "HEAD_SHA": head, "PR_NUMBER": number, "RUNNER_TEMP": str(tmp),
           "GIT_FETCH_TOKEN": "", "PYTHONDONTWRITEBYTECODE": "1", "GITHUB_OUTPUT": str(tmp / "output")}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=trusted,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture()
def forged_pr(tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    shutil.copytree(PROJECT_DIR / "ses_mail", origin / "ses_mail",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(PROJECT_DIR / name, origin / name)
    write(origin, "Pulumi.dev.yaml", STACK)
    write(origin, "config/dev.yaml", ROSTER)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "base")
    base = git(origin, "rev-parse", "HEAD")
    git(origin, "checkout", "-q", "-b", "pr")
    write(origin, "config/dev.yaml", ROSTER + "  - email: mallory@shop.example\n    name: Mallory\n")
    with open(origin / RENDER, "a", encoding="utf-8") as f:
        f.write(FORGED)
    write(origin, "requirements.txt", "evil-package==1.0\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "add a person; forge the renderer")
    head = git(origin, "rev-parse", "HEAD")
    # GitHub's refs/pull/N/head, which the job fetches.
    git(origin, "update-ref", "refs/pull/7/head", head)
    git(origin, "checkout", "-q", "main")
    trusted = tmp_path / "trusted"
    git(tmp_path, "clone", "-q", str(origin), str(trusted))
    return origin, trusted, base, head


def test_a_forged_renderer_cannot_hide_a_new_person(forged_pr, tmp_path):
    origin, trusted, base, head = forged_pr
    done = run_step(trusted, base=base, head=head, number="7", tmp=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "output").read_text() == "status=3\n"  # changes
    comment = (tmp_path / "comment.md").read_text(encoding="utf-8")
    assert "mallory@shop.example" in comment
    assert "**No changes.**" not in comment
    assert comment.startswith("<!-- ses-mail:offline-plan-diff -->\n")
    # The comment says what the roster diff cannot show.
    assert "also changes files that a roster diff cannot show" in comment
    assert "**program code** (1): `ses_mail/review/render.py`" in comment
    assert "**dependencies** (1): `requirements.txt`" in comment
    # The trusted clone never checked out the pull request: its renderer is the default branch's.
    assert "forgery" not in (trusted / RENDER).read_text(encoding="utf-8")

    # Control: the same diff run from a checkout of the pull request is fooled, so the check above
    # is one that running pull request code would fail.
    git(origin, "checkout", "-q", "pr")
    fooled = subprocess.run([sys.executable, "-c", "import sys; from ses_mail.cli import main; sys.exit(main(sys.argv[1:]))",
                             "diff", "--base", base, "--format", "markdown"],
                            cwd=origin, env={**os.environ, "PYTHONPATH": str(origin)},
                            capture_output=True, text=True, timeout=600)
    assert "**No changes.**" in fooled.stdout and "mallory" not in fooled.stdout, fooled.stderr


def test_the_pull_request_must_still_be_at_the_events_head(forged_pr, tmp_path):
    origin, trusted, base, head = forged_pr
    done = run_step(trusted, base=base, head=base, number="7", tmp=tmp_path)
    assert done.returncode != 0 and "a newer run will comment" in done.stderr
    assert not (tmp_path / "comment.md").exists()


def test_unknown_fields_and_escaping_roster_paths_are_reported(tmp_path):
    from ses_mail.cli import trusted_comment

    origin = tmp_path / "repo"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", origin / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "__main__.py", origin / "__main__.py")
    write(origin, "Pulumi.dev.yaml", STACK)
    write(origin, "config/dev.yaml", ROSTER)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "base")
    base = git(origin, "rev-parse", "HEAD")
    write(origin, "config/dev.yaml", ROSTER + "    shoe_size: 44\n")
    write(origin, "Pulumi.dev.yaml", STACK + "  ses-mail:newKnob: on\n")
    git(origin, "commit", "-qam", "fields from the future")
    head = git(origin, "rev-parse", "HEAD")
    git(origin, "checkout", "-q", base)
    out = tmp_path / "comment.md"
    status = trusted_comment.main(["--base", base, "--head", head, "--project-dir", str(origin), "--output", str(out)])
    comment = out.read_text(encoding="utf-8")
    assert status == 4  # the default branch's model rejects the unknown field: invalid head roster
    assert "fields the default branch's code does not know" in comment
    assert "shoe_size" in comment and "ses-mail:newKnob" in comment

    # A stack file naming a roster outside the repository is refused before anything is read.
    git(origin, "checkout", "-q", "main")
    write(origin, "Pulumi.dev.yaml", STACK.replace("config/dev.yaml", "../../etc/passwd.yaml"))
    git(origin, "commit", "-qam", "escape")
    escape = git(origin, "rev-parse", "HEAD")
    git(origin, "checkout", "-q", base)
    assert trusted_comment.main(["--base", base, "--head", escape, "--project-dir", str(origin),
                                 "--output", str(out)]) == 2

    # A roster that is a symlink at the head is not data.
    git(origin, "checkout", "-q", "main")
    (origin / "config" / "dev.yaml").unlink()
    (origin / "config" / "dev.yaml").symlink_to("/etc/hostname")
    git(origin, "commit", "-qam", "symlink")
    link = git(origin, "rev-parse", "HEAD")
    git(origin, "checkout", "-q", base)
    assert trusted_comment.main(["--base", base, "--head", link, "--project-dir", str(origin),
                                 "--output", str(out)]) == 2
