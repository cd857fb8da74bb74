"""`ses-mail doctor` against emulated AWS and a real DNS server on 127.0.0.1.

Route 53 and CloudWatch are moto; SES v2 is botocore's Stubber (validated against AWS's model);
the published zone is served by tests/support/dns_server.py (conflicts such as a CNAME beside a TXT
are served as given) and queried through --resolver.
"""
from __future__ import annotations

import json
import shlex

import boto3
import pytest

from ses_mail.cli import doctor as doctor_cli
from ses_mail.live import doctor
from ses_mail.live.clients import WriteRefused, boto3_factory, guard
from ses_mail.live.dns_check import Resolver, parse_server
from ses_mail.live.findings import Answer, check_record, policy_equal
from ses_mail.specs.deliverability import BOUNCE_PAUSE, parse_rate
from ses_mail.live.target import resolve_target
from ses_mail.roster import parse_roster
from ses_mail.specs import boundary as boundaries
from ses_mail.specs.dns_records import DnsRecord, dkim_records, route53_values, static_records
from tests.iam_eval import Request, allows
from tests.support.live_aws import REGION, TOKENS, Calls, account, documented_policy, factory, identity, not_found, ses_client
from tests.support.dns_server import serve_zone

ROSTER = """
domains:
  - name: test1.com
    dmarc:
      policy: quarantine
      rua: [reports@test1.com]
people:
  - email: taro@test1.com
"""
DOMAIN = parse_roster(ROSTER.strip() + "\n", "roster.yaml").domains[0]


def create_boundary(name: str = boundaries.SMTP_BOUNDARY) -> None:
    """What the one-time setup does: the conventional boundary, created with doctor's own command."""
    command = shlex.split(boundaries.create_command(name, "123456789012"))
    assert command[:3] == ["aws", "iam", "create-policy"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    boto3.client("iam").create_policy(Path=options["--path"], PolicyName=options["--policy-name"],
                                      PolicyDocument=options["--policy-document"])


@pytest.fixture
def zone(aws):
    """A Route 53 public zone test1.com (moto), with its name servers, in an account whose
    permissions boundary exists."""
    r53 = boto3.client("route53")
    created = r53.create_hosted_zone(Name="test1.com", CallerReference="doctor-test")
    create_boundary()
    return {"id": created["HostedZone"]["Id"], "ns": created["DelegationSet"]["NameServers"]}


def expected(tokens=TOKENS, region=REGION) -> list[DnsRecord]:
    return dkim_records(DOMAIN, tokens, region) + static_records(DOMAIN, region)


def rows(records) -> list[tuple[str, str, str, int]]:
    return [(r.name, r.type, r.value, r.ttl) for r in records]


def healthy_rows(zone) -> list[tuple[str, str, str, int]]:
    return [("test1.com", "NS", ns + ".", 172800) for ns in zone["ns"]] + rows(expected())


def put_in_route53(zone, records) -> None:
    """What `pulumi up` writes: each record into the Route 53 zone (moto)."""
    changes = [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": r.name, "Type": r.type, "TTL": r.ttl,
        "ResourceRecords": [{"Value": f'"{v}"' if r.type == "TXT" else v} for v in route53_values(r)]}}
        for r in records]
    boto3.client("route53").change_resource_record_sets(HostedZoneId=zone["id"], ChangeBatch={"Changes": changes})


def put_reputation(bounce: float, complaint: float) -> None:
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/SES", MetricData=[
        {"MetricName": "Reputation.BounceRate", "Value": bounce},
        {"MetricName": "Reputation.ComplaintRate", "Value": complaint}])


def run_doctor(tmp_path, capsys, dns_rows, *, identities=None, acct=None, extra_args=(), calls=None,
               roster=ROSTER):
    """Run `ses-mail doctor --format json` in-process with stubbed SES v2; (exit, report, calls)."""
    path = tmp_path / "roster.yaml"
    path.write_text(roster.strip() + "\n", encoding="utf-8")
    ses, stubber = ses_client()
    for domain, answer in (identities or {"test1.com": identity("test1.com")}).items():
        if answer is None:
            not_found(stubber, domain)
        else:
            stubber.add_response("get_email_identity", answer, {"EmailIdentity": domain})
    stubber.add_response("get_account", acct or account(), {})
    calls = calls or Calls()
    with stubber, serve_zone(dns_rows) as dns:
        code = doctor_cli.main(["--roster", str(path), "--region", REGION, "--resolver", dns.address,
                                "--format", "json", *extra_args], clients=factory(calls, stubbed={"sesv2": ses}))
        stubber.assert_no_pending_responses()
    out = capsys.readouterr().out
    return code, json.loads(out), calls


