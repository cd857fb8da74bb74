"""`ses-mail prove --receiver`: the receiver's view of each domain's message, offline.

The stack is the real program's for a scratch roster with `reports:` (tests/test_prove.py's
`deploy`: IAM users, policies, moto keys, SES's verified domains), and SES receiving is emulated
from the same run (tests/support/ses_smtp.py, R1-R4): the active rule set's rules, the bucket
(moto S3) and its registered policy, each domain's custom MAIL FROM; SES's outbound side signs with
test keys. DNS is a real server on 127.0.0.1 (tests/support/dns_server.py) serving the stack's own
`dns_records` output plus stand-ins for SES's side: `amazonses.com`'s SPF (a documentation range
holding the emulation's outbound address), each domain's Easy DKIM key behind its first token's
CNAME target, and SES's own amazonses.com key. Planted faults change exactly one thing.
"""
from __future__ import annotations

import base64
import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import boto3
import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_mail.cli import prove as prove_cli
from ses_mail.live import prove, receiver
from ses_mail.specs import report_receiving as spec
from ses_mail.specs.smtp_password import smtp_endpoint
from tests.support.dns_server import LocalDnsServer, resolver_for, serve_zone
from tests.support.live_aws import REGION, Calls, factory
from tests.support.ses_smtp import ReceiptRule, Receiving, SmtpCertificates, serve_ses_smtp
from tests.test_prove import ROSTER, Deployed, deploy

# pyspf 2.0.14 calls dnspython's deprecated dns.resolver.query(); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")

RECEIVING_ROSTER = ROSTER + """
reports:
  address: dmarc@reports.test1.com
"""
PROVE_ADDRESS = "ses-mail-prove@reports.test1.com"
SES_RANGE = "198.51.100.0/24"  # stand-in for SES's egress ranges; the emulation sends from 198.51.100.25
AMAZONSES_SELECTOR = "ug7nbtf4gccmlpwj322ax3p6ow6yfsug"
RULE = "aws:ses/receiptRule:ReceiptRule"
ACTIVE = "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"


def hardened(address: str, document: dict[str, Any]) -> dict[str, Any]:
    """The send policy with the envelope sender bound to the own address (issue 17's hardening),
    so that a healthy stack passes every case and an exit status of 1 here is the receiver's."""
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            statement.setdefault("Condition", {}).setdefault("StringEqualsIgnoreCase", {})[
                "ses:FeedbackAddress"] = address
    return document


@dataclass
class Key:
    pem: bytes
    txt: list[str]


def _key() -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    value = "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()
    return Key(pem, [value[i:i + 255] for i in range(0, len(value), 255)])


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {name: _key() for name in ("test1.com", "test2.com", "amazonses.com")}


@dataclass
class Stack:
    deployed: Deployed
    dns: LocalDnsServer
    receiving: Receiving

    def args(self, *extra: str) -> list[str]:
        return self.deployed.args("--receiver", "--receiver-timeout", "3", *extra)

    def dkim_selector(self, domain: str) -> str:
        return self.receiving.dkim_keys[domain][0]


def dns_rows(run, receiving: Receiving, keys: dict[str, Key]) -> list[tuple]:
    """The stack's dns_records output as published, and the stand-ins for SES's side."""
    rows = [(r["name"], r["type"], r["value"], int(r["ttl"])) for r in run.outputs["dns_records"]]
    rows.append(("amazonses.com", "TXT", f"v=spf1 ip4:{SES_RANGE} -all", 300))
    rows.append((f"{AMAZONSES_SELECTOR}._domainkey.amazonses.com", "TXT", keys["amazonses.com"].txt, 300))
    for domain, (selector, _) in receiving.dkim_keys.items():
        rows.append((f"{selector}.dkim.amazonses.com", "TXT", keys[domain].txt, 300))
    return rows


