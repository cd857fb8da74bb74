"""`ses-mail doctor` on a stack receiving DMARC reports: the live MX, the active receipt rule set
(moto SES), the report bucket (moto S3: policy, encryption, public access block), and each
domain's rollout stage with the recommendation from the reports stored in the bucket."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest

from ses_mail.cli import doctor as doctor_cli
from ses_mail.roster import parse_roster
from ses_mail.specs import report_receiving as spec
from ses_mail.specs.dns_records import dkim_records, route53_values, static_records
from tests.support import dmarc_reports as gen
from tests.support.dns_server import serve_zone
from tests.support.live_aws import REGION, TOKENS, Calls, account, factory, identity, ses_client

ACCOUNT = "123456789012"  # moto's
BUCKET = "dmarc-reports-test"
END = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())
NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
ROSTER = f"""
domains:
  - name: crm.example
    dmarc: {{policy: reject}}
reports:
  address: dmarc@reports.crm.example
  bucket: {BUCKET}
"""
RULE_SET, RULE, PROVE_RULE = "inbound", "dmarc-rule", "prove-rule"


def published(zone_ns):
    """What the stack publishes: the domain's records (rua with the reports address) and the MX."""
    roster = parse_roster(ROSTER.strip() + "\n", "roster.yaml")
    (domain,) = spec.with_reports(roster.domains, roster.reports.address)
    records = dkim_records(domain, TOKENS, REGION) + static_records(domain, REGION) + \
        [spec.mx_record(roster.reports.address, REGION, domain.ttl)]
    rows = [("crm.example", "NS", ns + ".", 172800) for ns in zone_ns]
    return records, rows + [(r.name, r.type, r.value, r.ttl) for r in records]


@pytest.fixture
def receiving(aws, monkeypatch):
    """The zone, the rule set with the report rule (active), and the bucket as the stack makes them."""
    # moto enforces bucket policies ignoring their conditions, so the TLS-only Deny would refuse
    # every request; the policy itself is evaluated in tests/test_report_receiving.py.
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket
    monkeypatch.setattr(FakeBucket, "get_permission", lambda self, action, resource: PermissionResult.NEUTRAL)
    r53 = boto3.client("route53")
    zone = r53.create_hosted_zone(Name="crm.example", CallerReference="reports")
    records, rows = published(zone["DelegationSet"]["NameServers"])
    r53.change_resource_record_sets(HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": r.name, "Type": r.type, "TTL": r.ttl, "ResourceRecords": [
            {"Value": f'"{v}"' if r.type == "TXT" else v} for v in route53_values(r)]}} for r in records]})
    # SES test-writes to the bucket when the rule is made: the bucket and its policy come first.
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    arn = spec.rule_arn(REGION, ACCOUNT, RULE_SET, RULE)
    prove_arn = spec.rule_arn(REGION, ACCOUNT, RULE_SET, PROVE_RULE)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(spec.bucket_policy(BUCKET, ACCOUNT, arn,
                                                                             prove_source_arn=prove_arn)))
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    ses = boto3.client("ses")
    ses.create_receipt_rule_set(RuleSetName=RULE_SET)
    ses.create_receipt_rule(RuleSetName=RULE_SET, Rule={
        "Name": RULE, "Enabled": True, "Recipients": ["dmarc@reports.crm.example"], "ScanEnabled": True,
        "Actions": [{"S3Action": {"BucketName": BUCKET, "ObjectKeyPrefix": "dmarc/"}}]})
    ses.create_receipt_rule(RuleSetName=RULE_SET, After=RULE, Rule={
        "Name": PROVE_RULE, "Enabled": True, "Recipients": ["ses-mail-prove@reports.crm.example"], "ScanEnabled": True,
        "Actions": [{"S3Action": {"BucketName": BUCKET, "ObjectKeyPrefix": "prove/"}}]})
    ses.set_active_receipt_rule_set(RuleSetName=RULE_SET)
    return rows


def store(scenario):
    """Reports as SES stores them: each message whole, under the rule's prefix; and one of prove's
    test messages, under prove's."""
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key="prove/0000prove", Body=b"From: taro@crm.example\r\nTo: "
                  b"ses-mail-prove@reports.crm.example\r\nSubject: ses-mail prove receiver\r\n\r\nhello\r\n")
    for i, (name, data) in enumerate(scenario.files.items()):
        eml = gen.as_eml("google", scenario.domain, f"{name.split('!')[2]}-{i}", name, data,
                         "dmarc@reports.crm.example", END)
        s3.put_object(Bucket=BUCKET, Key=f"dmarc/{i:04d}abcdef", Body=eml)