def codes(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in report["findings"]:
        found.setdefault(f["code"], []).append(f["subject"])
    return found


def failing_codes(report) -> set[str]:
    return {f["code"] for f in report["findings"] if f["severity"] in ("error", "warning")}


# --- healthy ------------------------------------------------------------------------------------

def test_healthy_domain_and_account_exit_0(tmp_path, capsys, zone):
    put_in_route53(zone, expected())
    put_reputation(0.001, 0.0001)
    code, report, calls = run_doctor(tmp_path, capsys, healthy_rows(zone))
    assert code == 0, report["findings"]
    assert report["version"] == 1 and report["command"] == "doctor" and report["healthy"] is True
    assert report["findings"] == []
    [domain] = report["domains"]
    assert [r["ok"] for r in domain["records"]] == [True] * 6
    assert {r["name"] for r in domain["records"]} == {f"{t}._domainkey.test1.com" for t in TOKENS} | {
        "mail.test1.com", "_dmarc.test1.com"}
    assert domain["identity"]["dkim_status"] == "SUCCESS"
    assert report["account"]["production_access"] is True
    assert report["account"]["bounce_rate"] == pytest.approx(0.001)
    assert report["account"]["bounce_alarm"] == 0.02 and report["account"]["complaint_alarm"] == 0.0005


def test_text_output_is_a_table_without_colour_when_piped(tmp_path, capsys, zone):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    ses, stubber = ses_client()
    stubber.add_response("get_email_identity", identity("test1.com", dkim="PENDING"), {"EmailIdentity": "test1.com"})
    stubber.add_response("get_account", account(production=False), {})
    with stubber, serve_zone(healthy_rows(zone)) as dns:
        code = doctor_cli.main(["--roster", str(path), "--region", REGION, "--resolver", dns.address],
                               clients=factory(Calls(), stubbed={"sesv2": ses}))
    out = capsys.readouterr().out
    assert code == 1
    assert "\x1b[" not in out  # no colour codes in a pipe
    assert "test1.com  verified=yes dkim=PENDING" in out
    assert "dkim-pending" in out and "sandbox" in out and "request production access" in out
    assert "production_access=NO (sandbox)" in out and "quota=10/200 per 24h, 1/s" in out


# --- records missing, wrong, duplicated, not yet public --------------------------------------------

def test_missing_record_is_an_error_with_its_fix(tmp_path, capsys, zone):
    published = [r for r in healthy_rows(zone) if not r[0].startswith("_dmarc.")]
    code, report, _ = run_doctor(tmp_path, capsys, published)
    assert code == 1
    [finding] = [f for f in report["findings"] if f["code"] == "dns-missing"]
    assert finding["subject"] == "_dmarc.test1.com TXT"
    assert finding["details"]["expected"] == "v=DMARC1; p=quarantine; rua=mailto:reports@test1.com"
    assert "publish _dmarc.test1.com TXT" in finding["fix"]
    assert failing_codes(report) == {"dns-missing"}


def test_record_in_route53_but_not_resolving_is_not_public_yet(tmp_path, capsys, zone):
    put_in_route53(zone, expected())
    published = [r for r in healthy_rows(zone) if "_domainkey" not in r[0]]
    code, report, _ = run_doctor(tmp_path, capsys, published, identities={"test1.com": identity("test1.com", dkim="PENDING")})
    assert code == 1
    assert sorted(codes(report)["dns-not-public"]) == sorted(f"{t}._domainkey.test1.com CNAME" for t in TOKENS)
    assert "dns-missing" not in codes(report)
    assert codes(report)["dkim-pending"] == ["test1.com"]


def test_wrong_values(tmp_path, capsys, zone):
    wrong = [r for r in healthy_rows(zone) if not (r[0] == "mail.test1.com" and r[1] == "MX")
             and not r[0].startswith(TOKENS[0])]
    wrong += [("mail.test1.com", "MX", "10 feedback-smtp.us-east-1.amazonses.com.", 600),
              (f"{TOKENS[0]}._domainkey.test1.com", "CNAME", "someone-else.example.net.", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, wrong)
    assert code == 1
    assert sorted(codes(report)["dns-wrong-value"]) == sorted(
        ["mail.test1.com MX", f"{TOKENS[0]}._domainkey.test1.com CNAME"])
    mx = next(f for f in report["findings"] if f["subject"] == "mail.test1.com MX")
    assert mx["details"]["expected"] == "10 feedback-smtp.eu-west-1.amazonses.com"


def test_regional_dkim_domain_is_expected_in_regions_that_have_one(tmp_path, capsys, aws):
    region = "af-south-1"
    records = dkim_records(DOMAIN, TOKENS, region) + static_records(DOMAIN, region)
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    ses, stubber = ses_client(region)
    stubber.add_response("get_email_identity", identity("test1.com"), {"EmailIdentity": "test1.com"})
    stubber.add_response("get_account", account(), {})
    # The global DKIM domain where af-south-1's own is expected: wrong.
    published = rows(records) + [("test1.com", "NS", "ns1.test1.com.", 600)]
    published = [r if "_domainkey" not in r[0] else (r[0], r[1], r[2].replace(".af-south-1", ""), r[3]) for r in published]
    with stubber, serve_zone(published) as dns:
        code = doctor_cli.main(["--roster", str(path), "--region", region, "--resolver", dns.address, "--format", "json"],
                               clients=factory(Calls(), region=region, stubbed={"sesv2": ses}))
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert len(codes(report)["dns-wrong-value"]) == 3
    assert all(r["value"].endswith(".dkim.af-south-1.amazonses.com") for r in report["domains"][0]["records"][:3])


def test_second_spf_record_on_mail_from_name(tmp_path, capsys, zone):
    dns_rows = healthy_rows(zone) + [("mail.test1.com", "TXT", "v=spf1 include:_spf.example.net ~all", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 1
    [finding] = [f for f in report["findings"] if f["code"] == "dns-duplicate-spf"]
    assert finding["subject"] == "mail.test1.com TXT"
    assert "v=spf1 include:_spf.example.net ~all" in finding["fix"]
    assert "RFC 7208" in finding["message"]


def test_other_txt_beside_spf_is_fine(tmp_path, capsys, zone):
    dns_rows = healthy_rows(zone) + [("mail.test1.com", "TXT", "google-site-verification=abc", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 0, report["findings"]


def test_second_dmarc_record(tmp_path, capsys, zone):
    dns_rows = healthy_rows(zone) + [("_dmarc.test1.com", "TXT", "v=DMARC1; p=reject", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 1
    assert codes(report)["dns-duplicate-dmarc"] == ["_dmarc.test1.com TXT"]


def test_cname_beside_other_data(tmp_path, capsys, zone):
    dkim_name = f"{TOKENS[1]}._domainkey.test1.com"
    dns_rows = healthy_rows(zone) + [(dkim_name, "TXT", "v=DKIM1; k=rsa; p=MIIB", 600)]
    dns_rows = [r for r in dns_rows if r[0] != "_dmarc.test1.com"] + [
        ("_dmarc.test1.com", "CNAME", "dmarc.vendor.example.net.", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 1
    assert sorted(codes(report)["dns-cname-conflict"]) == sorted([dkim_name, "_dmarc.test1.com TXT"])


def test_extra_mx_value_is_a_warning(tmp_path, capsys, zone):
    dns_rows = healthy_rows(zone) + [("mail.test1.com", "MX", "20 mx.other.example.", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 1
    [finding] = [f for f in report["findings"] if f["code"] == "dns-extra-value"]
    assert finding["severity"] == "warning" and "20 mx.other.example" in finding["message"]


# --- delegation --------------------------------------------------------------------------------

def test_delegation_to_other_name_servers(tmp_path, capsys, zone):
    dns_rows = [r for r in healthy_rows(zone) if r[1] != "NS"] + [
        ("test1.com", "NS", "ns1.old-dns-host.example.", 600), ("test1.com", "NS", "ns2.old-dns-host.example.", 600)]
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 1
    [finding] = [f for f in report["findings"] if f["code"] == "delegation-mismatch"]
    assert finding["details"]["public"] == ["ns1.old-dns-host.example", "ns2.old-dns-host.example"]
    assert finding["details"]["route53"] == sorted(n.lower() for n in zone["ns"])
    assert all(n in finding["fix"] for n in zone["ns"])


def test_zone_not_delegated_at_all(tmp_path, capsys, zone):
    code, report, _ = run_doctor(tmp_path, capsys, [r for r in healthy_rows(zone) if r[1] != "NS"])
    assert code == 1
    assert codes(report)["delegation-missing"] == ["test1.com"]


def test_zone_outside_route53_is_a_note_only(tmp_path, capsys, aws):
    create_boundary()
    dns_rows = [("test1.com", "NS", "ns1.dns-elsewhere.example.", 600)] + rows(expected())
    code, report, _ = run_doctor(tmp_path, capsys, dns_rows)
    assert code == 0
    assert codes(report) == {"zone-not-in-route53": ["test1.com"]}
    [f] = report["findings"]
    assert f["severity"] == "info"


# --- SES's view -----------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, expect", [
    (identity("test1.com", verified=False, dkim="PENDING"), {"identity-not-verified", "dkim-pending"}),
    (identity("test1.com", verified=False, dkim="FAILED"), {"identity-not-verified", "dkim-failed"}),
    (identity("test1.com", dkim="TEMPORARY_FAILURE"), {"dkim-failed"}),
    (identity("test1.com", signing=False), {"dkim-signing-disabled"}),
    (identity("test1.com", mail_from_status="PENDING"), {"mail-from-pending"}),
    (identity("test1.com", mail_from_status="FAILED"), {"mail-from-failed"}),
    (identity("test1.com", mail_from="bounce.test1.com"), {"mail-from-wrong"}),
])
def test_ses_identity_states(tmp_path, capsys, zone, answer, expect):
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone), identities={"test1.com": answer})
    assert code == 1
    assert failing_codes(report) == expect


def test_no_default_configuration_set_is_a_note(tmp_path, capsys, zone):
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone),
                                 identities={"test1.com": identity("test1.com", configuration_set=None)})
    assert code == 0
    assert codes(report) == {"no-default-configuration-set": ["test1.com"]}
    assert report["domains"][0]["identity"]["configuration_set"] is None


def test_missing_identity_has_no_dkim_records_to_check(tmp_path, capsys, zone):
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone), identities={"test1.com": None})
    assert code == 1
    assert failing_codes(report) == {"identity-missing"}
    assert [r["type"] for r in report["domains"][0]["records"]] == ["MX", "TXT", "TXT"]


# --- the account ------------------------------------------------------------------------------

@pytest.mark.parametrize("acct, expect", [
    (account(production=False), {"sandbox"}),
    (account(sending=False), {"sending-disabled"}),
    (account(enforcement="PROBATION"), {"enforcement"}),
    (account(sent=45000.0), {"quota-near-limit"}),
])
def test_account_states(tmp_path, capsys, zone, acct, expect):
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone), acct=acct)
    assert code == 1
    assert failing_codes(report) == expect


def test_reputation_against_default_thresholds(tmp_path, capsys, zone):
    put_reputation(0.025, 0.0006)
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone))
    assert code == 1
    assert failing_codes(report) == {"bounce-rate-high", "complaint-rate-high"}
    bounce = next(f for f in report["findings"] if f["code"] == "bounce-rate-high")
    assert bounce["details"] == {"rate": pytest.approx(0.025), "threshold": 0.02}


