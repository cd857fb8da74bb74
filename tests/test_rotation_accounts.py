"""`ses-mail audit` understands delivery rotation (moto IAM and Secrets Manager): key age from IAM
as for every person, the secret's rotation state, and a failed or stuck rotation as a finding.
Only reads: the recorder fails on any write, and the value is never read."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3

from ses_mail.cli import audit as audit_cli
from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from ses_mail.specs.naming import IAM_USER_PATH, SEND_POLICY_NAME, iam_user_name, secret_name
from tests.credential_helpers import READER
from tests.support.live_aws import REGION, Calls, add_user_boundaries, factory

ACCOUNT = "123456789012"
ROSTER = f"""
domains:
  - name: test1.com
deliverability:
  configuration_set: false
defaults:
  delivery: rotation
  secret_readers: [{READER}]
people:
  - email: taro@test1.com
  - email: jiro@test1.com
    status: suspended
"""


def provision(*, rotate: bool = True) -> None:
    """What `pulumi up` and the function's first rotation leave: user, send policy (with the
    suspension's Deny), one key made by the function, the secret with its schedule."""
    iam, secrets = boto3.client("iam"), boto3.client("secretsmanager", region_name=REGION)
    for address, suspended in (("taro@test1.com", False), ("jiro@test1.com", True)):
        name = iam_user_name(address)
        iam.create_user(UserName=name, Path=IAM_USER_PATH)
        policy = send_as_policy(address, identity_arn(REGION, ACCOUNT, "test1.com"), suspended=suspended)
        iam.put_user_policy(UserName=name, PolicyName=SEND_POLICY_NAME, PolicyDocument=json.dumps(policy))
        iam.create_access_key(UserName=name)
        secrets.create_secret(Name=secret_name(address), SecretString="{}")
        if rotate:
            secrets.rotate_secret(SecretId=secret_name(address), RotationRules={"AutomaticallyAfterDays": 30})


def run(tmp_path, capsys):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    calls = Calls()
    make = factory(calls)
    # As `pulumi up` leaves the users: with the default boundary (moto keeps none on users).
    add_user_boundaries(make("iam"), {}, default=f"arn:aws:iam::{ACCOUNT}:policy/ses-mail-boundary/ses-smtp-boundary")
    code = audit_cli.main(["--roster", str(path), "--region", REGION, "--format", "json"], clients=make)
    return code, json.loads(capsys.readouterr().out), calls


def codes(report):
    return sorted((f["code"], f["subject"]) for f in report["findings"])


def test_a_healthy_rotated_roster_is_clean_with_its_rotation_state(tmp_path, capsys, aws):
    provision()
    code, report, calls = run(tmp_path, capsys)
    assert code == 0, report["findings"]
    taro = next(p for p in report["people"] if p["address"] == "taro@test1.com")
    assert taro["keys"][0]["age_days"] == 0 and taro["keys"][0]["status"] == "Active"
    rotation = taro["rotation"]
    assert rotation["enabled"] is True and rotation["rotation_days"] == 30
    last, following = datetime.fromisoformat(rotation["last_rotated"]), datetime.fromisoformat(rotation["next_rotation"])
    assert timedelta(days=29) < following - last <= timedelta(days=31)
    assert rotation["pending_versions"] == [] and rotation["has_current_version"]
    # A suspended person's key may still be Active until the function's next run: the policy's Deny suspends.
    assert "secretsmanager:GetSecretValue" not in calls.made
    assert {"secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"} <= calls.actions


def test_a_stuck_rotation_and_a_disabled_one_are_findings(tmp_path, capsys, aws):
    provision(rotate=False)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.rotate_secret(SecretId=secret_name("taro@test1.com"), RotationRules={"AutomaticallyAfterDays": 30})
    # A createSecret that stored its version but whose testSecret failed: AWSPENDING is left behind.
    secrets.put_secret_value(SecretId=secret_name("taro@test1.com"), SecretString="{}", VersionStages=["AWSPENDING"])
    code, report, _ = run(tmp_path, capsys)
    assert code == 1
    found = codes(report)
    assert ("rotation-stuck", "taro@test1.com") in found
    assert ("rotation-disabled", "jiro@test1.com") in found
    assert not any(subject == "taro@test1.com" and c != "rotation-stuck" for c, subject in found)


def test_a_missing_secret_and_an_overdue_rotation_are_findings():
    from ses_mail.specs.rotation_policy import check_rotation_state
    now = datetime(2026, 12, 4, tzinfo=timezone.utc)
    state, found = check_rotation_state("t@x.com", "ses-smtp/t@x.com", None, [], rotation_days=30, now=now)
    assert state is None and [f.code for f in found] == ["rotation-secret-missing"]
    described = {"RotationEnabled": True, "LastRotatedDate": now - timedelta(days=32),
                 "RotationRules": {"AutomaticallyAfterDays": 30}}
    versions = [{"VersionId": "v1", "VersionStages": ["AWSCURRENT"]}]
    state, found = check_rotation_state("t@x.com", "ses-smtp/t@x.com", described, versions, rotation_days=30, now=now)
    assert [f.code for f in found] == ["rotation-overdue"] and state["last_rotated"].startswith("2026-11-02")
    described["LastRotatedDate"] = now - timedelta(days=30)
    assert check_rotation_state("t@x.com", "s", described, versions, rotation_days=30, now=now)[1] == []


def test_doctor_reports_rotation_failures(tmp_path, aws):
    from ses_mail.live.doctor import rotation_failures
    from ses_mail.live.target import resolve_target
    provision()
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(SecretId=secret_name("jiro@test1.com"), SecretString="{}", VersionStages=["AWSPENDING"])
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    target = resolve_target(stack=None, roster=str(path), region=REGION)
    calls = Calls()
    found = rotation_failures(target, factory(calls), datetime.now(timezone.utc))
    assert [(f.code, f.subject) for f in found] == [("rotation-stuck", "jiro@test1.com")]
    assert "secretsmanager:GetSecretValue" not in calls.made


def test_the_documented_audit_and_doctor_policies_allow_the_rotation_reads(tmp_path, capsys, aws):
    from tests.iam_eval import Request, allows
    from tests.support.live_aws import documented_policy
    provision()
    _, _, calls = run(tmp_path, capsys)
    made = {a for a in calls.actions if a.startswith("secretsmanager:")}
    assert made == {"secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"}
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ses-smtp/taro@test1.com-AbCdEf"
    for heading in ("## Audit credentials: `ses-mail audit`", "## Check a live account: `ses-mail doctor`"):
        policy = documented_policy("operations.md", heading)
        for action in made:
            assert allows(policy, Request(action, arn)), (heading, action)
        assert not allows(policy, Request("secretsmanager:GetSecretValue", arn)), heading