def emulate_receiving(run, keys: dict[str, Key], *, prove_rule: bool = True,
                      bucket_policy: Optional[Callable[[dict], dict]] = None) -> Receiving:
    """SES receiving as the program set it up: the active set's rules, the bucket, its policy."""
    (active,) = run.of_type(ACTIVE)
    rules = [ReceiptRule(r.inputs["name"], r.inputs["ruleSetName"], list(r.inputs["recipients"]),
                         r.inputs["s3Actions"][0]["bucketName"], r.inputs["s3Actions"][0]["objectKeyPrefix"],
                         bool(r.inputs["scanEnabled"]))
             for r in run.of_type(RULE) if r.inputs["ruleSetName"] == active.inputs["ruleSetName"]]
    if not prove_rule:
        rules = [r for r in rules if PROVE_ADDRESS not in r.recipients]
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in {r.bucket for r in rules}:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    (policy,) = run.of_type(BUCKET_POLICY)
    document = json.loads(policy.inputs["policy"])
    document = bucket_policy(document) if bucket_policy else document
    selectors = {}
    for row in run.outputs["dns_records"]:
        if row["type"] == "CNAME" and "._domainkey." in row["name"]:
            selector, _, domain = row["name"].partition("._domainkey.")
            selectors.setdefault(domain, selector)  # SES signs with one of the three: the first here
    return Receiving(s3=s3, rules=rules, bucket_policies={rules[0].bucket: document} if rules else {},
                     mail_from={m.inputs["emailIdentity"]: m.inputs["mailFromDomain"] for m in run.of_type(MAIL_FROM)},
                     dkim_keys={d: (s, keys[d].pem) for d, s in selectors.items()},
                     amazonses_key=(AMAZONSES_SELECTOR, keys["amazonses.com"].pem))


@pytest.fixture
def stack(tmp_path, aws, keys, monkeypatch, loopback_only):
    """`stack(roster, dns=..., **faults)`: deploy, publish, serve. `dns` edits the published zone;
    the libraries (prove's and the emulation's) ask the local server through dnspython's default
    resolver."""
    certificates = SmtpCertificates(tmp_path / "tls", smtp_endpoint(REGION))
    with ExitStack() as stack_:
        server = stack_.enter_context(serve_zone())
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver_for(server))

        def make(roster: str = RECEIVING_ROSTER, *, dns: Callable[[LocalDnsServer], None] = lambda s: None,
                 send_policy=hardened, **faults: Any) -> Stack:
            receiving_faults = {k: faults.pop(k) for k in ("prove_rule", "bucket_policy") if k in faults}
            project, credentials, account, run = deploy(tmp_path, roster, send_policy=send_policy, **faults)
            receiving = emulate_receiving(run, keys, **receiving_faults) if run.of_type(ACTIVE) else None
            account.receiving = receiving
            server.replace(dns_rows(run, receiving, keys) if receiving else [])
            dns(server)
            endpoint = stack_.enter_context(serve_ses_smtp(account, certificates, boto3.client("iam"),
                                                           boto3.client("sns", region_name=REGION)))
            return Stack(Deployed(project, credentials, endpoint, certificates, account, run), server, receiving)
        yield make


def run_prove(stack: Stack, capsys, *extra: str, **kwargs) -> tuple[int, dict[str, Any]]:
    code = prove_cli.main(stack.args(*extra), **kwargs)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def receiver_rows(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["domain"], r["case"]): r for r in report["rows"] if r["domain"]}


# --- healthy ----------------------------------------------------------------------------------

def test_healthy_stack_passes_spf_dkim_and_dmarc_aligned_for_each_domain(stack, capsys):
    deployed = stack()
    code, report = run_prove(deployed, capsys)
    assert (code, report["failed"]) == (0, []), report["rows"]
    rows = receiver_rows(report)
    assert set(rows) == {(d, c) for d in ("test1.com", "test2.com") for c in receiver.CASES}
    assert all(r["holds"] is True for r in rows.values())
    # One sender per domain, with their own credential: the first of the domain whose P1 passed.
    assert {d: rows[(d, "receiver-dkim")]["person"] for d in ("test1.com", "test2.com")} == {
        "test1.com": "taro@test1.com", "test2.com": "jiro@test2.com"}
    assert [s["user"] for s in deployed.deployed.account.sent if s["recipients"] == [PROVE_ADDRESS]] == [
        "smtp-taro@test1.com", "smtp-jiro@test2.com"]
    section = report["receiver"]
    assert (section["address"], section["prefix"]) == (PROVE_ADDRESS, "prove/")
    assert section["bucket"] == spec.bucket_name("prove", "123456789012", REGION)
    entry = section["domains"]["test1.com"]
    # Judged as a receiver: SPF for the custom MAIL FROM domain from SES's outbound address,
    # aligned (relaxed); the d=test1.com signature aligned; DMARC p=none from the stack's record.
    assert entry["envelope_from"].endswith("@mail.test1.com") and entry["client_ip"] == "198.51.100.25"
    assert (entry["spf"]["result"], entry["spf"]["aligned"], entry["spf"]["domain"]) == ("pass", True, "mail.test1.com")
    assert {(s["d"], s["result"], s["aligned"]) for s in entry["dkim"]} == {
        ("test1.com", "pass", True), ("amazonses.com", "pass", False)}
    assert (entry["dmarc"]["result"], entry["dmarc"]["policy"]) == ("pass", "none")
    # SES's own verdicts, read from its headers, next to ours.
    assert (entry["ses"]["spam_verdict"], entry["ses"]["virus_verdict"]) == ("PASS", "PASS")
    assert entry["ses"]["results"] == {"spf": ["pass"], "dkim": ["pass", "pass"], "dmarc": ["pass"]}
    assert rows[("test1.com", "receiver-dkim")]["reply"] == \
        "SES: dkim=pass header.i=@test1.com, dkim=pass header.i=@amazonses.com"
    assert entry["object"].startswith(f"s3://{section['bucket']}/prove/")
    # Stored by the prove rule under prove/, never where `ses-mail dmarc` reads reports.
    assert {s["rule"] for s in deployed.receiving.stored} == {spec.prove_rule_name("prove")}
    assumptions = {a["key"]: a for a in report["assumptions"]}
    assert assumptions["receiver-stored"]["consistent"] is True
    assert assumptions["receiver-recipient"]["consistent"] is True


