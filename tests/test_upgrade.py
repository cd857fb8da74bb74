"""Upgrading a stack deployed with the program before the component (0.2.x, at BASE_REVISION)
to the program built on `SesMail`: `pulumi up` must change no cloud resource.

Both programs run under the mock engine: the old one from its own source tree (extracted from
git into a temporary directory and run in a subprocess, so it imports its own `ses_mail`, never
this one), the new one here. The offline diff pairs resources by URN and by the alias URNs the
engine would compute (tests/test_diff.py tests that computation on its own), so a domain or
person that moved under the component without its alias shows up as deleted and created again.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import io
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from ses_mail.project import Project
from ses_mail.review.changes import (_ABSENT as UNSET, CREATE, DELETE, REPLACE, UPDATE, Secret, alias_urns, diff_stack,
                                     resources, scrub)
from ses_mail.review.engine import run_program
from tests.conftest import EXAMPLE_ROSTER, PROJECT_DIR
from tests.credential_helpers import READER
from tests.test_delivery import PGP_KEY

#: The last program that registered domains and people at the stack root (release 0.2.0).
BASE_REVISION = "b12156e"
#: Release 0.3.0 (the head of main before issue 16 restructured the code): same resources, same outputs.
RELEASE_REVISION = "cfc76c7"

ROSTERS = {
    "example": EXAMPLE_ROSTER.read_text(encoding="utf-8"),
    "basic": """
        domains:
          - name: test1.com
        people:
          - email: taro@test1.com
            name: Taro Yamada
          - email: hanako@test1.com
    """,
    "two-domains-and-every-delivery": f"""
        defaults:
          allowed_ips: [203.0.113.0/24]
        domains:
          - name: test1.com
            dmarc: {{policy: quarantine, rua: [dmarc@test1.com]}}
          - name: sub.test2.com
            zone: test2.com
            mail_from: bounce
            protect: false
        people:
          - email: taro@test1.com
            name: Taro Yamada
            display_name: true
            delivery: pgp
            pgp_key: {PGP_KEY}
          - email: hanako@test1.com
            delivery: secrets_manager
            secret_readers: [{READER}]
          - email: jiro@sub.test2.com
            status: suspended
            recipients: ['*@test1.com']
    """,
    "rotation": """
        domains:
          - name: test1.com
        people:
          - email: taro@test1.com
            key: 2
            previous_key: 1
          - email: hanako@test1.com
            key: 3
          - email: o'brien@test1.com
    """,
}
REGION = "eu-west-1"
#: Both sides run with the same named secret admin: the default exemption changed (to the
#: /ses-mail-admin/ path, issue 7) independently of the component, and is not what this proves.
CONFIG = {"aws:region": REGION, "ses-mail:secretAdmins": "arn:aws:iam::123456789012:user/fake"}

_BASE_SCRIPT = """
import json, sys
from pathlib import Path
import ses_mail
base = Path(sys.argv[1]).resolve()
assert Path(ses_mail.__file__).resolve().is_relative_to(base), ses_mail.__file__
from ses_mail.project import Project
from ses_mail.review.engine import run_program
out = {}
for name, roster in json.loads(sys.stdin.read()).items():
    run = run_program(project=Project(base), stack="dev", roster=roster, stack_config=json.loads(sys.argv[3]))
    out[name] = {
        "resources": [{"type": r.type, "name": r.name, "inputs": r.inputs,
                       "options": {k: getattr(run.options[(r.type, r.name)], k, None)
                                   for k in ("urn", "parent", "protect", "aliases", "replace_on_changes",
                                             "ignore_changes", "replacement_trigger", "delete_before_replace")}}
                      for r in run.registrations],
        "outputs": run.outputs, "secret_outputs": sorted(run.secret_outputs),
    }
json.dump(out, sys.stdout, default=str)
"""


def _git(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(PROJECT_DIR), *args], capture_output=True, **kw)


@pytest.fixture(scope="module")
def rosters(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rosters")
    out = {}
    for name, text in ROSTERS.items():
        path = root / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        out[name] = path
    return out


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory, rosters) -> dict[str, dict]:
    """Every roster through the program at BASE_REVISION, run from that revision's own source."""
    return _runs_at(BASE_REVISION, tmp_path_factory, rosters)


