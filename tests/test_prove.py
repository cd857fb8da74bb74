"""`ses-mail prove` against an emulated SES SMTP endpoint (tests/support/ses_smtp.py).

The "stack" is what the real program registers for a scratch project's roster (run under the
Pulumi mocks), put into moto: each IAM user with the send policy the program built, a moto access
key per person (the credentials file is the program's own `smtp_credentials` output with moto's
key and the SMTP password derived from it), the feedback topic with the program's topic policy,
and SES's side (verified domains, each identity's default configuration set, the set's SNS event
destination) from the program's identities and event destinations. Planted faults change exactly
one of those before `prove` runs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import boto3
import pytest

from ses_mail.cli import prove as prove_cli
from ses_mail.live import prove
from ses_mail.project import find_project
from ses_mail.review.engine import ProgramRun, run_program
from ses_mail.specs.smtp_password import secret_value, smtp_endpoint, smtp_password
from tests.support.live_aws import REGION
from tests.support.ses_smtp import SesAccount, SmtpCertificates, serve_ses_smtp

STACK = "prove"
ACCOUNT = "123456789012"  # moto's default account, and the Pulumi mocks' caller
SES_CLI = Path(sys.executable).parent / "ses-mail"
ROSTER = """
domains:
  - name: test1.com
    dns: external
  - name: test2.com
    dns: external
defaults:
  display_name: true
people:
  - email: taro@test1.com
    name: Taro Yamada
  - email: hanako@test1.com
    name: 花子
  - email: jiro@test2.com
    name: Jiro
"""
POLICY = "aws:iam/userPolicy:UserPolicy"
USER = "aws:iam/user:User"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"

PolicyFault = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Deployed:
    project: Path
    credentials: Path
    endpoint: str
    certificates: SmtpCertificates
    account: SesAccount
    run: ProgramRun

    def args(self, *extra: str) -> list[str]:
        return ["--stack", STACK, "--project-dir", str(self.project), "--credentials", str(self.credentials),
                "--endpoint", self.endpoint, "--ca-file", str(self.certificates.ca_file),
                "--server-name", smtp_endpoint(REGION), "--format", "json", *extra]


def scratch_project(tmp_path: Path, roster: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n", encoding="utf-8")
    (project / f"Pulumi.{STACK}.yaml").write_text(
        f"config:\n  aws:region: {REGION}\n  ses-mail:roster: roster.yaml\n", encoding="utf-8")
    (project / "roster.yaml").write_text(textwrap.dedent(roster).lstrip(), encoding="utf-8")
    return project


def deploy(tmp_path: Path, roster: str = ROSTER, *, send_policy: Optional[PolicyFault] = None,
           drop_sns_destination: bool = False, topic_policy: Optional[dict[str, Any]] = None,
           inactive: tuple[str, ...] = ()) -> tuple[Path, Path, SesAccount, ProgramRun]:
    """The program's resources for `roster`, in moto (call inside the `aws` fixture)."""
    project = scratch_project(tmp_path, roster)
    run = run_program(project=find_project(project), stack=STACK)
    iam, sns = boto3.client("iam"), boto3.client("sns", region_name=REGION)
    for user in run.of_type(USER):
        iam.create_user(UserName=user.inputs["name"], Path=user.inputs["path"])
    senders = run.outputs["senders"]
    for policy in run.of_type(POLICY):
        document = json.loads(policy.inputs["policy"])
        address = next(a for a, s in senders.items() if s["iam_user"] == policy.inputs["user"])
        if send_policy is not None:
            document = send_policy(address, document)
        iam.put_user_policy(UserName=policy.inputs["user"], PolicyName=policy.inputs["name"],
                            PolicyDocument=json.dumps(document))
    credentials = json.loads(json.dumps(run.outputs["smtp_credentials"]))
    for address, entry in credentials.items():
        key = iam.create_access_key(UserName=senders[address]["iam_user"])["AccessKey"]
        if address in inactive:
            iam.update_access_key(UserName=senders[address]["iam_user"], AccessKeyId=key["AccessKeyId"],
                                  Status="Inactive")
        if entry.get("delivery", "output") == "output":
            entry.update(username=key["AccessKeyId"], password=smtp_password(key["SecretAccessKey"], REGION))
        elif entry["delivery"] == "secrets_manager":
            # What the stack's SecretVersion holds, with moto's key.
            boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name=entry["secret_name"], SecretString=secret_value(
                    address, REGION, key["AccessKeyId"], smtp_password(key["SecretAccessKey"], REGION),
                    status="active", key=1))
    path = tmp_path / "smtp_credentials.json"
    path.write_text(json.dumps(credentials), encoding="utf-8")

    topics = {t.inputs["name"]: sns.create_topic(Name=t.inputs["name"])["TopicArn"] for t in run.of_type(TOPIC)}
    for policy in run.of_type(TOPIC_POLICY):
        (arn,) = topics.values()
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                 AttributeValue=json.dumps(topic_policy) if topic_policy else policy.inputs["policy"])
    account = SesAccount(REGION, ACCOUNT, verified={i.inputs["emailIdentity"] for i in run.of_type(IDENTITY)},
                         default_set={i.inputs["emailIdentity"]: i.inputs.get("configurationSetName")
                                      for i in run.of_type(IDENTITY)})
    for destination in run.of_type(DESTINATION):
        sns_destination = destination.inputs["eventDestination"].get("snsDestination")
        if sns_destination and not drop_sns_destination:
            assert sns_destination["topicArn"] in topics.values()
            account.sns_destination[destination.inputs["configurationSetName"]] = sns_destination["topicArn"]
    return project, path, account, run