def test_the_receiver_view_reads_only(stack, capsys):
    """Its AWS calls: the account id (the bucket's default name), ListObjectsV2 and GetObject."""
    deployed = stack()
    calls = Calls()
    code, report = run_prove(deployed, capsys, clients=factory(calls))
    assert code == 0, report["failed"]
    assert set(calls.made) == {"sts:GetCallerIdentity", "s3:ListObjectsV2", "s3:GetObject"}


# --- planted faults ----------------------------------------------------------------------------

def _remove(name: str, rtype: str) -> Callable[[LocalDnsServer], None]:
    return lambda server: server.remove(name, rtype)


def test_a_missing_dkim_record_fails_dkim_naming_the_domain(stack, capsys):
    """The CNAME of the selector SES signs test1.com's mail with is gone: dkimpy finds no key,
    DKIM fails for test1.com (exit 1, named), while DMARC still passes on aligned SPF."""
    deployed = stack(dns=lambda s: None)
    deployed.dns.remove(f"{deployed.dkim_selector('test1.com')}._domainkey.test1.com", "CNAME")
    code, report = run_prove(deployed, capsys)
    assert code == 1
    assert report["failed"] == ["test1.com receiver-dkim"]
    row = receiver_rows(report)[("test1.com", "receiver-dkim")]
    assert row["observed"] == "fail" and "missing public key" in row["note"]
    assert "dkim=fail header.i=@test1.com" in row["reply"]  # SES's verdict agrees
    assert receiver_rows(report)[("test1.com", "receiver-dmarc")]["holds"] is True


def test_spf_not_covering_the_sender_fails_spf(stack, capsys):
    """mail.test1.com's SPF lists another network, not SES's: SPF fails for the MAIL FROM domain;
    DMARC passes on the aligned DKIM signature."""
    deployed = stack(dns=lambda s: (s.remove("mail.test1.com", "TXT"),
                                    s.add("mail.test1.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")))
    code, report = run_prove(deployed, capsys)
    assert code == 1 and report["failed"] == ["test1.com receiver-spf"]
    row = receiver_rows(report)[("test1.com", "receiver-spf")]
    assert row["observed"] == "fail" and "MAIL FROM mail.test1.com, client 198.51.100.25" in row["note"]
    assert row["reply"] == "SES: spf=fail client-ip=198.51.100.25"
    assert receiver_rows(report)[("test1.com", "receiver-dmarc")]["holds"] is True


def test_an_absent_dmarc_record_fails_dmarc(stack, capsys):
    deployed = stack(dns=_remove("_dmarc.test1.com", "TXT"))
    code, report = run_prove(deployed, capsys)
    assert code == 1 and report["failed"] == ["test1.com receiver-dmarc"]
    row = receiver_rows(report)[("test1.com", "receiver-dmarc")]
    assert row["observed"] == "none" and "no DMARC record at _dmarc.test1.com" in row["note"]
    assert "dmarc=none" in row["reply"]


