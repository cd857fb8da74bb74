"""The live-account commands as an operator runs them: the installed `ses-mail` command in a
subprocess, configured only by the standard AWS environment, against a moto server (IAM, STS,
Route 53, CloudWatch), an SES v2 emulation whose answers are checked against botocore's model
(tests/support/sesv2_server.py; moto's SES v2 has no GetAccount and no DKIM tokens), and a real
DNS server on 127.0.0.1 queried through --resolver. Read-only: the SES v2 emulation records
every request and refuses writes, and moto's state is compared before and after.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from ses_mail.specs.dns_records import dkim_records, route53_values, static_records
from tests.support.dns_server import serve_zone
from tests.support.live_aws import REGION, TOKENS, account, identity
from tests.support.sesv2_server import serve_sesv2
from tests.test_audit import moto_server  # noqa: F401 - the fixture
from tests.test_doctor import DOMAIN, ROSTER  # the same account and roster as the in-process doctor tests

SES_CLI = Path(sys.executable).parent / "ses-mail"
EXPECTED = dkim_records(DOMAIN, TOKENS, REGION) + static_records(DOMAIN, REGION)


@pytest.fixture
def account_env(moto_server, tmp_path):  # noqa: F811 - the fixture imported above
    """The environment of an operator's shell: fake credentials, moto for every service, and a
    Route 53 zone holding what `pulumi up` wrote; returns (env, zone name servers)."""
    # moto's backends live in this process, shared by every server it starts: begin empty.
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true"})
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    r53 = session.client("route53", endpoint_url=moto_server)
    zone = r53.create_hosted_zone(Name="test1.com", CallerReference="e2e")
    r53.change_resource_record_sets(HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {
            "Name": r.name, "Type": r.type, "TTL": r.ttl,
            "ResourceRecords": [{"Value": f'"{v}"' if r.type == "TXT" else v} for v in route53_values(r)]}}
        for r in EXPECTED]})
    session.client("cloudwatch", endpoint_url=moto_server).put_metric_data(Namespace="AWS/SES", MetricData=[
        {"MetricName": "Reputation.BounceRate", "Value": 0.001},
        {"MetricName": "Reputation.ComplaintRate", "Value": 0.0001}])
    # The one-time setup's permissions boundary (docs/review-threat-model.md), which doctor checks.
    from ses_mail.specs.boundary import BOUNDARY_PATH, SMTP_BOUNDARY, smtp_boundary_policy
    session.client("iam", endpoint_url=moto_server).create_policy(
        Path=BOUNDARY_PATH, PolicyName=SMTP_BOUNDARY, PolicyDocument=json.dumps(smtp_boundary_policy()))
    (tmp_path / "roster.yaml").write_text(ROSTER.strip() + "\n", encoding="utf-8")
    return env, zone["DelegationSet"]["NameServers"]


def published(name_servers, *, drop: str = "", extra=()) -> list[tuple[str, str, str, int]]:
    rows = [("test1.com", "NS", ns + ".", 172800) for ns in name_servers]
    rows += [(r.name, r.type, r.value, r.ttl) for r in EXPECTED if not (drop and r.name.startswith(drop))]
    return rows + list(extra)


def doctor(tmp_path, env, dns, sesv2) -> tuple[int, dict]:
    done = subprocess.run(
        [str(SES_CLI), "doctor", "--roster", str(tmp_path / "roster.yaml"), "--region", REGION,
         "--resolver", dns.address, "--format", "json"],
        env={**env, "AWS_ENDPOINT_URL_SESV2": sesv2}, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def failing(report) -> set[tuple[str, str]]:
    return {(f["code"], f["subject"]) for f in report["findings"] if f["severity"] in ("error", "warning")}


def test_doctor_finds_every_planted_problem_and_nothing_else(tmp_path, account_env):
    env, name_servers = account_env
    healthy = {"test1.com": identity("test1.com", configuration_set="ses-mail-dev")}
    with serve_sesv2(healthy, account()) as (sesv2, state), serve_zone(published(name_servers)) as dns:
        code, report = doctor(tmp_path, env, dns, sesv2)
        assert (code, failing(report)) == (0, set()), report["findings"]
        assert state.requests == [("GET", "/v2/email/identities/test1.com"), ("GET", "/v2/email/account")]

    # Planted: DMARC in Route 53 but not answered publicly (not yet propagated, or a delegation
    # elsewhere), a second SPF record on the MAIL FROM name, and the account in the sandbox. Each
    # is found, with nothing else.
    planted = published(name_servers, drop="_dmarc.", extra=[("mail.test1.com", "TXT", "v=spf1 -all", 600)])
    with serve_sesv2(healthy, account(production=False)) as (sesv2, state), serve_zone(planted) as dns:
        code, report = doctor(tmp_path, env, dns, sesv2)
    assert code == 1
    assert {c for c, _ in failing(report)} == {"dns-not-public", "dns-duplicate-spf", "sandbox"}, report["findings"]
    assert ("dns-not-public", "_dmarc.test1.com TXT") in failing(report)
    assert all(method == "GET" for method, _ in state.requests)


def test_doctor_without_credentials_is_a_usage_error(tmp_path, account_env):
    env, name_servers = account_env
    no_credentials = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    with serve_sesv2({}, account()) as (sesv2, _), serve_zone(published(name_servers)) as dns:
        done = subprocess.run(
            [str(SES_CLI), "doctor", "--roster", str(tmp_path / "roster.yaml"), "--region", REGION,
             "--resolver", dns.address], env={**no_credentials, "AWS_ENDPOINT_URL_SESV2": sesv2},
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no AWS credentials" in done.stderr and "Traceback" not in done.stderr


def test_the_sesv2_emulation_refuses_answers_ses_could_not_give():
    """The emulation checks each answer against botocore's model, as the Stubber does."""
    wrong = identity("test1.com")
    wrong["VerifiedForSendingStatus"] = "yes"
    with pytest.raises(ValueError, match="not what SES v2 GetEmailIdentity returns"):
        with serve_sesv2({"test1.com": wrong}, account()):
            pass


