"""`ses-mail audit` against moto's IAM, STS and CloudWatch, provisioned as `pulumi up` would.

Every call the command makes goes through a recorder that fails on anything but a read; one
end-to-end test runs `venv/bin/ses-mail audit` as a process against a moto server on 127.0.0.1
through the standard AWS_ENDPOINT_URL.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from ses_mail.cli import audit as audit_cli
from ses_mail.live import audit
from ses_mail.live.findings import KeyState, check_keys
from ses_mail.live.target import resolve_target
from ses_mail.roster import parse_roster
from ses_mail.specs.deliverability import configuration_set_arn, configuration_set_name
from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from ses_mail.specs.key_slots import key_slots
from ses_mail.specs.naming import IAM_USER_PATH, SEND_POLICY_NAME, iam_user_name
from tests.iam_eval import Request, allows
from tests.support.live_aws import REGION, Calls, add_user_boundaries, documented_policy, factory

ACCOUNT = "123456789012"  # moto's account
ROSTER = """
domains:
  - name: test1.com
people:
  - email: taro@test1.com
    name: Taro Yamada
    display_name: true
  - email: hanako@test1.com
    status: suspended
  - email: jiro@test1.com
    key: 2
    previous_key: 1
    allowed_ips: [203.0.113.0/24]
"""
TARO, HANAKO, JIRO = (iam_user_name(a) for a in ("taro@test1.com", "hanako@test1.com", "jiro@test1.com"))
SES_CLI = Path(sys.executable).parent / "ses-mail"


def provision(roster_text: str = ROSTER, *, endpoint: str | None = None, boundary: str | None = None,
              stack: str = "dev") -> dict:
    """Create what `pulumi up` of `stack` creates for the roster's people (user, send policy with
    the identity and the stack's configuration set, keys)."""
    roster = parse_roster(roster_text.strip() + "\n", "roster.yaml")
    iam = boto3.client("iam", endpoint_url=endpoint)
    keys: dict[str, list[dict]] = {}
    for person in roster.people:
        settings = roster.settings(person)
        name = iam_user_name(person.email)
        extra = {"PermissionsBoundary": boundary} if boundary else {}
        iam.create_user(UserName=name, Path=IAM_USER_PATH, **extra)
        set_arn = (configuration_set_arn(REGION, ACCOUNT, configuration_set_name(stack))
                   if roster.deliverability.configuration_set else None)
        policy = send_as_policy(person.email, identity_arn(REGION, ACCOUNT, person.domain),
                                display_name=settings.display_name, allowed_ips=settings.allowed_ips,
                                recipients=settings.recipients, configuration_set_arn=set_arn)
        iam.put_user_policy(UserName=name, PolicyName=SEND_POLICY_NAME, PolicyDocument=json.dumps(policy, sort_keys=True))
        keys[name] = []
        for _ in key_slots(settings.key, settings.previous_key):
            key = iam.create_access_key(UserName=name)["AccessKey"]
            if settings.suspended:
                iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
            keys[name].append(key)
    return keys


def roster_file(tmp_path, text: str = ROSTER) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


#: What `pulumi up` sets on every SMTP user by default (ses_mail.specs.boundary).
CONVENTIONAL = f"arn:aws:iam::{ACCOUNT}:policy/ses-mail-boundary/ses-smtp-boundary"


def bounded(calls: Calls, **kwargs):
    """A client factory whose users carry the default boundary, as `pulumi up` leaves them."""
    make = factory(calls, **kwargs)
    add_user_boundaries(make("iam"), {}, default=CONVENTIONAL)
    return make


def run_audit(tmp_path, capsys, *args, text: str = ROSTER, calls: Calls | None = None):
    calls = calls or Calls()
    code = audit_cli.main(["--roster", str(roster_file(tmp_path, text)), "--region", REGION, "--format", "json", *args],
                          clients=bounded(calls))
    return code, json.loads(capsys.readouterr().out), calls