@pytest.mark.parametrize("fault", ["no prove rule", "policy without prove's statement"])
def test_without_the_stacks_prove_rule_nothing_is_stored_and_every_check_fails(stack, capsys, fault):
    """The rule's recipients and the bucket policy's statement are what get the message stored:
    without either, nothing arrives under prove/ within the bound."""
    faults = ({"prove_rule": False} if fault == "no prove rule" else
              {"bucket_policy": lambda doc: {**doc, "Statement": [s for s in doc["Statement"]
                                                                   if s.get("Sid") != "SesWritesProveMessages"]}})
    deployed = stack(**faults)
    code, report = run_prove(deployed, capsys)
    assert code == 1
    assert set(report["failed"]) == {f"{d} {c}" for d in ("test1.com", "test2.com") for c in receiver.CASES}
    assert {r["observed"] for r in receiver_rows(report).values()} == {"not stored within 3s"}
    assert deployed.receiving.stored == []


def test_the_text_table_names_the_failing_domain_and_why(stack, capsys):
    deployed = stack()
    deployed.dns.remove(f"{deployed.dkim_selector('test1.com')}._domainkey.test1.com", "CNAME")
    args = [a for a in deployed.args() if a not in ("--format", "json")]
    assert prove_cli.main(args) == 1
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "1 expectations do not hold: test1.com receiver-dkim"
    assert "missing public key" in out and "receiver's view" in out and PROVE_ADDRESS in out


# --- skipped, or not asked --------------------------------------------------------------------

def test_without_receiving_the_step_is_skipped_not_failed_and_asks_aws_nothing(stack, capsys, monkeypatch):
    deployed = stack(ROSTER)

    def refuse(*args, **kwargs):
        raise AssertionError("prove --receiver created an AWS client although the stack receives nothing")

    import botocore.session
    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    code, report = run_prove(deployed, capsys)
    assert code == 0, report["failed"]
    assert "receiving is not set up" in report["receiver"]["skipped"]
    assert not [r for r in report["rows"] if r["domain"]]


def test_without_the_flag_a_receiving_stack_is_not_read(stack, capsys, monkeypatch):
    """Without --receiver (nor --feedback, --from-secrets) no AWS client is created even when the
    stack receives mail; the report says the step was not asked for."""
    deployed = stack()

    def refuse(*args, **kwargs):
        raise AssertionError("prove created an AWS client without --receiver")

    import botocore.session
    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)
    code = prove_cli.main(deployed.deployed.args())
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["receiver"]["skipped"].startswith("not asked")
    assert not [s for s in deployed.deployed.account.sent if s["recipients"] == [PROVE_ADDRESS]]


def test_without_the_extra_it_exits_2_before_sending(stack, capsys, monkeypatch):
    deployed = stack()
    real = receiver.importlib.util.find_spec
    monkeypatch.setattr(receiver.importlib.util, "find_spec", lambda name, *a: None if name == "dkim" else real(name, *a))
    assert prove_cli.main(deployed.args()) == 2
    err = capsys.readouterr().err
    assert "missing: dkimpy" in err and "pip install 'ses-mail-roster[prove]'" in err
    assert deployed.deployed.account.sent == []


def test_a_roster_alone_needs_the_bucket_name(stack, capsys):
    deployed = stack()
    args = deployed.args()
    i = args.index("--stack")
    args[i:i + 2] = ["--roster", str(deployed.deployed.project / "roster.yaml"), "--region", REGION]
    assert prove_cli.main(args) == 2
    assert "give --stack, or set reports.bucket" in capsys.readouterr().err


def test_the_resolver_option_is_the_dns_the_checks_ask(stack, capsys, monkeypatch):
    """With the system's resolver pointing at an empty zone, --resolver is what finds the records."""
    deployed = stack()
    with serve_zone() as empty:
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver_for(empty))
        code, report = run_prove(deployed, capsys, "--resolver", deployed.dns.address)
        assert code == 0, report["failed"]
        assert dns.resolver.default_resolver.port == empty.port  # put back afterwards
        code, report = run_prove(deployed, capsys)
        assert code == 1 and {r["observed"] for r in receiver_rows(report).values()} >= {"none"}


# --- SES's headers ----------------------------------------------------------------------------

SES_RESULTS = ("amazonses.com;\r\n spf=pass (spfCheck: domain of mail.test1.com designates 198.51.100.25 as "
               "permitted sender) client-ip=198.51.100.25; envelope-from=0100abc-000000@mail.test1.com; "
               "helo=e1-25.smtp-out.eu-west-1.amazonses.com;\r\n dkim=pass header.i=@test1.com;\r\n"
               " dkim=pass header.i=@amazonses.com;\r\n dmarc=pass header.from=test1.com;")