@pytest.fixture
def stack(tmp_path, aws):
    """`stack(**faults)`: deploy and serve; yields a Deployed."""
    from contextlib import ExitStack

    certificates = SmtpCertificates(tmp_path / "tls", smtp_endpoint(REGION))
    with ExitStack() as stack_:
        def make(roster: str = ROSTER, **faults: Any) -> Deployed:
            project, credentials, account, run = deploy(tmp_path, roster, **faults)
            endpoint = stack_.enter_context(serve_ses_smtp(account, certificates, boto3.client("iam"),
                                                           boto3.client("sns", region_name=REGION)))
            return Deployed(project, credentials, endpoint, certificates, account, run)
        yield make


def run_prove(deployed: Deployed, capsys, *extra: str) -> tuple[int, dict[str, Any]]:
    code = prove_cli.main(deployed.args(*extra))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def failing(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["person"], r["case"]) for r in report["rows"] if r["holds"] is False}


# --- policy faults: what a broken send policy looks like -------------------------------------

def _without_key(document: dict[str, Any], key: str) -> dict[str, Any]:
    """`document` without any condition on `key`, and without any Deny that was about `key`."""
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    kept = []
    for statement in statements:
        condition = statement.get("Condition") or {}
        stripped = {op: {k: v for k, v in keys.items() if k.lower() != key.lower()} for op, keys in condition.items()}
        stripped = {op: keys for op, keys in stripped.items() if keys}
        if stripped != condition and statement["Effect"] == "Deny":
            continue
        kept.append({**statement, "Condition": stripped} if condition else statement)
    return {**document, "Statement": kept}


def allows_colleagues(address: str, document: dict[str, Any]) -> dict[str, Any]:
    domain = address.rpartition("@")[2]
    loose = _without_key(document, "ses:FromAddress")
    for statement in loose["Statement"]:
        if statement["Effect"] == "Allow":
            statement.setdefault("Condition", {}).setdefault("StringLike", {})["ses:FromAddress"] = f"*@{domain}"
    return loose


def no_display_name_condition(address: str, document: dict[str, Any]) -> dict[str, Any]:
    return _without_key(document, "ses:FromDisplayName")


def unrestricted_feedback_address(address: str, document: dict[str, Any]) -> dict[str, Any]:
    return _without_key(document, "ses:FeedbackAddress")


# --- the cases --------------------------------------------------------------------------------

def test_classify_follows_ses_documented_replies():
    assert prove.classify(250, "Ok 0100018f-abc-000000") == prove.ACCEPTED
    assert prove.classify(535, "Authentication Credentials Invalid") == prove.AUTH_FAILED
    assert prove.classify(554, "Message rejected: Email address is not verified. The following identities failed "
                               "the check in region EU-WEST-1: a@b.invalid") == prove.REFUSED_UNVERIFIED
    assert prove.classify(554, "Access denied: User `arn:aws:iam::1:user/x' is not authorized to perform "
                               "`ses:SendRawEmail' on resource `arn'") == prove.REFUSED_POLICY
    assert prove.classify(454, "Throttling failure: Maximum sending rate exceeded.") == prove.OTHER_ERROR
    assert prove.classify(554, "Message rejected: Sending paused for this account.") == prove.OTHER_ERROR


def test_healthy_stack_passes(stack, capsys):
    """Issue 17's send policy keeps every promise, the envelope sender's included: a colleague's
    address as ses:FeedbackAddress is refused for every person, and nothing else fails."""
    code, report = run_prove(stack(), capsys)
    assert (code, failing(report)) == (0, set()), report["rows"]
    envelope = [r for r in report["rows"] if r["case"] == "envelope-colleague"]
    assert {r["person"] for r in envelope} == {"taro@test1.com", "hanako@test1.com", "jiro@test2.com"}
    assert all(r["holds"] is True and r["observed"] == prove.REFUSED_POLICY for r in envelope), envelope