def run(tmp_path, capsys, rows, monkeypatch):
    import ses_mail.live.doctor as doctor_module

    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER.strip() + "\n", encoding="utf-8")
    ses, stubber = ses_client()
    stubber.add_response("get_email_identity", identity("crm.example"), {"EmailIdentity": "crm.example"})
    stubber.add_response("get_account", account(), {})
    calls = Calls()
    real_run = doctor_module.run
    monkeypatch.setattr(doctor_module, "run", lambda *a, **k: real_run(*a, **{**k, "now": lambda: NOW}))
    with stubber, serve_zone(rows) as dns:
        code = doctor_cli.main(["--roster", str(path), "--region", REGION, "--resolver", dns.address,
                                "--format", "json"], clients=factory(calls, stubbed={"sesv2": ses}))
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out), calls


def codes(report):
    return {f["code"] for f in report["findings"]}


def test_receiving_in_place_and_the_rollout_from_the_stored_reports(tmp_path, capsys, receiving, monkeypatch):
    scenario = gen.forgotten_sender(END)  # reject published while a CRM sends ~5% unaligned
    store(scenario)
    code, report, calls = run(tmp_path, capsys, receiving, monkeypatch)
    reports = report["reports"]
    assert reports["mx"]["ok"] is True and reports["rule_set"]["state"] == "ours"
    assert reports["bucket"] == {"bucket": BUCKET, "exists": True, "policy_ok": True, "encryption": ["AES256"],
                                 "public_access_blocked": True}
    assert reports["rule_set"]["prove_rule"] == PROVE_RULE
    entry = reports["rollout"]["crm.example"]
    assert entry["stage"] == "reject" and entry["recommendation"] == "none"
    assert entry["messages"] == sum(r.count for _, r in scenario.rows)
    # Everything but the rollout is healthy; reject stricter than the evidence is the one error.
    # prove's test messages under prove/ of the same bucket are not read as reports.
    assert {f["code"] for f in report["findings"] if f["severity"] in ("error", "warning")} == \
        {"dmarc-stricter-than-evidence"}
    assert code == 1
    assert all(op.split(":")[1].startswith(("Get", "List", "Describe")) for op in calls.made)


def test_another_active_set_a_wrong_policy_and_no_mx_are_findings(tmp_path, capsys, receiving, monkeypatch):
    ses = boto3.client("ses")
    ses.create_receipt_rule_set(RuleSetName="someone-else")
    ses.set_active_receipt_rule_set(RuleSetName="someone-else")
    s3 = boto3.client("s3")
    loose = spec.bucket_policy(BUCKET, "210987654321", spec.rule_arn(REGION, "210987654321", RULE_SET, RULE))
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(loose))
    s3.delete_bucket_encryption(Bucket=BUCKET)
    rows = [r for r in receiving if not (r[0] == "reports.crm.example" and r[1] == "MX")]
    code, report, _ = run(tmp_path, capsys, rows, monkeypatch)
    assert code == 1
    # With --roster alone any active set could be the one joined: the rule is what must be there.
    assert {"reports-rule-missing", "reports-bucket-policy-drift", "dns-missing"} <= codes(report)
    assert report["reports"]["rule_set"]["active_rule_set"] == "someone-else"
    assert not report["reports"]["bucket"]["policy_ok"]


def test_no_active_rule_set_and_no_bucket(tmp_path, capsys, receiving, monkeypatch):
    boto3.client("ses").set_active_receipt_rule_set()  # none active
    s3 = boto3.client("s3")
    s3.delete_bucket_policy(Bucket=BUCKET)
    s3.delete_public_access_block(Bucket=BUCKET)
    code, report, _ = run(tmp_path, capsys, receiving, monkeypatch)
    assert {"reports-no-active-rule-set", "reports-bucket-policy-missing", "reports-bucket-public-access"} <= codes(report)
    assert report["reports"]["rule_set"]["state"] == "none"


def test_a_missing_prove_rule_is_a_warning_and_its_policy_statement_is_expected(tmp_path, capsys, receiving,
                                                                                  monkeypatch):
    """An active set holding the report rule but not prove's: `prove --receiver` cannot read its
    messages back (a warning), and the bucket policy, which names the rules of another set, is drift."""
    ses = boto3.client("ses")  # moto has no DeleteReceiptRule: a set made without prove's rule
    ses.create_receipt_rule_set(RuleSetName="inbound-2")
    ses.create_receipt_rule(RuleSetName="inbound-2", Rule={
        "Name": RULE, "Enabled": True, "Recipients": ["dmarc@reports.crm.example"], "ScanEnabled": True,
        "Actions": [{"S3Action": {"BucketName": BUCKET, "ObjectKeyPrefix": "dmarc/"}}]})
    ses.set_active_receipt_rule_set(RuleSetName="inbound-2")
    code, report, _ = run(tmp_path, capsys, receiving, monkeypatch)
    findings = {f["code"]: f for f in report["findings"]}
    assert findings["reports-prove-rule-missing"]["severity"] == "warning"
    assert "ses-mail-prove@reports.crm.example" in findings["reports-prove-rule-missing"]["message"]
    assert report["reports"]["rule_set"]["prove_rule"] is None
    assert "reports-bucket-policy-drift" in findings and code == 1
