"""The fast validate command and its pre-commit hook definition."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from ses_mail.cli import validate
from ses_mail.project import find_project
from tests.conftest import EXAMPLE_ROSTER, PROJECT_DIR


def run_validate(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ses_mail", "validate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_valid_rosters_exit_0():
    done = run_validate(str(EXAMPLE_ROSTER))
    assert done.returncode == 0, done.stderr
    assert "1 of 1 roster file valid" in done.stderr


def test_without_arguments_every_stack_roster_is_checked():
    assert EXAMPLE_ROSTER in validate.configured_rosters(find_project(PROJECT_DIR))
    assert run_validate().returncode == 0


def test_invalid_rosters_exit_1_with_file_line_messages(tmp_path):
    bad = tmp_path / "roster.yaml"
    bad.write_text("domains:\n  - name: example.com\n    mailfrom: mail\npeople:\n  - emial: taro@example.com\n")
    done = run_validate(str(EXAMPLE_ROSTER), str(bad))
    assert done.returncode == 1
    assert f"{bad}:3: domains[0].mailfrom: is not a known field (a typo?)" in done.stderr
    assert f"{bad}:5: people[0].emial: is not a known field (a typo?)" in done.stderr
    assert "1 of 2 roster files valid" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_file_is_an_error_not_a_crash(tmp_path):
    done = run_validate(str(tmp_path / "nope.yaml"))
    assert done.returncode == 1 and "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_validation_needs_no_pulumi():
    """Fast enough for a hook: importing Pulumi is refused and validation still works."""
    code = ("import sys; sys.modules['pulumi'] = None; sys.modules['pulumi_aws'] = None\n"
            "from ses_mail.cli.validate import main; sys.exit(main([sys.argv[1]]))")
    done = subprocess.run([sys.executable, "-c", code, str(EXAMPLE_ROSTER)], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_pre_commit_hook_definition():
    hooks = yaml.safe_load((PROJECT_DIR / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "validate-roster")
    assert hook["language"] == "python"
    assert hook["entry"] == "ses-mail validate"
    assert hook["files"]  # limited to roster files, which pre-commit passes as arguments
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["ses-mail"] == "ses_mail.cli:main"


def test_the_package_depends_on_exactly_the_runtime_requirements():
    """pyproject's dependencies and requirements.in (the ranges `make lock` pins into
    requirements.txt, what `pulumi up` installs) say the same."""
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    wanted = [line.split("#")[0].strip() for line in (PROJECT_DIR / "requirements.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert sorted(project["project"]["dependencies"]) == sorted(wanted)


def test_the_prove_extra_is_exactly_requirements_prove():
    """`pip install 'ses-mail-roster[prove]'` and the hash-locked requirements-prove.lock install
    the same libraries, which the test tools include too."""
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    wanted = [line.split("#")[0].strip() for line in (PROJECT_DIR / "requirements-prove.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert sorted(project["project"]["optional-dependencies"]["prove"]) == sorted(wanted)
    assert "-r requirements-prove.in" in (PROJECT_DIR / "requirements-dev.in").read_text().splitlines()


def test_each_roster_is_measured_with_its_stacks_region_and_longest_configuration_set(tmp_path):
    """The send policy names the stack's configuration set: validate measures with the longest
    set name among the stacks using a roster, and the region of the first."""
    (tmp_path / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n")
    (tmp_path / "roster.yaml").write_text("domains:\n  - name: example.com\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n")
    (tmp_path / "Pulumi.production.yaml").write_text("config:\n  aws:region: us-east-1\n  ses-mail:roster: roster.yaml\n")
    [(path, deployment)] = validate.stack_deployments(find_project(tmp_path)).items()
    assert path == tmp_path / "roster.yaml"
    assert deployment.region == "eu-west-1" and deployment.configuration_set == "ses-mail-production"