@pytest.mark.parametrize("fault, case", [
    (allows_colleagues, "P2"),
    (no_display_name_condition, "display-colleague"),
    (unrestricted_feedback_address, "envelope-colleague"),
])
def test_planted_policy_fault_fails_naming_the_case(stack, capsys, fault, case):
    code, report = run_prove(stack(send_policy=fault), capsys)
    assert code == 1
    assert ("taro@test1.com", case) in failing(report)
    assert f"taro@test1.com {case}" in report["failed"]
    row = next(r for r in report["rows"] if (r["person"], r["case"]) == ("taro@test1.com", case))
    assert row["observed"] == prove.ACCEPTED and row["expected"] == prove.REFUSED_POLICY


def test_refused_credential_fails_naming_p1(stack, capsys):
    code, report = run_prove(stack(inactive=("taro@test1.com",)), capsys)
    assert code == 1
    p1 = next(r for r in report["rows"] if (r["person"], r["case"]) == ("taro@test1.com", "P1"))
    assert (p1["observed"], p1["holds"]) == (prove.AUTH_FAILED, False)
    assert p1["reply"] == "535 Authentication Credentials Invalid"


def test_text_table_names_the_failing_case(stack, capsys):
    deployed = stack(send_policy=allows_colleagues)
    args = [a for a in deployed.args() if a not in ("--format", "json")]
    assert prove_cli.main(args) == 1
    out = capsys.readouterr().out
    assert "SES REPLY" in out and "expectations do not hold" in out
    assert any("FAIL" in line and "taro@test1.com" in line and " P2 " in line for line in out.splitlines())


def test_without_feedback_no_aws_client_is_created(stack, capsys, monkeypatch):
    deployed = stack()  # the emulation's own clients exist already

    def refuse(*args, **kwargs):
        raise AssertionError("prove created an AWS client without --feedback or --from-secrets")

    import botocore.session
    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    code, report = run_prove(deployed, capsys)
    assert report["tested"] == 21


def test_restricted_people_are_not_testable_here(stack, capsys):
    roster = ROSTER + """
  - email: saburo@test1.com
    name: Saburo
    recipients: ['*@test1.com']
  - email: shiro@test1.com
    name: Shiro
    allowed_ips: [203.0.113.0/24]
"""
    code, report = run_prove(stack(roster), capsys)
    rows = [r for r in report["rows"] if r["person"] in ("saburo@test1.com", "shiro@test1.com")]
    assert rows and all(r["observed"] == prove.NOT_TESTABLE and r["holds"] is None for r in rows)
    notes = {r["person"]: r["note"] for r in rows}
    assert "success@simulator.amazonses.com is not allowed" in notes["saburo@test1.com"]
    assert "allowed_ips 203.0.113.0/24" in notes["shiro@test1.com"]


def test_certificate_is_always_verified(stack, capsys):
    deployed = stack()
    args = deployed.args()
    args[args.index("--server-name") + 1] = "email-smtp.us-east-1.amazonaws.com"  # not the certificate's name
    assert prove_cli.main(args) == 2
    assert "TLS" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--roster", "r.yaml", "--region", REGION], "give --credentials"),
    (["--roster", "r.yaml", "--region", REGION, "--credentials", "missing.json"], "cannot read"),
])
def test_usage_errors_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.yaml").write_text("domains:\n  - name: test1.com\npeople:\n  - email: taro@test1.com\n")
    assert prove_cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_credential_of_a_chosen_person_exits_2(stack, capsys):
    deployed = stack()
    creds = json.loads(deployed.credentials.read_text())
    del creds["jiro@test2.com"]
    deployed.credentials.write_text(json.dumps(creds))
    assert prove_cli.main(deployed.args("--person", "jiro@test2.com")) == 2
    assert "jiro@test2.com has no entry" in capsys.readouterr().err


def test_credentials_from_stdin(stack, capsys, monkeypatch):
    import io

    deployed = stack(send_policy=allows_colleagues)
    args = deployed.args("--person", "taro@test1.com")
    args[args.index("--credentials") + 1] = "-"
    code = prove_cli.main(args, stdin=io.StringIO(deployed.credentials.read_text()))
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and {r["person"] for r in report["rows"]} == {"taro@test1.com"}