def test_reputation_thresholds_from_stack_config(tmp_path, capsys, zone):
    put_reputation(0.025, 0.0006)
    (tmp_path / "Pulumi.yaml").write_text("name: mail\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.prod.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n"
        "  ses-mail:bounceRateAlarm: '3%'\n  ses-mail:complaintRateAlarm: '0.001'\n", encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    ses, stubber = ses_client()
    stubber.add_response("get_email_identity", identity("test1.com"), {"EmailIdentity": "test1.com"})
    stubber.add_response("get_account", account(), {})
    with stubber, serve_zone(healthy_rows(zone)) as dns:
        code = doctor_cli.main(["--stack", "prod", "--project-dir", str(tmp_path), "--resolver", dns.address,
                                "--format", "json"], clients=factory(Calls(), stubbed={"sesv2": ses}))
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["findings"]
    assert report["account"]["bounce_alarm"] == 0.03 and report["account"]["complaint_alarm"] == 0.001
    assert report["region"] == "eu-west-1"


def test_thresholds_are_read_as_pulumi_up_reads_them():
    """doctor takes the stack's thresholds with the program's own parser, so a threshold that
    `pulumi up` refuses (at SES's pause level or above) is refused here too."""
    assert parse_rate("2%", pause_level=BOUNCE_PAUSE) == 0.02 and parse_rate("0.0005", pause_level=BOUNCE_PAUSE) == 0.0005
    for bad in ("2", "-1%", "abc", "10%"):
        with pytest.raises(ValueError):
            parse_rate(bad, pause_level=BOUNCE_PAUSE)


# --- --wait -----------------------------------------------------------------------------------

def test_wait_polls_until_verified(tmp_path, zone):
    """Poll 1: DKIM CNAMEs not public and DKIM pending; poll 2: public and verified; stop there."""
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    target = resolve_target(stack=None, roster=str(path), region=REGION)
    ses, stubber = ses_client()
    stubber.add_response("get_email_identity", identity("test1.com", verified=False, dkim="PENDING"))
    stubber.add_response("get_email_identity", identity("test1.com"))
    stubber.add_response("get_account", account())
    put_in_route53(zone, expected())
    clock = [0.0]
    slept: list[float] = []
    polls: list[set[str]] = []
    with stubber, serve_zone([r for r in healthy_rows(zone) if "_domainkey" not in r[0]]) as first, \
            serve_zone(healthy_rows(zone)) as second:
        resolver = Resolver(first.address)

        def sleep(seconds: float) -> None:  # DNS catches up while we sleep
            slept.append(seconds)
            clock[0] += seconds
            resolver.port = second.port

        report = doctor.run(target, factory(Calls(), stubbed={"sesv2": ses}), resolver, wait=600, sleep=sleep,
                            clock=lambda: clock[0], on_poll=lambda pending: polls.append({f.code for f in pending}))
    assert polls == [{"dns-not-public", "identity-not-verified", "dkim-pending"}]
    assert slept == [doctor.POLL_INTERVAL]
    assert report.healthy and report.waited_seconds == doctor.POLL_INTERVAL


def test_wait_gives_up_when_the_time_is_up(tmp_path, zone):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    target = resolve_target(stack=None, roster=str(path), region=REGION)
    ses, stubber = ses_client()
    for _ in range(3):
        stubber.add_response("get_email_identity", identity("test1.com", dkim="PENDING"))
    stubber.add_response("get_account", account())
    clock = [0.0]
    with stubber, serve_zone(healthy_rows(zone)) as dns:
        report = doctor.run(target, factory(Calls(), stubbed={"sesv2": ses}), Resolver(dns.address), wait=20,
                            sleep=lambda s: clock.__setitem__(0, clock[0] + s), clock=lambda: clock[0])
        stubber.assert_no_pending_responses()
    assert not report.healthy and clock[0] == 20  # polled at 0, 15 and 20
    assert {f.code for f in report.findings} == {"dkim-pending"}


# --- read-only, credentials, endpoint, permissions ---------------------------------------------------

def test_clients_refuse_writes_before_sending(aws):
    iam = guard(boto3.client("iam"))
    with pytest.raises(WriteRefused):
        iam.create_user(UserName="smtp-x@test1.com")
    assert boto3.client("iam").list_users()["Users"] == []


def test_the_tests_recorder_fails_on_any_write(aws):
    """The recorder every test's clients carry is itself able to fail (without the runtime guard)."""
    from tests.support.live_aws import WriteAttempted

    calls = Calls()
    iam = calls.attach(boto3.client("iam"))
    iam.list_users()
    with pytest.raises(WriteAttempted):
        iam.create_user(UserName="smtp-x@test1.com")
    assert calls.made == ["iam:ListUsers", "iam:CreateUser"]
    assert boto3.client("iam").list_users()["Users"] == []


def test_no_credentials_is_a_clean_exit_2(tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    code = doctor_cli.main(["--roster", str(path), "--region", REGION, "--resolver", "127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: no AWS credentials") and "Traceback" not in err


def test_access_denied_is_exit_2_naming_the_call(tmp_path, capsys, zone):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    ses, stubber = ses_client()
    stubber.add_client_error("get_email_identity", service_error_code="AccessDeniedException", http_status_code=403,
                             service_message="User is not authorized to perform: ses:GetEmailIdentity")
    with stubber, serve_zone(healthy_rows(zone)) as dns:
        code = doctor_cli.main(["--roster", str(path), "--region", REGION, "--resolver", dns.address],
                               clients=factory(Calls(), stubbed={"sesv2": ses}))
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith("error: GetEmailIdentity: AccessDeniedException") and "README" in captured.err


def test_usage_errors_exit_2(tmp_path, capsys):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    assert doctor_cli.main(["--roster", str(path), "--stack", "dev"]) == 2
    assert doctor_cli.main(["--roster", str(tmp_path / "none.yaml"), "--region", REGION]) == 2
    assert doctor_cli.main(["--roster", str(path), "--region", "mars-1"]) == 2
    assert doctor_cli.main(["--roster", str(path), "--region", REGION, "--wait", "-1"]) == 2
    capsys.readouterr()


def test_clients_honour_aws_endpoint_url(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    make = boto3_factory(REGION)
    assert make("sesv2").meta.endpoint_url == "http://127.0.0.1:5999"
    assert make("route53").meta.endpoint_url == "http://127.0.0.1:5999"
    assert make("sesv2").meta.region_name == REGION


def test_documented_policy_allows_every_call_doctor_makes(tmp_path, capsys, zone):
    policy = documented_policy("operations.md", "## Check a live account: `ses-mail doctor`")
    calls = Calls()
    put_in_route53(zone, expected())
    put_reputation(0.001, 0.0001)
    run_doctor(tmp_path, capsys, healthy_rows(zone), calls=calls)
    run_doctor(tmp_path, capsys, healthy_rows(zone), identities={"test1.com": None}, calls=calls)
    assert calls.actions == {"route53:ListHostedZonesByName", "route53:GetHostedZone",
                             "route53:ListResourceRecordSets", "ses:GetEmailIdentity", "ses:GetAccount",
                             "cloudwatch:GetMetricData", "sts:GetCallerIdentity", "iam:GetPolicy"}
    for prefix, operation, params in calls.requests:
        request = Request(f"{prefix}:{operation}", params.get("PolicyArn", "*"))
        assert allows(policy, request), f"the documented doctor policy does not allow {request}"
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            assert action.split(":")[1].startswith(("Get", "List", "Describe")), action


def test_a_missing_permissions_boundary_is_an_error_with_the_command_that_creates_it(tmp_path, capsys, aws):
    """The SMTP users' boundary (and the rotation role's, with `delivery: rotation`) must exist, or
    `pulumi up` fails: doctor says so with the exact `aws iam create-policy` command, which, run,
    clears the finding. A stack with `none` is not asked about it."""
    r53 = boto3.client("route53")
    zone = r53.create_hosted_zone(Name="test1.com", CallerReference="doctor-boundary")
    rows = [("test1.com", "NS", ns + ".", 172800) for ns in zone["DelegationSet"]["NameServers"]] + rows_of_expected()
    put_in_route53({"id": zone["HostedZone"]["Id"]}, expected())
    put_reputation(0.001, 0.0001)
    smtp = "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-smtp-boundary"
    rotation = "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-mail-rotation-boundary"

    code, report, _ = run_doctor(tmp_path, capsys, rows)
    [finding] = report["findings"]
    assert code == 1 and (finding["code"], finding["severity"], finding["subject"]) == ("boundary-missing", "error", smtp)
    assert finding["fix"] == boundaries.create_command("ses-smtp-boundary", "123456789012")
    assert finding["details"] == {"policy_arn": smtp, "setting": "ses-mail:permissionsBoundary"}

    rotated = ROSTER + "    delivery: rotation\n    secret_readers: [arn:aws:iam::123456789012:role/reader]\n"
    code, report, _ = run_doctor(tmp_path, capsys, rows, roster=rotated)
    assert {f["subject"] for f in report["findings"] if f["code"] == "boundary-missing"} == {smtp, rotation}

    create_boundary("ses-smtp-boundary")
    create_boundary("ses-mail-rotation-boundary")
    code, report, _ = run_doctor(tmp_path, capsys, rows)
    assert code == 0 and report["findings"] == []
    assert "boundary-missing" not in codes(run_doctor(tmp_path, capsys, rows, roster=rotated)[1])


def test_a_stack_without_a_boundary_is_not_asked_about_one(tmp_path, capsys, aws):
    from ses_mail.live.doctor import boundary_findings

    (tmp_path / "Pulumi.yaml").write_text("name: mail\nruntime: python\n", encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(ROSTER.strip() + "\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n  ses-mail:permissionsBoundary: none\n",
        encoding="utf-8")
    calls = Calls()
    target = resolve_target(stack="dev", roster=None, region=None, project_dir=str(tmp_path))
    assert boundary_findings(target, factory(calls)) == [] and calls.made == []
    mine = "arn:aws:iam::123456789012:policy/team/mail-boundary"
    (tmp_path / "Pulumi.dev.yaml").write_text(
        f"config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n  ses-mail:permissionsBoundary: {mine}\n",
        encoding="utf-8")
    target = resolve_target(stack="dev", roster=None, region=None, project_dir=str(tmp_path))
    [finding] = boundary_findings(target, factory(calls))
    assert finding.subject == mine and mine in finding.fix and "ses-mail:permissionsBoundary" in finding.fix


def rows_of_expected() -> list[tuple[str, str, str, int]]:
    return rows(expected())


# --- pure comparisons -------------------------------------------------------------------------------

SPF = DnsRecord("mail.test1.com", "TXT", 600, "v=spf1 include:amazonses.com ~all", "mail-from-spf")
MX = DnsRecord("mail.test1.com", "MX", 600, "10 feedback-smtp.eu-west-1.amazonses.com", "mail-from-mx")


@pytest.mark.parametrize("record, answer, in_zone, expect", [
    (SPF, Answer(values=(SPF.value,)), True, []),
    (SPF, Answer(), None, ["dns-missing"]),
    (SPF, Answer(), False, ["dns-missing"]),
    (SPF, Answer(), True, ["dns-not-public"]),
    (SPF, Answer(values=("v=spf1 -all",)), True, ["dns-wrong-value"]),
    (SPF, Answer(values=(SPF.value, "v=spf1 -all")), True, ["dns-duplicate-spf"]),
    (SPF, Answer(values=(SPF.value, "verification=1")), True, []),
    (SPF, Answer(cname="elsewhere.example"), True, ["dns-cname-conflict"]),
    (SPF, Answer(error="Timeout"), True, ["dns-query-failed"]),
    (MX, Answer(values=("10 FEEDBACK-SMTP.eu-west-1.amazonses.com.",)), True, []),
    (MX, Answer(values=("20 feedback-smtp.eu-west-1.amazonses.com.",)), True, ["dns-wrong-value"]),
])
def test_check_record(record, answer, in_zone, expect):
    assert [f.code for f in check_record(record, answer, in_zone=in_zone)] == expect


def test_policy_equal_is_semantic():
    a = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "x",
                                                  "Condition": {"IpAddress": {"aws:SourceIp": ["1.1.1.1/32", "2.2.2.2/32"]}}}]}
    b = json.loads(json.dumps(a))
    b["Statement"][0]["Action"] = ["ses:SendRawEmail"]
    b["Statement"][0]["Condition"]["IpAddress"]["aws:SourceIp"].reverse()
    assert policy_equal(a, b) and policy_equal(json.dumps(a), b)
    b["Statement"][0]["Resource"] = "y"
    assert not policy_equal(a, b)


def test_parse_server():
    assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_server("1.1.1.1") == ("1.1.1.1", 53)
    assert parse_server("[::1]:5353") == ("::1", 5353)
    assert parse_server("::1") == ("::1", 53)


def test_report_json_is_stable_for_scripts(tmp_path, capsys, zone):
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone), acct=account(production=False))
    assert set(report) == {"version", "command", "region", "resolver", "healthy", "findings", "domains", "account",
                           "waited_seconds"}
    [finding] = report["findings"]
    assert set(finding) == {"code", "severity", "subject", "message", "fix", "details"}
    assert finding["code"] == "sandbox" and report["healthy"] is False


