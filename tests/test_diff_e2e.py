"""The plan diff against a git revision, run the way people and CI run it.

Each test builds a scratch git repository holding only this project's program files (Makefile,
__main__.py, Pulumi.yaml) with its own stack file and rosters (shop.example, corp.example:
never the project's example roster), commits a base, commits a change, and runs, with the
scratch repository as working directory:
  (a) `make diff BASE=<base sha> VENV=<this venv>`, as docs/review-and-ci.md tells a person to;
  (b) the `run:` script of the diff step of .github/workflows/pull-request.yml, read from the
      workflow file, with BASE_SHA set as the workflow sets it.
So a base side that reads the working tree's roster or stack config (issue 7: "No changes",
exit 0) fails here, as does a workflow step that stops matching the command line.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR

VENV = Path(sys.prefix)  # the venv running these tests, with ses-mail installed (`make dev`)
PROGRAM_FILES = ("Makefile", "__main__.py", "Pulumi.yaml")
WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "pull-request.yml"

IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
RECORD = "aws:route53/record:Record"
KEY = "aws:iam/accessKey:AccessKey"

BASE_ROSTER = """
domains:
  - name: shop.example
    dmarc: {policy: none}
  - name: corp.example
people:
  - email: ann@shop.example
    name: Ann
  - email: ben@shop.example
  - email: cy@corp.example
"""

STACK = """
config:
  aws:region: eu-west-1
  ses-mail:roster: {roster}
"""


class Scratch:
    """A git repository of a ses-mail project, with commands run in it."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                              cwd=self.root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def roster(self, relative: str = "config/dev.yaml") -> dict:
        return yaml.safe_load((self.root / relative).read_text(encoding="utf-8"))

    def dump(self, data: dict, relative: str = "config/dev.yaml") -> None:
        self.write(relative, yaml.safe_dump(data, sort_keys=False))

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MAKE"))}
        env.update({"NO_COLOR": "1", **extra})
        return env

    def make_diff(self, base: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", "diff", f"BASE={base}", f"VENV={VENV}", *args],
                              cwd=self.root, capture_output=True, text=True, timeout=300, env=self.env())

    def make_json(self, base: str, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
        done = self.make_diff(base, "FORMAT=json", *args)
        assert done.stdout.startswith("{"), (done.returncode, done.stdout, done.stderr)
        return done, json.loads(done.stdout)

    def workflow_diff(self, base: str) -> tuple[subprocess.CompletedProcess, str, str]:
        """The workflow's diff step: (process, what it wrote to GITHUB_OUTPUT, plan-diff.md)."""
        step = diff_step()
        output, summary = self.root.parent / "github-output", self.root.parent / "step-summary"
        output.write_text(""), summary.write_text("")
        env = {name: value for name, value in step.get("env", {}).items()}
        assert env == {"BASE_SHA": "${{ github.event.pull_request.base.sha }}"}, "the test sets only BASE_SHA"
        # As GitHub runs a `run:` step on ubuntu: bash --noprofile --norc -eo pipefail {0}.
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=self.root, capture_output=True, text=True, timeout=300,
                              env=self.env(BASE_SHA=base, GITHUB_OUTPUT=str(output),
                                           GITHUB_STEP_SUMMARY=str(summary)))
        markdown = (self.root / "plan-diff.md").read_text(encoding="utf-8") if (self.root / "plan-diff.md").exists() else ""
        if markdown:
            assert summary.read_text(encoding="utf-8") == markdown
        return done, output.read_text(encoding="utf-8"), markdown


def diff_step() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [step] = [s for s in workflow["jobs"]["roster"]["steps"] if s.get("id") == "diff"]
    assert "${{" not in step["run"], "expressions belong in env:, where the test can set them"
    return step


@pytest.fixture
def repo(tmp_path) -> Scratch:
    """The base commit: the program files, Pulumi.dev.yaml naming config/dev.yaml, the base roster."""
    assert (VENV / "bin" / "ses-mail").exists(), f"{VENV} has no ses-mail: run `make dev`"
    scratch = Scratch(tmp_path / "repo")
    for name in PROGRAM_FILES:
        shutil.copy(PROJECT_DIR / name, scratch.root / name)
    # The workflow calls venv/bin/ses-mail, as in a clone after `make venv`.
    (scratch.root / "venv").symlink_to(VENV, target_is_directory=True)
    scratch.write(".gitignore", "venv\nplan-diff.md\n")
    scratch.write("Pulumi.dev.yaml", STACK.format(roster="config/dev.yaml"))
    scratch.write("config/dev.yaml", BASE_ROSTER)
    scratch.base = scratch.commit("base")
    return scratch