ADOPT_ROSTER = """
domains:
  - name: test1.com
    existing: adopt
    dmarc:
      policy: quarantine
people:
  - email: taro@test1.com
"""


def test_adopt_writes_an_import_file_that_matches_the_program(tmp_path, account_env, moto_server):  # noqa: F811
    """The documented first step on an account that already sends: the identity exists with its
    DKIM records, `_dmarc` holds an older record. `ses-mail adopt` in a subprocess writes the
    bulk import file, whose entries are exactly the program's registrations for the domain."""
    env, _ = account_env
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    r53 = session.client("route53", endpoint_url=moto_server)
    zone_id = r53.list_hosted_zones_by_name(DNSName="test1.com")["HostedZones"][0]["Id"].split("/")[-1]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": "_dmarc.test1.com", "Type": "TXT", "TTL": 300,
                                                   "ResourceRecords": [{"Value": '"v=DMARC1; p=none"'}]}}]})
    roster = tmp_path / "adopt.yaml"
    roster.write_text(ADOPT_ROSTER.strip() + "\n", encoding="utf-8")
    out = tmp_path / "import.json"
    with serve_sesv2({"test1.com": identity("test1.com")}, account()) as (sesv2, state):
        done = subprocess.run([str(SES_CLI), "adopt", "--roster", str(roster), "--region", REGION,
                               "--out", str(out), "--format", "json"], cwd=tmp_path,
                              env={**env, "AWS_ENDPOINT_URL_SESV2": sesv2}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr + done.stdout
    assert all(method == "GET" for method, _ in state.requests)
    document = json.loads(out.read_text())
    entries = {(e["type"], e["name"]): e for e in document["resources"]}
    assert entries[("ses-mail:index:SesMail", "ses-mail")].get("component") is True
    assert entries[("aws:sesv2/emailIdentity:EmailIdentity", "test1.com-identity")]["id"] == "test1.com"
    assert entries[("aws:route53/record:Record", "test1.com-dmarc")]["id"] == f"{zone_id}__dmarc.test1.com_TXT"
    assert entries[("aws:route53/record:Record", "test1.com-dkim-1")]["id"] == \
        f"{zone_id}_{TOKENS[0]}._domainkey.test1.com_CNAME"
    # What the program registers for the same roster, type, name and parent chain: the same set.
    from ses_mail.project import Project
    from ses_mail.review.engine import run_program
    (tmp_path / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n")
    run = run_program(project=Project(tmp_path), stack="dev", roster=roster, stack_config={"aws:region": REGION})
    registered = {(r.type, r.name) for r in run.registrations
                  if r.name.startswith("test1.com") and not r.type.startswith("ses-mail:")}
    imported = {k for k, e in entries.items() if not e.get("component")}
    assert imported == registered