# --- sending-authorization policies -------------------------------------------------------------

def _identity_with(policies: dict) -> dict:
    answer = identity("test1.com")
    answer["Policies"] = {name: json.dumps(doc) for name, doc in policies.items()}
    return answer


def _send_statement(principal) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": ["ses:SendEmail", "ses:SendRawEmail"],
            "Resource": f"arn:aws:ses:{REGION}:123456789012:identity/test1.com"}


def test_identity_policies_that_let_outsiders_send_are_findings(tmp_path, capsys, zone):
    """A permissive policy (Principal "*") and a cross-account one are each an error, exit 1; the
    account's own delegation and a Deny-only policy beside them are not findings."""
    put_in_route53(zone, expected())
    put_reputation(0.001, 0.0001)
    planted = {
        "open-to-all": {"Version": "2012-10-17", "Statement": [_send_statement("*")]},
        "partner": {"Version": "2012-10-17", "Statement": [_send_statement({"AWS": "arn:aws:iam::999999999999:root"})]},
        "own-account": {"Version": "2012-10-17", "Statement": [_send_statement({"AWS": "123456789012"})]},
        "deny-all": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "ses:*", "Resource": "*"}]},
    }
    calls = Calls()
    code, report, _ = run_doctor(tmp_path, capsys, healthy_rows(zone), identities={"test1.com": _identity_with(planted)},
                                 calls=calls)
    assert code == 1
    assert codes(report) == {"identity-policy-permissive": ["test1.com", "test1.com"]}
    found = {f["details"]["policy"]: f["details"]["principals"] for f in report["findings"]}
    assert found == {"open-to-all": ["*"], "partner": ["arn:aws:iam::999999999999:root"]}
    assert "sts:GetCallerIdentity" in calls.actions  # the account id, asked only because there are policies