def run_at(tmp_path, now: datetime, **kwargs):
    target = resolve_target(stack=None, roster=str(roster_file(tmp_path)), region=REGION)
    return audit.run(target, bounded(Calls()), now=now, **kwargs)


def codes(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in report["findings"]:
        found.setdefault(f["code"], []).append(f["subject"])
    return {k: sorted(v) for k, v in found.items()}


def person(report, user):
    return next(p for p in report["people"] if p["iam_user"] == user)


# --- clean ------------------------------------------------------------------------------------

def test_clean_account_with_active_suspended_and_rotating_people(tmp_path, capsys, aws):
    provision()
    code, report, calls = run_audit(tmp_path, capsys)
    assert code == 0, report["findings"]
    assert report["version"] == 1 and report["command"] == "audit" and report["clean"] is True
    assert report["findings"] == [] and report["account_id"] == ACCOUNT
    assert [k["status"] for k in person(report, HANAKO)["keys"]] == ["Inactive"]
    jiro = person(report, JIRO)
    assert [(k["generation"], k["current"], k["status"]) for k in jiro["keys"]] == [(1, False, "Active"), (2, True, "Active")]
    assert person(report, TARO)["keys"][0]["last_used"] is None
    assert person(report, TARO)["activity"] == {"sends": 0.0, "bounces": 0.0, "complaints": 0.0}


def test_text_output(tmp_path, capsys, aws):
    provision()
    code = audit_cli.main(["--roster", str(roster_file(tmp_path)), "--region", REGION], clients=bounded(Calls()))
    out = capsys.readouterr().out
    assert code == 0
    assert "\x1b[" not in out
    assert TARO in out and "2 (current)" in out and "Inactive" in out and "clean: IAM matches the roster" in out


# --- users and keys against the roster -----------------------------------------------------------

def test_missing_user(tmp_path, capsys, aws):
    provision()
    iam = boto3.client("iam")
    for key in iam.list_access_keys(UserName=TARO)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=TARO, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=TARO, PolicyName=SEND_POLICY_NAME)
    iam.delete_user(UserName=TARO)
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1
    assert codes(report) == {"user-missing": [TARO]}
    assert person(report, TARO)["exists"] is False


def test_key_not_created_by_the_program(tmp_path, capsys, aws):
    provision()
    extra = boto3.client("iam").create_access_key(UserName=TARO)["AccessKey"]["AccessKeyId"]
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1
    assert codes(report) == {"key-extra": [TARO]}
    [finding] = report["findings"]
    assert finding["details"]["expected"] == 1 and extra in finding["details"]["keys"]
    assert extra in finding["message"] and extra in finding["fix"]


def test_rotating_person_missing_a_key(tmp_path, capsys, aws):
    keys = provision()
    boto3.client("iam").delete_access_key(UserName=JIRO, AccessKeyId=keys[JIRO][0]["AccessKeyId"])
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1
    assert codes(report) == {"key-missing": [JIRO]}


def test_suspended_person_with_an_active_key(tmp_path, capsys, aws):
    keys = provision()
    boto3.client("iam").update_access_key(UserName=HANAKO, AccessKeyId=keys[HANAKO][0]["AccessKeyId"], Status="Active")
    boto3.client("iam").update_access_key(UserName=TARO, AccessKeyId=keys[TARO][0]["AccessKeyId"], Status="Inactive")
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1
    assert codes(report) == {"key-status": [HANAKO, TARO]}
    hanako = next(f for f in report["findings"] if f["subject"] == HANAKO)
    assert "suspended" in hanako["message"]


