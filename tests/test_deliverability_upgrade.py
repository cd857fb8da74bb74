"""Upgrading an existing stack to deliverability adds resources and updates in place: no identity,
user, key or record is replaced or deleted.

The base side is the program *before* this feature (the commit it branched from, run from a git
archive in a subprocess, so its code and its modules stay apart from this one); the head side
is this working tree. Both run the same roster and stack config under the mock engine, and
`diff_stack` decides each change with the provider's replacement rules.
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ses_mail.cli.diff import Snapshot
from ses_mail.review.changes import CREATE, UPDATE, Resource, Secret, diff_stack, resources, scrub
from ses_mail.review.engine import run_program
from ses_mail.review.render import Report, render_text
from tests.conftest import EXAMPLE_ROSTER, PROJECT_DIR

#: main before deliverability (the merge this branch started from).
BEFORE = "14641d00984f72eb169a733b353f8a93394fceac"

_DUMP = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ses_mail.project import find_project
from ses_mail.review.engine import run_program
from ses_mail.review.changes import resources, scrub, Secret
run = run_program(project=find_project(sys.argv[1]), stack="dev", roster=sys.argv[2])
items = [(r.type, r.name, r.inputs, run.options.get((r.type, r.name))) for r in run.registrations]
def enc(o):
    if isinstance(o, Secret):
        return {"__secret__": o.digest}
    raise TypeError(o)
out = {"resources": [r.__dict__ for r in resources(items)],
       "outputs": {k: (Secret.of(v) if k in run.secret_outputs else scrub(v)) for k, v in run.outputs.items()}}
print(json.dumps(out, default=enc))
"""


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__secret__"}:
            return Secret(value["__secret__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def base_snapshot(tmp_path: Path, roster: Path) -> Snapshot:
    if not shutil.which("git"):
        pytest.skip("git is needed to read the program before deliverability")
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", BEFORE], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"commit {BEFORE} is not in this clone")
    tree = tmp_path / "before"
    tree.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    done = subprocess.run([sys.executable, "-c", _DUMP, str(tree), str(roster)], capture_output=True, text=True,
                          cwd=tree)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    found = []
    for r in data["resources"]:
        r = _decode(r)
        r["aliases"] = tuple(r["aliases"])
        r["replace_on_changes"] = tuple(r["replace_on_changes"])
        r["ignore_changes"] = tuple(r["ignore_changes"])
        found.append(Resource(**r))
    return Snapshot(found, _decode(data["outputs"]))


def head_snapshot(roster: Path) -> Snapshot:
    # Without the default permissions boundary, whose upgrade (each user's permissionsBoundary, in
    # place) tests/test_upgrade.py proves: this proves what deliverability changes.
    run = run_program(stack="dev", roster=roster, config={"ses-mail:permissionsBoundary": "none"})
    items = [(r.type, r.name, r.inputs, run.options.get((r.type, r.name))) for r in run.registrations]
    return Snapshot(resources(items), {k: (Secret.of(v) if k in run.secret_outputs else scrub(v))
                                       for k, v in run.outputs.items()})


def test_upgrading_the_dev_stack_only_adds_and_updates_in_place(tmp_path):
    before = base_snapshot(tmp_path, EXAMPLE_ROSTER)
    after = head_snapshot(EXAMPLE_ROSTER)
    diff = diff_stack(before.resources, after.resources, before.outputs, after.outputs)

    assert diff.destructive == [] and diff.count("delete") == 0 and diff.count("replace") == 0
    updates = {(c.type, c.name): sorted(p.path for p in c.properties) for c in diff.changes if c.op == UPDATE and c.custom}
    # The identities gain their default set; each policy gains the set's ARN. Nothing else changes.
    assert updates == {
        **{("aws:sesv2/emailIdentity:EmailIdentity", f"{d}-identity"): ["configurationSetName"]
           for d in ("example.com", "example.org")},
        **{("aws:iam/userPolicy:UserPolicy", f"{p}-send-policy"): ["policy"]
           for p in ("taro@example.com", "hanako@example.com", "info@example.org")},
    }
    created = sorted(c.short_type for c in diff.changes if c.op == CREATE and c.custom)
    assert created == ["ConfigurationSet", "ConfigurationSetEventDestination", "ConfigurationSetEventDestination",
                       "MetricAlarm", "MetricAlarm", "Topic", "TopicPolicy"]
    # Every existing key, user, identity and record is untouched (updated at most, never replaced).
    kept = {(r.type, r.name) for r in before.resources}
    assert kept <= {(r.type, r.name) for r in after.resources}
    # New outputs (issue 10); credential_status gains each person's display-name rule and pgp's
    # smtp_credentials lose the encrypted secret access key (issue 17): outputs only.
    assert set(diff.outputs_changed) - {"credential_status", "smtp_credentials"} == {"deliverability", "verification"}

    text = render_text([Report(stack="dev", base=f"{BEFORE[:7]} (before deliverability)", head="this branch", diff=diff)],
                       color=False)
    assert "Summary: 7 to create, 5 to update, 20 unchanged." in text
    print(text)  # the reviewer's view of the upgrade (pytest -s)


def test_turning_the_set_off_upgrades_with_no_change_to_any_policy_or_identity(tmp_path, write_roster):
    text = EXAMPLE_ROSTER.read_text() + "deliverability:\n  configuration_set: false\n"
    # The base program does not know `deliverability`: give it the roster without the section.
    roster = write_roster(text)
    base_roster = write_roster(EXAMPLE_ROSTER.read_text(), "base.yaml")
    before = base_snapshot(tmp_path, base_roster)
    after = head_snapshot(roster)
    diff = diff_stack(before.resources, after.resources)
    # Send policies change for issue 17 (display names, feedback address), but their Allow's
    # resources stay those of the base: no configuration set is added.
    updates = [c for c in diff.changes if c.op != CREATE and c.custom]
    assert all(c.type == "aws:iam/userPolicy:UserPolicy" and c.op == "update" for c in updates), updates
    for c in updates:
        (change,) = c.properties
        old_allow, new_allow = (json.loads(v)["Statement"][0] for v in (change.before, change.after))
        assert old_allow["Resource"] == new_allow["Resource"]
    assert sorted(c.short_type for c in diff.changes if c.custom and c.op == CREATE) == [
        "MetricAlarm", "MetricAlarm", "Topic", "TopicPolicy"]