def test_clean_identity_policies_exit_0_and_no_account_lookup_without_policies(tmp_path, capsys, zone):
    put_in_route53(zone, expected())
    put_reputation(0.001, 0.0001)
    own = {"own-account": {"Version": "2012-10-17", "Statement": [_send_statement({"AWS": "arn:aws:iam::123456789012:root"})]}}
    code, report, calls = run_doctor(tmp_path, capsys, healthy_rows(zone), identities={"test1.com": _identity_with(own)})
    assert code == 0, report["findings"]
    code, report, calls = run_doctor(tmp_path, capsys, healthy_rows(zone))
    # Asked once, for the permissions boundary's ARN; not again for identity policies there are none of.
    assert code == 0 and calls.made.count("sts:GetCallerIdentity") == 1
    code, report, calls = run_doctor(tmp_path, capsys, healthy_rows(zone), roster=ROSTER.split("people:")[0])
    assert code == 0 and "sts:GetCallerIdentity" not in calls.actions


def test_documented_doctor_policy_covers_the_identity_policy_check(tmp_path, capsys, zone):
    policy = documented_policy("operations.md", "## Check a live account: `ses-mail doctor`")
    put_in_route53(zone, expected())
    open_ = {"open": {"Version": "2012-10-17", "Statement": [_send_statement("*")]}}
    _, _, calls = run_doctor(tmp_path, capsys, healthy_rows(zone), identities={"test1.com": _identity_with(open_)})
    for prefix, operation, params in calls.requests:
        request = Request(f"{prefix}:{operation}", params.get("PolicyArn", "*"))
        assert allows(policy, request), f"the documented doctor policy does not allow {request}"