def test_key_use_age_and_staleness(tmp_path, aws):
    keys = provision()
    # Taro sends through SES with his key: IAM (moto) records the use, service and region.
    ses = boto3.client("ses", region_name=REGION, aws_access_key_id=keys[TARO][0]["AccessKeyId"],
                       aws_secret_access_key=keys[TARO][0]["SecretAccessKey"])
    boto3.client("ses", region_name=REGION).verify_domain_identity(Domain="test1.com")
    ses.send_raw_email(RawMessage={"Data": b"From: Taro Yamada <taro@test1.com>\r\nTo: a@example.net\r\n"
                                           b"Subject: hi\r\n\r\nhello\r\n"}, Source="taro@test1.com")
    now = datetime.now(timezone.utc)

    report = run_at(tmp_path, now)
    taro = next(p for p in report.people if p.iam_user == TARO)
    assert taro.keys[0]["last_used_service"] == "ses" and taro.keys[0]["last_used_region"] == REGION
    assert report.clean

    later = run_at(tmp_path, now + timedelta(days=100))
    assert {(f.code, f.subject) for f in later.findings} == {
        ("key-stale", TARO), ("key-never-used", JIRO)}  # Jiro's two keys; Hanako's are Inactive
    assert sum(f.code == "key-never-used" for f in later.findings) == 2

    assert {f.code for f in run_at(tmp_path, now + timedelta(days=100), stale_days=200).findings} == set()
    old = run_at(tmp_path, now + timedelta(days=400), stale_days=1000)
    assert sorted(f.subject for f in old.findings if f.code == "key-old") == [JIRO, JIRO, TARO]


def test_sends_bounces_and_complaints_per_person(tmp_path, capsys, aws):
    provision()
    cloudwatch = boto3.client("cloudwatch")
    for metric, value in (("Send", 400), ("Bounce", 12), ("Complaint", 0)):
        cloudwatch.put_metric_data(Namespace=audit.METRIC_NAMESPACE, MetricData=[{
            "MetricName": metric, "Value": value, "Dimensions": [{"Name": audit.CALLER_DIMENSION, "Value": TARO}]}])
    cloudwatch.put_metric_data(Namespace=audit.METRIC_NAMESPACE, MetricData=[{
        "MetricName": "Send", "Value": 5, "Dimensions": [{"Name": audit.CALLER_DIMENSION, "Value": JIRO}]}])
    code, report, _ = run_audit(tmp_path, capsys)
    assert person(report, TARO)["activity"] == {"sends": 400.0, "bounces": 12.0, "complaints": 0.0}
    assert person(report, JIRO)["activity"]["sends"] == 5.0
    assert code == 1 and codes(report) == {"person-bounce-rate-high": [TARO]}  # 3% against the 2% alarm


# --- drift ----------------------------------------------------------------------------------------

def test_unlisted_user_under_the_path(tmp_path, capsys, aws):
    provision()
    iam = boto3.client("iam")
    iam.create_user(UserName="smtp-gone@test1.com", Path=IAM_USER_PATH)
    iam.create_user(UserName="someone-else", Path="/")
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1
    assert codes(report) == {"unlisted-user": ["smtp-gone@test1.com"]}