def changes_of(stack: dict) -> set[tuple[str, str, str]]:
    return {(c["op"], c["type"], c["name"]) for c in stack["changes"]}


def groups_of(stack: dict) -> set[tuple[str, str]]:
    return {(c["group"]["kind"], c["group"]["name"]) for c in stack["changes"]}


def assert_changes_via_make(done: subprocess.CompletedProcess) -> None:
    """`make diff` reports "changes" (exit 3) as success, with a note."""
    assert done.returncode == 0, done.stderr
    assert "(exit 3: changes shown above)" in done.stderr


def assert_workflow_status(repo: Scratch, status: int, *in_markdown: str) -> str:
    done, output, markdown = repo.workflow_diff(repo.base)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert output == f"status={status}\n"
    assert markdown.startswith("<!-- ses-mail:offline-plan-diff -->")
    for text in in_markdown:
        assert text in markdown, (text, markdown)
    return markdown


# --- scenarios --------------------------------------------------------------------------------

def test_no_change_at_all(repo):
    repo.write("config/dev.yaml", "# reviewed by the mail team\n" + textwrap.dedent(BASE_ROSTER))
    repo.commit("a comment only")
    done = repo.make_diff(repo.base)
    assert done.returncode == 0 and "(exit 3" not in done.stderr, done.stderr
    assert "No changes: both sides register the same" in done.stdout
    _, report = repo.make_json(repo.base)
    [stack] = report["stacks"]
    assert stack["status"] == "no-changes" and stack["changes"] == []
    assert_workflow_status(repo, 0, "**No changes.**")
    # The exit status itself, without make: 0.
    direct = subprocess.run([str(VENV / "bin" / "ses-mail"), "diff", "--base", repo.base], cwd=repo.root,
                            capture_output=True, text=True, env=repo.env())
    assert direct.returncode == 0, direct.stderr


def test_an_added_person(repo):
    data = repo.roster()
    data["people"].append({"email": "dan@shop.example", "name": "Dan"})
    repo.dump(data)
    repo.commit("add dan")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert stack["base"] == f"{repo.base}:config/dev.yaml" and stack["head"] == "config/dev.yaml"
    assert groups_of(stack) == {("person", "dan@shop.example")}
    assert {(op, type_) for op, type_, _ in changes_of(stack)} >= {
        ("create", "aws:iam/user:User"), ("create", "aws:iam/userPolicy:UserPolicy"), ("create", KEY)}
    assert {c["op"] for c in stack["changes"]} == {"create"} and stack["destructive"] == []
    assert_workflow_status(repo, 3, "person <code>dan@shop.example</code>")
    direct = subprocess.run([str(VENV / "bin" / "ses-mail"), "diff", "--base", repo.base], cwd=repo.root,
                            capture_output=True, text=True, env=repo.env())
    assert direct.returncode == 3, direct.stderr


def test_a_removed_domain_with_its_people(repo):
    data = repo.roster()
    data["domains"] = [d for d in data["domains"] if d["name"] != "corp.example"]
    data["people"] = [p for p in data["people"] if not p["email"].endswith("@corp.example")]
    repo.dump(data)
    repo.commit("drop corp.example")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert {c["op"] for c in stack["changes"]} == {"delete"}
    assert groups_of(stack) == {("domain", "corp.example"), ("person", "cy@corp.example")}
    [identity] = [d for d in stack["destructive"] if d["type"] == IDENTITY]
    assert identity["name"] == "corp.example-identity" and identity["op"] == "delete"
    assert identity["protected"] is True  # domains are protected unless the roster says otherwise
    assert "nobody can send from this domain" in identity["consequence"]
    assert_workflow_status(repo, 3, "> [!CAUTION]", "domain corp.example (removed): SES identity deleted")


def test_a_suspension(repo):
    data = repo.roster()
    data["people"][1]["status"] = "suspended"  # ben
    repo.dump(data)
    repo.commit("suspend ben")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert groups_of(stack) == {("person", "ben@shop.example")}
    assert {c["op"] for c in stack["changes"]} == {"update"} and stack["destructive"] == []
    [notice] = stack["attention"]
    assert notice["type"] == KEY and "Inactive" in notice["message"]
    assert_workflow_status(repo, 3, "**Sending stops for**")