@pytest.fixture(scope="module")
def release_runs(tmp_path_factory, rosters) -> dict[str, dict]:
    return _runs_at(RELEASE_REVISION, tmp_path_factory, rosters)


def _runs_at(revision: str, tmp_path_factory, rosters: dict[str, Path]) -> dict[str, dict]:
    if _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").returncode != 0:
        pytest.skip(f"revision {revision} is not in this clone (a shallow checkout?): fetch the full history")
    base = tmp_path_factory.mktemp("base-program")
    archive = _git("archive", "--format=tar", revision)
    assert archive.returncode == 0, archive.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(base)
    # Only the old tree on the path, ahead of the editable install of this one.
    env = {**os.environ, "PYTHONPATH": str(base), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", _BASE_SCRIPT, str(base), REGION, json.dumps(CONFIG)], cwd=base, env=env,
                          input=json.dumps({k: str(v) for k, v in rosters.items()}), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _base_snapshot(run: dict):
    items = [(r["type"], r["name"], r["inputs"], SimpleNamespace(**r["options"])) for r in run["resources"]]
    outputs = {k: (Secret.of(v) if k in run["secret_outputs"] else scrub(v)) for k, v in run["outputs"].items()}
    return resources(items), outputs


def _head_outputs(roster: Path) -> dict:
    """The stack outputs as plain JSON values, secrets included (the mock engine's fake ones)."""
    run = run_program(project=Project(PROJECT_DIR), stack="dev", roster=roster, stack_config=CONFIG)
    return json.loads(json.dumps(run.outputs, default=str))


def _head_snapshot(roster: Path, config: dict[str, str] | None = None):
    run = run_program(project=Project(PROJECT_DIR), stack="dev", roster=roster, stack_config={**CONFIG, **(config or {})})
    items = [(r.type, r.name, r.inputs, run.options[(r.type, r.name)]) for r in run.registrations]
    # Through JSON as the base went, so both sides hold the same plain types.
    outputs = json.loads(json.dumps(run.outputs, default=str))
    outputs = {k: (Secret.of(v) if k in run.secret_outputs else scrub(v)) for k, v in outputs.items()}
    items = [(t, n, json.loads(json.dumps(i, default=str)), o) for t, n, i, o in items]
    return resources(items), outputs


@pytest.mark.parametrize("name", sorted(ROSTERS))
def test_upgrading_to_the_component_changes_no_cloud_resource(base_runs, rosters, name):
    base_resources, base_outputs = _base_snapshot(base_runs[name])
    head_resources, head_outputs = _head_snapshot(rosters[name])
    diff = diff_stack(base_resources, head_resources, base_outputs, head_outputs)
    assert diff.count(DELETE) == diff.count(REPLACE) == 0, [(c.op, c.type, c.name) for c in diff.changes]
    # Created: the new component itself (no cloud resource; `pulumi up` records it) and, beside
    # the moved resources, the new stack-level deliverability resources (issue 10), all of them
    # under the Deliverability component.
    created = [c for c in diff.changes if c.op == CREATE]
    assert (CREATE, "ses-mail:index:SesMail", "ses-mail") in [(c.op, c.type, c.name) for c in created]
    assert all(c.type == "ses-mail:index:SesMail" or c.group.kind == "deliverability" for c in created), [
        (c.type, c.name, c.group) for c in created]
    # In-place updates, each only of the property its feature changes: identities gain the
    # stack's configuration set, send policies allow it (issue 10), secret policies' exemption
    # became ArnNotLike for the /ses-mail-admin/ patterns (issue 7), and users gain the default
    # permissions boundary (issue 19).
    allowed = {"aws:secretsmanager/secretPolicy:SecretPolicy": {"policy"},
               "aws:iam/userPolicy:UserPolicy": {"policy"},
               "aws:iam/user:User": {"permissionsBoundary"},
               "aws:sesv2/emailIdentity:EmailIdentity": {"configurationSetName"}}
    for change in diff.changes:
        if change.op == UPDATE:
            assert {p.top for p in change.properties} <= allowed.get(change.type, set()), (
                change.type, change.name, change.properties)
    # New outputs (issue 10); credential_status gains each person's display-name rule and pgp's
    # smtp_credentials lose the encrypted secret access key (issue 17): outputs only.
    assert set(diff.outputs_changed) - {"credential_status", "smtp_credentials"} == {"deliverability", "verification"}
    # Every resource of the old stack is still there, at its old URN or through an alias.
    assert diff.unchanged + diff.count(UPDATE) == sum(1 for r in base_resources if r.custom)


#: What issue 17's hardening changes in a 0.3.0 stack, on purpose: resource type -> the only input
#: that may change. Send policies gain the display-name allow-list and the '@' and feedback-address
#: Denies; secret policies' Deny widens from reading to every value- and policy-changing action.
HARDENED_POLICIES = {"aws:iam/userPolicy:UserPolicy": "policy",
                     "aws:secretsmanager/secretPolicy:SecretPolicy": "policy"}


@pytest.mark.parametrize("name", sorted(ROSTERS))
def test_upgrading_from_0_3_0_changes_only_the_hardened_policies(release_runs, rosters, name):
    """The restructuring (stack settings, mode strategies, component arguments) kept every
    resource, URN and input of release 0.3.0. The differences are made on purpose, each an
    in-place update (nothing is created, deleted or replaced):
    - issue 17: each person's send policy and each secret's resource policy; credential_status
      gains each person's display-name rule, and pgp's smtp_credentials lose the encrypted secret
      access key;
    - issue 19: each SMTP user gains `permissionsBoundary`, the account's
      /ses-mail-boundary/ses-smtp-boundary (PutUserPermissionsBoundary); with
      `ses-mail:permissionsBoundary: none` only issue 17's changes remain."""
    base_resources, base_outputs = _base_snapshot(release_runs[name])
    head_resources, head_outputs = _head_snapshot(rosters[name])
    diff = diff_stack(base_resources, head_resources, base_outputs, head_outputs)
    assert {c.op for c in diff.changes} <= {UPDATE}, [(c.op, c.type, c.name) for c in diff.changes]
    boundary = ("permissionsBoundary", UNSET, "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-smtp-boundary",
                False)
    for change in diff.changes:
        if change.type == "aws:iam/user:User":
            assert [(p.path, p.before, p.after, p.forces_replace) for p in change.properties] == [boundary]
        else:
            assert {p.top for p in change.properties} == {HARDENED_POLICIES.get(change.type)}, (
                change.type, change.name, change.properties)
    people = [r for r in base_resources if r.type == "aws:iam/userPolicy:UserPolicy"]
    secrets = [r for r in base_resources if r.type == "aws:secretsmanager/secretPolicy:SecretPolicy"]
    users = [r for r in base_resources if r.type == "aws:iam/user:User"]
    updated = sorted((c.type, c.name) for c in diff.changes)
    assert updated == sorted((r.type, r.name) for r in people + secrets + users) and people and users
    # Every send policy now refuses a colleague's feedback address, and the diff says so per person.
    for change in diff.changes:
        if change.type == "aws:iam/userPolicy:UserPolicy":
            assert "feedback address: any address -> own address only" in change.attention, change.name
    assert diff.unchanged == sum(1 for r in base_resources if r.custom) - len(updated) > 0
    # Opting out of the boundary leaves exactly issue 17's policy updates.
    opted_out, _ = _head_snapshot(rosters[name], {"ses-mail:permissionsBoundary": "none"})
    assert sorted((c.type, c.name) for c in diff_stack(base_resources, opted_out, base_outputs, head_outputs).changes) \
        == sorted((r.type, r.name) for r in people + secrets)
    # Same URNs, not only aliases: nothing was reparented or renamed.
    assert sorted(r.urn for r in head_resources) == sorted(r.urn for r in base_resources)
    # The outputs: exactly the two hardening changes, nothing else.
    old, new = release_runs[name]["outputs"], _head_outputs(rosters[name])
    assert set(old) == set(new)
    expected_status = json.loads(json.dumps(new["credential_status"]))
    for person in expected_status.values():
        assert person["restrictions"].pop("display_names") in ("own", "exact", "any")
    assert expected_status == old["credential_status"]
    expected_credentials = {address: {k: v for k, v in cred.items() if not (cred.get("delivery") == "pgp"
                                                                             and k == "encrypted_secret")}
                            for address, cred in old["smtp_credentials"].items()}
    assert new["smtp_credentials"] == expected_credentials
    pgp = [c for c in old["smtp_credentials"].values() if c.get("delivery") == "pgp" and c.get("encrypted_password")]
    assert all("encrypted_secret" in c for c in pgp) and (name != "two-domains-and-every-delivery" or pgp)
    assert {k: v for k, v in new.items() if k not in ("credential_status", "smtp_credentials")} == {
        k: v for k, v in old.items() if k not in ("credential_status", "smtp_credentials")}


def test_the_aliases_are_what_keeps_the_resources(base_runs, rosters, monkeypatch):
    """Without the aliases the same upgrade would delete and recreate every domain and person."""
    from ses_mail.components import ses_mail as component

    monkeypatch.setattr(component, "LEGACY_ROOT_ALIASES", [])
    base_resources, _ = _base_snapshot(base_runs["basic"])
    head_resources, _ = _head_snapshot(rosters["basic"])
    diff = diff_stack(base_resources, head_resources)
    old = sum(1 for r in base_resources if r.custom)
    assert diff.count(DELETE) == old > 0
    recreated = {(c.type, c.name) for c in diff.changes if c.op == CREATE}
    assert {(r.type, r.name) for r in base_resources if r.custom} <= recreated


def test_children_inherit_the_components_root_alias(rosters):
    """The key's alias URNs include its old URN under the root-level SmtpSender, as the engine
    derives it from the parent's alias (the key itself has no alias of its own)."""
    head_resources, _ = _head_snapshot(rosters["basic"])
    by_urn = {r.urn: r for r in head_resources}
    key = next(r for r in head_resources if r.name == "taro@test1.com-key")
    assert key.aliases == ()
    assert key.urn == ("urn:pulumi:dev::ses-mail::ses-mail:index:SesMail$ses-mail:index:SmtpSender"
                       "$aws:iam/accessKey:AccessKey::taro@test1.com-key")
    assert alias_urns(key, by_urn) == (
        "urn:pulumi:dev::ses-mail::ses-mail:index:SmtpSender$aws:iam/accessKey:AccessKey::taro@test1.com-key",)


#: The last commit of main with report receiving in the stack but not prove's receiver view
#: (never released: this proves the receiver view only adds to a receiving stack).
RECEIVING_REVISION = "5681c3f2cfd93a0c5e7e86810b1621a1630c28bb"
REPORTS_ROSTER = """
    domains:
      - name: test1.com
      - name: test2.com
        dns: external
    people:
      - email: taro@test1.com
    reports:
      address: dmarc@reports.test1.com
"""


def test_a_stack_with_reports_gains_only_the_prove_rule_and_its_storage(tmp_path_factory):
    """prove's receiver view on a stack that receives reports: `pulumi up` creates one receipt
    rule (prove's, storing mail for its address under prove/) and updates, in place, the bucket
    policy (prove's rule may write under prove/) and the lifecycle (prove/ expires); nothing
    else changes, and the only output changed is `dmarc_reports` (which names the prove address)."""
    root = tmp_path_factory.mktemp("reports-roster")
    path = root / "reports.yaml"
    path.write_text(textwrap.dedent(REPORTS_ROSTER).lstrip("\n"), encoding="utf-8")
    base_resources, base_outputs = _base_snapshot(_runs_at(RECEIVING_REVISION, tmp_path_factory,
                                                           {"reports": path})["reports"])
    # The default boundary's update is the 0.3.0 proof's; opted out here to see the receiver view's alone.
    head_resources, head_outputs = _head_snapshot(path, {"ses-mail:permissionsBoundary": "none"})
    diff = diff_stack(base_resources, head_resources, base_outputs, head_outputs)
    changes = {(c.op, c.type, c.name): sorted({p.top for p in c.properties}) for c in diff.changes}
    assert changes == {
        (CREATE, "aws:ses/receiptRule:ReceiptRule", "ses-mail-dmarc-reports-prove-rule"): [],
        (UPDATE, "aws:s3/bucketPolicy:BucketPolicy", "ses-mail-dmarc-reports-bucket-policy"): ["policy"],
        (UPDATE, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
         "ses-mail-dmarc-reports-expiry"): ["rules"],
    }, changes
    assert diff.outputs_changed == ["dmarc_reports"]