def _managed(iam) -> str:
    return iam.create_policy(PolicyName="ses-everything", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:*", "Resource": "*"}]}))["Policy"]["Arn"]


@pytest.mark.parametrize("change, code_", [
    (lambda iam: iam.put_user_policy(UserName=TARO, PolicyName="extra", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:*", "Resource": "*"}]})),
     "extra-inline-policy"),
    (lambda iam: iam.attach_user_policy(UserName=TARO, PolicyArn=_managed(iam)), "attached-policy"),
    (lambda iam: (iam.create_group(GroupName="senders"), iam.add_user_to_group(GroupName="senders", UserName=TARO)),
     "group-membership"),
    (lambda iam: iam.create_login_profile(UserName=TARO, Password="Correct-Horse-1"), "console-password"),
    (lambda iam: iam.enable_mfa_device(
        UserName=TARO, SerialNumber=iam.create_virtual_mfa_device(VirtualMFADeviceName="taro")["VirtualMFADevice"]["SerialNumber"],
        AuthenticationCode1="123456", AuthenticationCode2="654321"), "mfa-device"),
    (lambda iam: iam.delete_user_policy(UserName=TARO, PolicyName=SEND_POLICY_NAME), "policy-missing"),
])
def test_each_drift_class(tmp_path, capsys, aws, change, code_):
    provision()
    change(boto3.client("iam"))
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1
    assert codes(report) == {code_: [TARO]}


def test_send_policy_drift_and_semantic_equality(tmp_path, capsys, aws):
    provision()
    iam = boto3.client("iam")
    doc = iam.get_user_policy(UserName=JIRO, PolicyName=SEND_POLICY_NAME)["PolicyDocument"]
    # Same meaning, other spelling: key order, a one-item list for Action. Not drift.
    doc["Statement"][0]["Action"] = ["ses:SendRawEmail"]
    iam.put_user_policy(UserName=JIRO, PolicyName=SEND_POLICY_NAME, PolicyDocument=json.dumps(doc, sort_keys=False))
    assert run_audit(tmp_path, capsys)[0] == 0
    # The source-address restriction removed by hand: drift.
    del doc["Statement"][0]["Condition"]["IpAddress"]
    iam.put_user_policy(UserName=JIRO, PolicyName=SEND_POLICY_NAME, PolicyDocument=json.dumps(doc))
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1 and codes(report) == {"policy-drift": [JIRO]}
    [finding] = report["findings"]
    assert finding["details"]["expected"]["Statement"][0]["Condition"]["IpAddress"] == {"aws:SourceIp": ["203.0.113.0/24"]}


def test_policy_for_another_region_is_drift(tmp_path, capsys, aws):
    provision()
    code = audit_cli.main(["--roster", str(roster_file(tmp_path)), "--region", "us-east-1", "--format", "json"],
                          clients=bounded(Calls(), region="us-east-1"))
    report = json.loads(capsys.readouterr().out)
    # The identity ARN and the configuration set (roster alone: the one the policy names) are in
    # eu-west-1: both differ from what `pulumi up` in us-east-1 writes.
    assert code == 1 and codes(report) == {"policy-drift": [HANAKO, JIRO, TARO],
                                           "policy-configuration-set": [HANAKO, JIRO, TARO]}


def test_permissions_boundary_against_stack_config(tmp_path, capsys, aws):
    """The stack's boundary is the conventional one unless configured (`none` or another ARN): a
    user without it, or with another one, is drift."""
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/ses-smtp-boundary"
    provision(stack="prod")
    (tmp_path / "Pulumi.yaml").write_text("name: mail\nruntime: python\n", encoding="utf-8")
    stack = tmp_path / "Pulumi.prod.yaml"
    roster_file(tmp_path)
    args = ["--stack", "prod", "--project-dir", str(tmp_path), "--format", "json"]

    def audit_with(config: str, boundaries: dict[str, str]):
        stack.write_text(f"config:\n  aws:region: {REGION}\n  ses-mail:roster: roster.yaml\n{config}", encoding="utf-8")
        make = factory(Calls())
        add_user_boundaries(make("iam"), boundaries)
        code = audit_cli.main(args, clients=make)
        return code, json.loads(capsys.readouterr().out)

    opted_out = "  ses-mail:permissionsBoundary: none\n"
    assert audit_with(opted_out, {})[0] == 0
    assert audit_with("", {TARO: CONVENTIONAL, HANAKO: CONVENTIONAL, JIRO: CONVENTIONAL})[0] == 0
    assert audit_with(f"  ses-mail:permissionsBoundary: {boundary}\n", {TARO: boundary, HANAKO: boundary, JIRO: boundary})[0] == 0
    code, report = audit_with("", {TARO: CONVENTIONAL, HANAKO: CONVENTIONAL})
    assert code == 1 and codes(report) == {"boundary-drift": [JIRO]}
    assert report["findings"][0]["details"] == {"found": None, "expected": CONVENTIONAL}
    code, report = audit_with(opted_out, {TARO: boundary})
    assert code == 1 and codes(report) == {"boundary-drift": [TARO]}
    code, report = audit_with(f"  ses-mail:permissionsBoundary: {boundary}\n", {TARO: boundary, JIRO: boundary})
    assert code == 1 and codes(report) == {"boundary-drift": [HANAKO]}
    assert report["findings"][0]["details"] == {"found": None, "expected": boundary}


# --- pure ------------------------------------------------------------------------------------------

def test_check_keys_counts_generations_and_statuses():
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    fresh = KeyState("AKIA1", "Active", now - timedelta(days=3))
    used = KeyState("AKIA2", "Active", now - timedelta(days=30), now - timedelta(days=1), "ses", REGION)
    args = dict(now=now, stale_days=90, max_age_days=365)
    assert check_keys("u", [fresh], expected_count=1, suspended=False, **args) == []
    assert check_keys("u", [used, fresh], expected_count=2, suspended=False, **args) == []
    assert [f.code for f in check_keys("u", [used, fresh], expected_count=1, suspended=False, **args)] == ["key-extra"]
    assert [f.code for f in check_keys("u", [], expected_count=1, suspended=False, **args)] == ["key-missing"]
    assert [f.code for f in check_keys("u", [fresh], expected_count=1, suspended=True, **args)] == ["key-status"]
    inactive_old = KeyState("AKIA3", "Inactive", now - timedelta(days=900))
    assert check_keys("u", [inactive_old], expected_count=1, suspended=True, **args) == []


# --- permissions, read-only, end to end ---------------------------------------------------------

def test_documented_policy_allows_every_call_audit_makes(tmp_path, capsys, aws):
    policy = documented_policy("operations.md", "## Audit credentials: `ses-mail audit`")
    provision()
    iam = boto3.client("iam")
    iam.create_login_profile(UserName=TARO, Password="Correct-Horse-1")
    boto3.client("iam").delete_user_policy(UserName=HANAKO, PolicyName=SEND_POLICY_NAME)
    _, _, calls = run_audit(tmp_path, capsys)
    assert calls.actions == {
        "sts:GetCallerIdentity", "iam:ListUsers", "iam:GetUser", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
        "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListAttachedUserPolicies", "iam:ListGroupsForUser",
        "iam:GetLoginProfile", "iam:ListMFADevices", "cloudwatch:GetMetricData", "ses:GetEmailIdentity"}
    for action in sorted(calls.actions):
        assert allows(policy, Request(action, "*")), f"the documented audit policy does not allow {action}"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert action.split(":")[1].startswith(("Get", "List", "Describe")), action


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_end_to_end_against_a_moto_server(tmp_path, moto_server, monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true"})
    for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(k, env[k])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    provision(endpoint=moto_server)
    roster_file(tmp_path)
    # moto keeps no boundary on users: this stack opts out of it, so the users are as it expects.
    (tmp_path / "Pulumi.yaml").write_text("name: mail\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        f"config:\n  aws:region: {REGION}\n  ses-mail:roster: roster.yaml\n  ses-mail:permissionsBoundary: none\n",
        encoding="utf-8")
    command = [str(SES_CLI), "audit", "--stack", "dev", "--project-dir", str(tmp_path), "--format", "json"]

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert report["clean"] is True and len(report["people"]) == 3

    boto3.client("iam", endpoint_url=moto_server).create_user(UserName="smtp-intruder@test1.com", Path=IAM_USER_PATH)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert [f["code"] for f in json.loads(done.stdout)["findings"]] == ["unlisted-user"]

    no_creds = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    done = subprocess.run(command, env=no_creds, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: no AWS credentials"), done.stderr


def test_a_send_policy_for_another_stacks_configuration_set_is_drift(tmp_path, capsys, aws):
    """With --stack, the send policy must allow exactly that stack's configuration set (what
    `pulumi up` of the stack writes); a policy naming another stack's set has drifted. With a
    roster file alone the set is `--configuration-set`, else the one named set the policies allow."""
    provision(stack="dev")
    (tmp_path / "Pulumi.yaml").write_text("name: mail\nruntime: python\n", encoding="utf-8")
    roster_file(tmp_path)
    for name in ("dev", "prod"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text(
            f"config:\n  aws:region: {REGION}\n  ses-mail:roster: roster.yaml\n", encoding="utf-8")

    def audit_stack(stack: str):
        code = audit_cli.main(["--stack", stack, "--project-dir", str(tmp_path), "--format", "json"],
                              clients=bounded(Calls()))
        return code, json.loads(capsys.readouterr().out)

    assert audit_stack("dev")[0] == 0
    code, report = audit_stack("prod")
    assert code == 1 and codes(report) == {"policy-drift": [HANAKO, JIRO, TARO],
                                           "policy-configuration-set": [HANAKO, JIRO, TARO]}
    assert "ses-mail-dev" in report["findings"][0]["message"] + report["findings"][1]["message"]
    # --roster: the one named set the policies allow (dev's) is taken, and compared in full.
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 0, report["findings"]
    assert {p["configuration_set"] for p in report["people"]} == {configuration_set_name("dev")}
    code, report, _ = run_audit(tmp_path, capsys, "--configuration-set", configuration_set_name("prod"))
    assert code == 1 and set(codes(report)) == {"policy-drift", "policy-configuration-set"}
    assert run_audit(tmp_path, capsys, "--configuration-set", configuration_set_name("dev"))[0] == 0


# --- what an attacker would add: configuration sets, statements, conditions, identity policies ------

DEV_SET = configuration_set_arn(REGION, ACCOUNT, configuration_set_name("dev"))


def _edit_send_policy(user: str, change) -> None:
    iam = boto3.client("iam")
    doc = iam.get_user_policy(UserName=user, PolicyName=SEND_POLICY_NAME)["PolicyDocument"]
    change(doc)
    iam.put_user_policy(UserName=user, PolicyName=SEND_POLICY_NAME, PolicyDocument=json.dumps(doc))


def _add_resource(resource):
    return lambda doc: doc["Statement"][0]["Resource"].append(resource)


@pytest.mark.parametrize("args", [(), ("--configuration-set", configuration_set_name("dev"))],
                         ids=["roster-alone", "configuration-set-option"])
@pytest.mark.parametrize("change, expect", [
    (_add_resource(f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/*"), {"policy-drift", "policy-configuration-set"}),
    (_add_resource("*"), {"policy-drift", "policy-configuration-set"}),
    (_add_resource(configuration_set_arn(REGION, ACCOUNT, "unmonitored")), {"policy-drift", "policy-configuration-set"}),
    (_add_resource(identity_arn(REGION, ACCOUNT, "other.example")), {"policy-drift"}),
    (lambda doc: doc["Statement"].append({"Effect": "Allow", "Action": "ses:SendRawEmail",
                                          "Resource": identity_arn(REGION, ACCOUNT, "test1.com")}), {"policy-drift"}),
    (lambda doc: doc["Statement"][0]["Condition"].update(
        {"StringLikeIfExists": {"ses:FromAddress": "*@test1.com"}}), {"policy-drift"}),
    (lambda doc: doc["Statement"][0]["Condition"]["StringEqualsIgnoreCase"].update(
        {"ses:FromAddress": ["taro@test1.com", "hanako@test1.com"]}), {"policy-drift"}),
], ids=["wildcard-set", "wildcard-resource", "second-named-set", "second-identity", "added-statement",
        "added-condition", "widened-condition"])
def test_a_send_policy_is_compared_in_full(tmp_path, capsys, aws, change, expect, args):
    """A wildcard or second configuration set, an extra resource, an extra statement, a widened
    condition: each is a finding (exit 1) for that person only, also with a roster file alone."""
    provision()
    _edit_send_policy(TARO, change)
    code, report, _ = run_audit(tmp_path, capsys, *args)
    assert code == 1
    assert {c: s for c, s in codes(report).items()} == {c: [TARO] for c in expect}


def test_a_policy_with_no_set_or_only_a_wildcard_set_with_a_roster_alone(tmp_path, capsys, aws):
    """Exactly one named set is accepted: the set removed (SES then refuses the person's mail) or
    replaced by a wildcard is a finding; people naming different sets disagree."""
    provision()
    _edit_send_policy(TARO, lambda doc: doc["Statement"][0].update(Resource=identity_arn(REGION, ACCOUNT, "test1.com")))
    _edit_send_policy(JIRO, lambda doc: doc["Statement"][0]["Resource"].__setitem__(
        1, f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/ses-mail-*"))
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1 and codes(report) == {"policy-configuration-set": [JIRO, TARO], "policy-drift": [JIRO]}
    taro = next(f for f in report["findings"] if f["subject"] == TARO)
    assert "allows no configuration set" in taro["message"]

    provision_other = configuration_set_arn(REGION, ACCOUNT, configuration_set_name("prod"))
    _edit_send_policy(TARO, lambda doc: doc["Statement"][0].update(
        Resource=[identity_arn(REGION, ACCOUNT, "test1.com"), provision_other]))
    _edit_send_policy(JIRO, lambda doc: doc["Statement"][0]["Resource"].__setitem__(1, DEV_SET))
    code, report, _ = run_audit(tmp_path, capsys)
    assert code == 1 and codes(report) == {"configuration-set-mismatch": ["account"]}


def _stubbed_ses(policies: dict):
    from tests.support.live_aws import identity, ses_client

    ses, stubber = ses_client()
    answer = identity("test1.com")
    answer["Policies"] = {name: json.dumps(doc) for name, doc in policies.items()}
    stubber.add_response("get_email_identity", answer, {"EmailIdentity": "test1.com"})
    return ses, stubber


def _statement(principal) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": "ses:SendRawEmail",
            "Resource": identity_arn(REGION, ACCOUNT, "test1.com")}


@pytest.mark.parametrize("policies, flagged", [
    ({"open": {"Version": "2012-10-17", "Statement": [_statement("*")]}}, ["open"]),
    ({"partner": {"Version": "2012-10-17", "Statement": [_statement({"AWS": "999999999999"})]},
      "mine": {"Version": "2012-10-17", "Statement": [_statement({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})]}}, ["partner"]),
    ({"colleague": {"Version": "2012-10-17", "Statement": [_statement({"AWS": f"arn:aws:iam::{ACCOUNT}:user{IAM_USER_PATH}{TARO}"})]}},
     ["colleague"]),
    ({"mine": {"Version": "2012-10-17", "Statement": [_statement({"AWS": ACCOUNT})]},
      "deny": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ses:*", "Resource": "*"}]}},
     []),
    ({}, []),
], ids=["everyone", "cross-account", "stack-user-by-arn", "clean-own-account-and-deny", "none"])
def test_identity_sending_authorization_policies(tmp_path, capsys, aws, policies, flagged):
    provision()
    ses, stubber = _stubbed_ses(policies)
    calls = Calls()
    with stubber:
        code = audit_cli.main(["--roster", str(roster_file(tmp_path)), "--region", REGION, "--format", "json"],
                              clients=bounded(calls, stubbed={"sesv2": ses}))
        stubber.assert_no_pending_responses()
    report = json.loads(capsys.readouterr().out)
    assert code == (1 if flagged else 0), report["findings"]
    assert sorted(f["details"]["policy"] for f in report["findings"]) == flagged
    assert all(f["code"] == "identity-policy-permissive" and f["subject"] == "test1.com" for f in report["findings"])
    assert "ses:GetEmailIdentity" in calls.actions


def test_configuration_set_option_needs_a_plain_name_and_a_roster(tmp_path, capsys):
    path = str(roster_file(tmp_path))
    for args in (["--roster", path, "--configuration-set", "ses-mail-*"],
                 ["--roster", path, "--configuration-set", "x" * 65],
                 ["--stack", "dev", "--project-dir", str(tmp_path), "--configuration-set", "ses-mail-dev"]):
        assert audit_cli.main([*args, "--region", REGION], clients=bounded(Calls())) == 2
        assert "--configuration-set" in capsys.readouterr().err