def test_a_rotation_with_the_previous_key_kept(repo):
    data = repo.roster()
    data["people"][0].update({"key": 2, "previous_key": 1})  # ann
    repo.dump(data)
    repo.commit("rotate ann")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert changes_of(stack) == {("create", KEY, "ann@shop.example-key-b")}
    assert stack["destructive"] == []
    assert stack["key_rotations"] == [{
        "group": {"kind": "person", "name": "ann@shop.example"},
        "message": "key generation 2 becomes current; generation 1 keeps working until previous_key is removed"}]
    assert_workflow_status(repo, 3, "generation 1 keeps working until previous_key is removed")
    text = repo.make_diff(repo.base)
    assert "person ann@shop.example: key generation 2 becomes current" in text.stdout


def test_a_dmarc_change(repo):
    data = repo.roster()
    data["domains"][0]["dmarc"] = {"policy": "reject"}
    repo.dump(data)
    repo.commit("shop.example: p=reject")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    [change] = stack["changes"]
    assert (change["op"], change["type"], change["name"]) == ("update", RECORD, "shop.example-dmarc")
    [prop] = change["properties"]
    assert prop["before"] == ["v=DMARC1; p=none"] and prop["after"] == ["v=DMARC1; p=reject"]
    assert_workflow_status(repo, 3, "p=reject")


def test_a_changed_stack_config_region_replaces_the_identities(repo):
    repo.write("Pulumi.dev.yaml", STACK.format(roster="config/dev.yaml").replace("eu-west-1", "eu-central-1"))
    repo.commit("move to eu-central-1")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    replaced = {d["name"]: d["replace_reasons"] for d in stack["destructive"] if d["type"] == IDENTITY}
    assert replaced == {"shop.example-identity": ["region"], "corp.example-identity": ["region"]}
    assert all(d["op"] == "replace" for d in stack["destructive"] if d["type"] == IDENTITY)
    assert_workflow_status(repo, 3, "SES identity recreated")


def test_the_stack_config_points_at_another_roster(repo):
    """The head's stack file names config/other.yaml; config/dev.yaml is still there, unchanged.
    The base is the roster the base's stack file named; the head the one the head's names."""
    data = repo.roster()
    data["people"].append({"email": "eve@corp.example"})
    repo.dump(data, "config/other.yaml")
    repo.write("Pulumi.dev.yaml", STACK.format(roster="config/other.yaml"))
    repo.commit("dev stack: roster config/other.yaml")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert stack["base"] == f"{repo.base}:config/dev.yaml" and stack["head"] == "config/other.yaml"
    assert groups_of(stack) == {("person", "eve@corp.example")}
    assert {c["op"] for c in stack["changes"]} == {"create"}
    assert_workflow_status(repo, 3, "eve@corp.example")


def test_a_stack_added_in_the_head_creates_everything(repo):
    repo.write("Pulumi.prod.yaml", STACK.format(roster="config/prod.yaml"))
    repo.write("config/prod.yaml", "domains:\n  - name: corp.example\npeople:\n  - email: cy@corp.example\n")
    repo.commit("prod stack")
    done, report = repo.make_json(repo.base, "STACK=prod")
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert stack["base"].startswith(f"{repo.base}: no Pulumi.prod.yaml")
    assert {c["op"] for c in stack["changes"]} == {"create"} and stack["summary"]["create"] > 5
    assert groups_of(stack) == {("roster", "ses-mail"), ("deliverability", "ses-mail-prod"), ("domain", "corp.example"),
                                ("person", "cy@corp.example")}
    markdown = assert_workflow_status(repo, 3, "### Stack `dev`", "### Stack `prod`")
    dev = markdown[markdown.index("### Stack `dev`"):markdown.index("### Stack `prod`")]
    assert "**No changes.**" in dev


def test_a_stack_file_deleted_in_the_head_is_reported_not_skipped(repo):
    repo.write("Pulumi.old.yaml", STACK.format(roster="config/dev.yaml"))
    repo.base = repo.commit("base with an old stack")
    (repo.root / "Pulumi.old.yaml").unlink()
    repo.commit("retire the old stack")
    assert_workflow_status(repo, 3, "### Stack `old`", "**Stack file deleted**", "`pulumi destroy`")
    done, report = repo.make_json(repo.base, "STACK=old")
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert stack["status"] == "stack-removed" and "nothing is destroyed" in stack["message"]
    # A stack that exists on neither side is still a usage error.
    missing = repo.make_diff(repo.base, "STACK=nope")
    assert missing.returncode != 0 and "no stack 'nope'" in missing.stderr