def test_from_secrets_reads_secrets_manager_people(stack, capsys):
    roster = ROSTER.replace("    name: Jiro\n", "    name: Jiro\n    delivery: secrets_manager\n"
                            "    secret_readers: [arn:aws:iam::123456789012:role/mail-relay]\n")
    deployed = stack(roster)
    args = deployed.args("--from-secrets")
    i = args.index("--credentials")
    del args[i:i + 2]
    prove_cli.main(args)
    report = json.loads(capsys.readouterr().out)
    rows = {(r["person"], r["case"]): r for r in report["rows"]}
    assert rows[("jiro@test2.com", "P1")]["observed"] == prove.ACCEPTED
    assert rows[("jiro@test2.com", "P2")]["observed"] == prove.REFUSED_POLICY
    assert rows[("taro@test1.com", "P1")]["observed"] == prove.NOT_TESTABLE
    assert "give --credentials" in rows[("taro@test1.com", "P1")]["note"]


# --- the feedback loop ------------------------------------------------------------------------

def leftovers() -> tuple[list[str], list[str]]:
    queues = boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", [])
    subscriptions = [s["SubscriptionArn"] for s in
                     boto3.client("sns", region_name=REGION).list_subscriptions()["Subscriptions"]]
    return queues, subscriptions


def test_feedback_names_the_sender_and_leaves_nothing(stack, capsys):
    deployed = stack(send_policy=lambda a, d: d)
    code, report = run_prove(deployed, capsys, "--person", "taro@test1.com", "--feedback",
                             "--feedback-timeout", "5")
    fb = report["feedback"]
    assert fb["holds"] is True, fb
    assert {c["caller_identity"][0] for c in fb["checks"].values()} == {"smtp-taro@test1.com"}
    assert {c["event"] for c in fb["checks"].values()} == {"Bounce", "Complaint"}
    assert sorted(fb["created"]) == sorted(fb["deleted"]) and len(fb["created"]) == 2
    assert leftovers() == ([], [])


@pytest.mark.parametrize("fault", ["missing event destination", "topic policy without SES"])
def test_feedback_faults_fail(stack, capsys, fault):
    faults = ({"drop_sns_destination": True} if fault == "missing event destination" else
              {"topic_policy": {"Version": "2012-10-17", "Statement": []}})
    code, report = run_prove(stack(**faults), capsys, "--person", "taro@test1.com", "--feedback",
                             "--feedback-timeout", "2")
    assert code == 1
    fb = report["feedback"]
    assert fb["holds"] is False
    assert all(c["observed"] == "no event within 2s" for c in fb["checks"].values())
    assert leftovers() == ([], [])


def _interrupting(monkeypatch, interrupt: Callable[[], None]) -> None:
    real = prove.smtp_sender

    def sender(endpoint):
        send = real(endpoint)

        def maybe(credential, envelope, subject):
            if envelope.recipients == (prove.BOUNCE,):
                interrupt()
            return send(credential, envelope, subject)
        return maybe
    monkeypatch.setattr(prove, "smtp_sender", sender)


def _raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("interrupt", [_raise_keyboard_interrupt, lambda: os.kill(os.getpid(), signal.SIGTERM)],
                         ids=["ctrl-c", "sigterm"])
def test_feedback_interrupted_leaves_nothing(stack, capsys, monkeypatch, interrupt):
    deployed = stack()
    _interrupting(monkeypatch, interrupt)
    before = signal.getsignal(signal.SIGTERM)
    assert prove_cli.main(deployed.args("--person", "taro@test1.com", "--feedback", "--feedback-timeout", "2")) == 130
    assert "interrupted" in capsys.readouterr().err
    assert leftovers() == ([], [])
    assert signal.getsignal(signal.SIGTERM) is before


# --- the path users take ----------------------------------------------------------------------

def test_installed_command_without_aws(stack, tmp_path):
    """The installed `ses-mail prove` in a subprocess, with no AWS credentials or endpoint at all."""
    deployed = stack(send_policy=allows_colleagues)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    done = subprocess.run([str(SES_CLI), "prove", *deployed.args("--person", "taro@test1.com")],
                          cwd=deployed.project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert "taro@test1.com P2" in report["failed"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_password_reaches_prove_s_output(stack, capsys, fmt):
    """prove reads every person's SMTP password; neither its table nor its JSON (a workflow
    artifact) nor its errors may show one, passing run or failing."""
    deployed = stack(send_policy=allows_colleagues)
    passwords = [c["password"] for c in json.loads(deployed.credentials.read_text()).values() if c.get("password")]
    assert passwords
    code = prove_cli.main([*deployed.args(), "--format", fmt])
    out, err = capsys.readouterr()
    assert code == 1 and out
    assert not [p for p in passwords if p in out or p in err]