def test_ses_authentication_results_are_read_clause_by_clause():
    """SES's header (its layout as stored messages show it) is not RFC 8601: authres refuses it
    whole, so prove splits the clauses and folds SES's spf parameters back into theirs."""
    import authres
    import authres.dmarc

    with pytest.raises(authres.AuthResError):
        authres.FeatureContext(authres.dmarc).parse_value(SES_RESULTS)
    authserv, clauses = receiver.parse_authentication_results(SES_RESULTS)
    assert authserv == "amazonses.com"
    assert [(c["method"], c["result"]) for c in clauses] == [("spf", "pass"), ("dkim", "pass"), ("dkim", "pass"),
                                                             ("dmarc", "pass")]
    assert clauses[0]["properties"] == {"client-ip": "198.51.100.25", "envelope-from": "0100abc-000000@mail.test1.com",
                                        "helo": "e1-25.smtp-out.eu-west-1.amazonses.com"}
    assert clauses[1]["properties"] == {"header.i": "@test1.com"}
    assert clauses[3]["properties"] == {"header.from": "test1.com"}


def test_only_ses_s_own_headers_are_its_verdicts():
    """SES prepends its headers; a sender's own Authentication-Results below them, or one of
    another authserv-id, is not SES's verdict."""
    import email
    import email.policy

    raw = ("Return-Path: <b@mail.test1.com>\r\nX-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n"
           f"Authentication-Results: {SES_RESULTS.replace('dkim=pass header.i=@test1.com', 'dkim=fail header.i=@test1.com')}\r\n"
           "Authentication-Results: amazonses.com; dkim=pass header.i=@test1.com; dmarc=pass header.from=test1.com\r\n"
           "From: taro@test1.com\r\n\r\nhello\r\n").encode()
    verdicts = receiver.ses_verdicts(email.message_from_bytes(raw, policy=email.policy.compat32))
    assert verdicts.results == {"spf": ["pass"], "dkim": ["fail", "pass"], "dmarc": ["pass"]}
    assert (verdicts.spam, verdicts.virus) == ("PASS", "PASS")
    forged_only = raw.replace(b"Authentication-Results: amazonses.com;\r\n spf", b"Authentication-Results: elsewhere;\r\n spf", 1)
    assert receiver.ses_verdicts(email.message_from_bytes(forged_only, policy=email.policy.compat32)).results == {
        "dkim": ["pass"], "dmarc": ["pass"]}


def test_every_prove_row_is_labelled_by_person_and_receiver_rows_by_domain():
    assert prove.Row("taro@test1.com", "P2", "t", prove.REFUSED_POLICY, prove.ACCEPTED).label == "taro@test1.com P2"
    assert prove.Row("taro@test1.com", "receiver-spf", "t", "pass, aligned", "fail",
                     domain="test1.com").label == "test1.com receiver-spf"


def test_the_receiver_modules_import_no_authentication_library_until_used():
    """`ses-mail prove` without --receiver runs without the extra: nothing imports it at load."""
    import subprocess
    import sys

    code = ("import sys; import ses_mail.cli.prove, ses_mail.live.receiver, ses_mail.live.prove; "
            "assert not {'dkim', 'spf', 'authheaders', 'authres'} & set(sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("received, ip, helo", [
    ("from e1-25.smtp-out.eu-west-1.amazonses.com (e1-25.smtp-out.eu-west-1.amazonses.com [198.51.100.25])\r\n"
     " by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc\r\n for x@reports.test1.com;\r\n"
     " Mon, 02 Jun 2025 09:00:00 +0000 (UTC)", "198.51.100.25", "e1-25.smtp-out.eu-west-1.amazonses.com"),
    ("from mx.test2.com (unknown [IPv6:2001:db8::25]) by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc",
     "2001:db8::25", "mx.test2.com"),
    ("by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc", None, None),
])
def test_the_sending_server_is_read_from_ses_s_received_header(received, ip, helo):
    import email

    message = email.message_from_string(f"Return-Path: <b@mail.test1.com>\r\nReceived: {received}\r\n"
                                        "Received: from attacker (x [203.0.113.9])\r\n\r\nbody\r\n")
    found = receiver.trace(message)
    assert (found.client_ip, found.helo, found.envelope_from) == (ip, helo, "b@mail.test1.com")
    assert found.received_by == "inbound-smtp.eu-west-1.amazonaws.com"