def test_an_invalid_head_roster_fails_make_and_is_kept_for_the_comment(repo):
    repo.write("config/dev.yaml", BASE_ROSTER + "  - email: zed@elsewhere.example\n")
    repo.commit("a person of an unlisted domain")
    done = repo.make_diff(repo.base)
    assert done.returncode != 0 and "invalid head roster" in done.stderr and "Traceback" not in done.stderr
    direct = subprocess.run([str(VENV / "bin" / "ses-mail"), "diff", "--base", repo.base], cwd=repo.root,
                            capture_output=True, text=True, env=repo.env())
    assert direct.returncode == 4
    assert_workflow_status(repo, 4, "**The head roster is invalid**")


def test_make_diff_checks_a_given_venv_instead_of_building_one(repo, tmp_path):
    done = subprocess.run(["make", "diff", f"BASE={repo.base}", f"VENV={tmp_path / 'none'}"], cwd=repo.root,
                          capture_output=True, text=True, env=repo.env())
    assert done.returncode != 0 and "has no bin/ses-mail" in done.stderr
    assert not (tmp_path / "none").exists()  # nothing was built
    # With an existing venv nothing is installed: no pip, whatever the stamps' age.
    dry = subprocess.run(["make", "-n", "diff", f"BASE={repo.base}", f"VENV={VENV}"], cwd=repo.root,
                         capture_output=True, text=True, env=repo.env())
    assert "pip" not in dry.stdout and f"{VENV}/bin/ses-mail diff" in dry.stdout


def test_moving_a_domain_from_route53_to_cloudflare(repo):
    """`dns: route53` -> `dns: cloudflare`: each Route 53 record is deleted and the same record
    (name, type, value) created in the domain's Cloudflare zone, never proxied; the identity,
    MAIL FROM and people stay as they are."""
    from ses_mail.resource_types import CLOUDFLARE_RECORD, fake_cloudflare_zone_id
    from ses_mail.specs.cloudflare import txt_value

    data = repo.roster()
    data["domains"][1]["dns"] = "cloudflare"  # corp.example
    repo.dump(data)
    repo.commit("corp.example: DNS moves to Cloudflare")
    done, report = repo.make_json(repo.base)
    assert_changes_via_make(done)
    [stack] = report["stacks"]
    assert groups_of(stack) == {("domain", "corp.example")}
    assert {(c["op"], c["type"]) for c in stack["changes"]} == {("delete", RECORD), ("create", CLOUDFLARE_RECORD)}
    deleted = {c["name"]: c["before"] for c in stack["changes"] if c["op"] == "delete"}
    created = {c["name"]: c["after"] for c in stack["changes"] if c["op"] == "create"}
    assert set(deleted) == set(created) == {f"corp.example-{p}" for p in (
        "dkim-1", "dkim-2", "dkim-3", "mail-from-mx", "mail-from-spf", "dmarc")}
    for name, record in created.items():
        old = deleted[name]
        assert (record["name"], record["type"], record["ttl"]) == (old["name"], old["type"], old["ttl"])
        [value] = old["records"]
        if record["type"] == "TXT":
            assert txt_value(record["content"]) == txt_value(value)
        elif record["type"] == "MX":
            assert f"{record['priority']} {record['content']}" == value
        else:
            assert record["content"] == value
        assert record["proxied"] is False and record["zoneId"] == fake_cloudflare_zone_id("corp.example")
    assert {d["type"] for d in stack["destructive"]} == {RECORD}
    assert all(d["consequence"] == "DNS record removed" for d in stack["destructive"])

    text = repo.make_diff(repo.base)
    assert_changes_via_make(text)
    added = [line for line in text.stdout.splitlines() if line.lstrip().startswith("+ DnsRecord")]
    assert len(added) == 6 and all(line.endswith("(Cloudflare, not proxied)") for line in added), text.stdout
    assert "6 × DNS record removed" in text.stdout
    assert_workflow_status(repo, 3, "corp.example", "(Cloudflare, not proxied)")
