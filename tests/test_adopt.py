"""`ses-mail adopt` and `existing: adopt|reference`.

Route 53, IAM and STS are moto's emulation; SES v2 is botocore's Stubber, which checks every
request and canned response against AWS's API model (moto's SES v2 has no DKIM tokens or MAIL
FROM status). Every client the account's session makes carries the shared recorder
(tests/support/live_aws.py `Calls`), so the tests see every call the command makes.
"""
from __future__ import annotations

import io
import json
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from ses_mail.adoption.account import Account
from ses_mail.adoption.importfile import parent_chain
from ses_mail.cli import adopt as adopt_cli
from ses_mail.live.clients import WriteRefused
from ses_mail.review.changes import DELETE, diff_stack, resources
from ses_mail.review.engine import run_program
from ses_mail.review.render import render_json, render_text, Report
from tests.iam_eval import Request, allows
from tests.support.live_aws import REGION, Calls, documented_policy, identity

OTHER = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
TOKENS = ["aaaa1111bbbb2222cccc3333dddd4444", "eeee5555ffff6666gggg7777hhhh8888", "iiii9999jjjj0000kkkk1111llll2222"]


# --- fixtures -----------------------------------------------------------------------------

class Fake:
    """One fake account: moto's Route 53 and a stubbed SES v2 per region, calls recorded."""

    def __init__(self) -> None:
        self.session = boto3.Session(region_name=REGION)
        # Records only: the refusal of writes under test here is the runtime guard's own.
        self.recorded = Calls(fail_on_writes=False)
        self.recorded.watch(self.session)
        self.route53 = boto3.client("route53")   # the test's own (writing) client, not recorded
        self.zones: dict[str, str] = {}
        self.ses = {r: self.session.client("sesv2", region_name=r) for r in (REGION, OTHER)}
        self.stubs = {r: Stubber(c) for r, c in self.ses.items()}
        self.identities: dict[str, dict[str, dict]] = {REGION: {}, OTHER: {}}

    @property
    def calls(self) -> list[tuple[str, str, dict]]:
        """(IAM action prefix, operation, parameters) of every call the command made."""
        return self.recorded.requests

    def zone(self, name: str) -> str:
        zone = self.route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"].split("/")[-1]
        self.zones[name] = zone
        return zone

    def record(self, zone: str, name: str, type_: str, *values: str, ttl: int = 300) -> None:
        self.route53.change_resource_record_sets(HostedZoneId=self.zones[zone], ChangeBatch={"Changes": [{
            "Action": "CREATE", "ResourceRecordSet": {
                "Name": name, "Type": type_, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}}]})

    def identity(self, name: str, *, region: str = REGION, tokens=TOKENS, mail_from: str | None = None,
                 origin: str = "AWS_SES", key: str = "RSA_1024_BIT") -> None:
        self.identities[region][name] = identity(
            name, tokens=tokens, mail_from=mail_from or "", mail_from_status="SUCCESS" if mail_from else "FAILED",
            configuration_set=None, origin=origin, key_length=key)

    def expect(self, roster_domains: list[str], searched: bool) -> None:
        """Queue the SES answers in the order the command asks: GetEmailIdentity per
        `existing:` domain in the stack region, then (when one is missing) ListEmailIdentities
        in the other region."""
        stub = self.stubs[REGION]
        for name in roster_domains:
            if name in self.identities[REGION]:
                stub.add_response("get_email_identity", self.identities[REGION][name], {"EmailIdentity": name})
            else:
                stub.add_client_error("get_email_identity", "NotFoundException", http_status_code=404,
                                      expected_params={"EmailIdentity": name})
        if searched:
            listing = [{"IdentityType": "DOMAIN", "IdentityName": n, "SendingEnabled": True,
                        "VerificationStatus": "SUCCESS"} for n in self.identities[OTHER]]
            self.stubs[OTHER].add_response("list_email_identities", {"EmailIdentities": listing},
                                           {"PageSize": 1000})

    def account(self) -> Account:
        for stub in self.stubs.values():
            stub.activate()
        return Account(self.session, clients={("sesv2", r): c for r, c in self.ses.items()}, default_region=REGION)


@pytest.fixture
def fake(aws) -> Fake:
    return Fake()


@pytest.fixture
def project(tmp_path: Path):
    """A project of its own: Pulumi.yaml, a stack file and a roster, in a temporary directory."""
    (tmp_path / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        f"config:\n  aws:region: {REGION}\n  ses-mail:roster: roster.yaml\n", encoding="utf-8")

    def write(roster: str) -> Path:
        (tmp_path / "roster.yaml").write_text(textwrap.dedent(roster).lstrip(), encoding="utf-8")
        return tmp_path
    return write


def adopt(directory: Path, fake: Fake, *extra: str, fmt: str = "json") -> tuple[int, dict | str, Path]:
    out = directory / "import.json"
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = adopt_cli.main(["--project-dir", str(directory), "--stack", "dev", "--out", str(out),
                               "--format", fmt, *extra], account=fake.account(), other_regions=[OTHER])
    text = buffer.getvalue()
    for stub in fake.stubs.values():
        stub.assert_no_pending_responses()  # SES was asked exactly what the test expected
    return code, (json.loads(text) if fmt == "json" else text), out


def by_name(report: dict) -> dict[str, dict]:
    return {r["name"]: r for r in report["resources"]}


def codes(report: dict) -> list[str]:
    return sorted(f["code"] for f in report["findings"])


ADOPT_ONE = """
domains:
  - name: example.com
    existing: adopt
    dmarc:
      policy: quarantine
people:
  - email: ann@example.com
"""


def verified_domain(fake: Fake, *, dmarc: str = "v=DMARC1; p=none; rua=mailto:old@example.com") -> None:
    fake.zone("example.com")
    fake.identity("example.com", mail_from="mail.example.com")
    for token in TOKENS:
        fake.record("example.com", f"{token}._domainkey.example.com", "CNAME", f"{token}.dkim.amazonses.com", ttl=1800)
    fake.record("example.com", "mail.example.com", "MX", f"10 feedback-smtp.{REGION}.amazonses.com")
    fake.record("example.com", "mail.example.com", "TXT", '"v=spf1 include:amazonses.com ~all"')
    fake.record("example.com", "_dmarc.example.com", "TXT", f'"{dmarc}"')


# --- the import file ------------------------------------------------------------------------

def test_verified_identity_with_its_records_is_adopted_and_only_updated(project, fake):
    directory = project(ADOPT_ONE)
    verified_domain(fake)
    fake.expect(["example.com"], searched=False)
    code, report, out = adopt(directory, fake)
    assert code == 0, report["findings"]
    assert report["status"] == "written" and report["findings"] == []
    document = json.loads(out.read_text())
    zone = fake.zones["example.com"]
    ids = {e["name"]: e.get("id") for e in document["resources"]}
    # The documented import ids: the identity for both SES types, ZONEID_NAME_TYPE for records.
    assert ids["example.com-identity"] == "example.com"
    assert ids["example.com-mail-from"] == "example.com"
    assert ids["example.com-dmarc"] == f"{zone}__dmarc.example.com_TXT"
    assert ids["example.com-dkim-1"] == f"{zone}_{TOKENS[0]}._domainkey.example.com_CNAME"
    assert ids["example.com-mail-from-mx"] == f"{zone}_mail.example.com_MX"
    # Every ancestor component is an entry of its own, parents first, and everything hangs under them.
    assert document["resources"][0] == {"type": "ses-mail:index:SesMail", "name": "ses-mail", "component": True}
    assert {"type": "ses-mail:index:SendingDomain", "name": "example.com", "component": True,
            "parent": "ses-mail"} in document["resources"]
    assert parent_chain(document, "example.com-dmarc") == [
        ("ses-mail:index:SesMail", "ses-mail"), ("ses-mail:index:SendingDomain", "example.com")]
    assert all(e.get("parent") == "example.com" for e in document["resources"] if not e.get("component"))
    assert document["nameTable"] == {}
    # What the first `pulumi up` changes: DMARC value, TTLs, the DKIM key length; DKIM tokens stay.
    resources_ = by_name(report)
    assert resources_["example.com-dmarc"]["changes"] == [
        'records: ["v=DMARC1; p=none; rua=mailto:old@example.com"] → ["v=DMARC1; p=quarantine"]', "ttl: 300 → 600"]
    assert resources_["example.com-dkim-1"]["changes"] == ["ttl: 1800 → 600"]
    assert any("RSA_1024_BIT → RSA_2048_BIT" in c for c in resources_["example.com-identity"]["changes"])
    assert resources_["example.com-mail-from"]["changes"] == []
    assert all(r["action"] == "import" for r in report["resources"])
    # Read-only: every call the command made is a read.
    assert fake.calls and all(op.startswith(("Get", "List", "Describe")) for _, op, _ in fake.calls)


def test_import_file_matches_what_the_program_registers(project, fake, tmp_path):
    """Type, name and parent chain of every entry are those of the program's registration of
    the same roster under the mock engine: a rename in the program cannot break adoption."""
    directory = project(ADOPT_ONE)
    verified_domain(fake)
    fake.expect(["example.com"], searched=False)
    code, _, out = adopt(directory, fake)
    assert code == 0
    document = json.loads(out.read_text())
    run = run_program(roster=directory / "roster.yaml", region=REGION)
    by_urn = {o.urn: key for key, o in run.options.items()}

    def chain(type_: str, name: str) -> list[tuple[str, str]]:
        out_, parent = [], run.options[(type_, name)].parent
        while parent in by_urn and by_urn[parent][0] != "pulumi:pulumi:Stack":
            out_.append(by_urn[parent])
            parent = run.options[by_urn[parent]].parent
        return list(reversed(out_))

    imported = [e for e in document["resources"] if not e.get("component")]
    assert len(imported) == 8
    for entry in imported:
        name = entry.get("logicalName") or entry["name"]
        assert (entry["type"], name) in run.options, entry
        assert parent_chain(document, entry["name"]) == chain(entry["type"], name)
    registered = {(r.type, r.name) for r in run.registrations if r.name.startswith("example.com-")}
    assert registered == {(e["type"], e["name"]) for e in imported}


def test_import_file_follows_a_parent_component_generically(monkeypatch, project, fake):
    """Were the domains wrapped in a component (the SesMail restructuring), the file gains an
    entry for it and the chain goes through it, without changes to `ses-mail adopt`."""
    import pulumi

    import ses_mail.components.sending_domain as module

    original = module.SendingDomain

    class Wrapper(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("ses-mail:index:SesMail", "ses-mail")

    made: list[Wrapper] = []

    def wrapped(name, args, opts=None):
        if not made:
            made.append(Wrapper())
        return original(name, args, opts=pulumi.ResourceOptions(parent=made[0]))

    # The program imports SendingDomain afresh on each run (runpy), from this module.
    monkeypatch.setattr(module, "SendingDomain", wrapped)
    directory = project(ADOPT_ONE)
    verified_domain(fake)
    fake.expect(["example.com"], searched=False)
    code, _, out = adopt(directory, fake)
    assert code == 0
    document = json.loads(out.read_text())
    assert document["resources"][0] == {"type": "ses-mail:index:SesMail", "name": "ses-mail", "component": True}
    assert {"type": "ses-mail:index:SendingDomain", "name": "example.com", "component": True,
            "parent": "ses-mail"} in document["resources"]
    assert parent_chain(document, "example.com-dmarc") == [
        ("ses-mail:index:SesMail", "ses-mail"), ("ses-mail:index:SendingDomain", "example.com")]


def test_identity_without_records(project, fake):
    directory = project(ADOPT_ONE)
    fake.zone("example.com")
    fake.identity("example.com")
    fake.expect(["example.com"], searched=False)
    code, report, out = adopt(directory, fake)
    assert code == 0
    actions = {r["name"]: r["action"] for r in report["resources"]}
    assert actions.pop("example.com-identity") == "import"
    assert set(actions.values()) == {"create"}  # MAIL FROM and every record are created
    document = json.loads(out.read_text())
    assert [e["name"] for e in document["resources"]] == ["ses-mail", "example.com", "example.com-identity"]


def test_records_without_an_identity(project, fake):
    directory = project(ADOPT_ONE)
    fake.zone("example.com")
    fake.record("example.com", "_dmarc.example.com", "TXT", '"v=DMARC1; p=reject"')
    fake.record("example.com", "mail.example.com", "TXT", '"v=spf1 include:amazonses.com -all"')
    fake.expect(["example.com"], searched=True)  # missing here: the other region is searched
    code, report, out = adopt(directory, fake)
    assert code == 0, report["findings"]
    resources_ = by_name(report)
    assert resources_["example.com-identity"]["action"] == "create"
    assert resources_["example.com-dkim-1"]["action"] == "create"
    assert resources_["example.com-dmarc"]["action"] == "import"
    assert resources_["example.com-mail-from-spf"]["changes"][0].startswith(
        'records: ["v=spf1 include:amazonses.com -all"] → ["v=spf1 include:amazonses.com ~all"]')
    names = [e["name"] for e in json.loads(out.read_text())["resources"]]
    assert names == ["ses-mail", "example.com", "example.com-mail-from-spf", "example.com-dmarc"]


# --- what cannot be adopted safely ------------------------------------------------------------

def unsafe(project, fake, setup, *, searched=False) -> tuple[int, dict, Path]:
    directory = project(ADOPT_ONE)
    fake.zone("example.com")
    setup()
    fake.expect(["example.com"], searched=searched)
    return adopt(directory, fake)


def test_cname_where_the_program_needs_txt(project, fake):
    code, report, out = unsafe(project, fake, lambda: (
        fake.identity("example.com"),
        fake.record("example.com", "_dmarc.example.com", "CNAME", "example.com.dmarc.provider.example")))
    assert code == 1 and codes(report) == ["cname-conflict"] and not out.exists()
    assert "fix" in report["findings"][0] and "dmarc: false" in report["findings"][0]["fix"]


def test_dkim_record_pointing_at_another_identitys_token(project, fake):
    code, report, out = unsafe(project, fake, lambda: (
        fake.identity("example.com"),
        fake.record("example.com", f"{TOKENS[0]}._domainkey.example.com", "CNAME",
                    "zzzz0000zzzz0000zzzz0000zzzz0000.dkim.amazonses.com")))
    assert code == 1 and codes(report) == ["dkim-foreign-token"] and not out.exists()


def test_identity_in_another_region(project, fake):
    def setup():
        fake.identity("example.com", region=OTHER)
    code, report, out = unsafe(project, fake, setup, searched=True)
    assert code == 1 and codes(report) == ["identity-other-region"] and not out.exists()
    assert f"ses-mail:region {OTHER}" in report["findings"][0]["fix"]


def test_second_spf_record(project, fake):
    code, report, _ = unsafe(project, fake, lambda: (
        fake.identity("example.com"),
        fake.record("example.com", "mail.example.com", "TXT", '"v=spf1 include:amazonses.com ~all"',
                    '"v=spf1 include:_spf.example.net ~all"')))
    assert code == 1 and codes(report) == ["duplicate-spf"]


def test_second_dmarc_record(project, fake):
    code, report, _ = unsafe(project, fake, lambda: (
        fake.identity("example.com"),
        fake.record("example.com", "_dmarc.example.com", "TXT", '"v=DMARC1; p=none"', '"v=DMARC1; p=reject"')))
    assert code == 1 and codes(report) == ["duplicate-dmarc"]


def test_mail_from_subdomain_that_receives_mail(project, fake):
    code, report, _ = unsafe(project, fake, lambda: (
        fake.identity("example.com"),
        fake.record("example.com", "mail.example.com", "MX", "10 inbound.example.net")))
    assert code == 1 and codes(report) == ["mail-from-mx-in-use"]


def test_bring_your_own_dkim_identity(project, fake):
    code, report, _ = unsafe(project, fake, lambda: fake.identity("example.com", origin="EXTERNAL", tokens=[]))
    assert code == 1 and codes(report) == ["dkim-not-easy-dkim"]
    assert "existing: reference" in report["findings"][0]["fix"]


# --- adopt, reference and new domains together -------------------------------------------------

MIXED = """
domains:
  - name: example.com
    existing: adopt
  - name: partner.example
    existing: reference
  - name: fresh.example
people:
  - email: ann@example.com
  - email: bob@partner.example
  - email: cy@fresh.example
"""


def test_roster_mixing_adopt_reference_and_new_domains(project, fake):
    directory = project(MIXED)
    verified_domain(fake)
    fake.identity("partner.example")
    fake.expect(["example.com", "partner.example"], searched=False)
    code, report, out = adopt(directory, fake)
    assert code == 0, report["findings"]
    document = json.loads(out.read_text())
    assert {e["name"] for e in document["resources"]} == {
        "ses-mail", "example.com", *(f"example.com-{r}" for r in ("identity", "mail-from", "dkim-1", "dkim-2", "dkim-3",
                                                        "mail-from-mx", "mail-from-spf", "dmarc"))}
    assert report["referenced"] == [{"domain": "partner.example",
                                     "arn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/partner.example",
                                     "status": "verified for sending, DKIM SUCCESS"}]
    # Nothing is read for the new domain, and no zone lookup for the referenced one.
    assert not any("fresh.example" in json.dumps(p) for _, _, p in fake.calls)
    assert not any(op == "ListHostedZonesByName" and "partner" in p.get("DNSName", "") for _, op, p in fake.calls)


def test_program_registers_nothing_for_a_referenced_domain_and_sends_through_its_arn(run):
    result = run(MIXED)
    assert not any("partner.example" in r.name and not r.name.startswith("bob@") for r in result.registrations)
    policy = json.loads(result.named("bob@partner.example-send-policy").inputs["policy"])
    assert f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/partner.example" in json.dumps(policy)
    assert result.outputs["identities"]["partner.example"] == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/partner.example"


def test_adopted_resources_are_retained_and_other_domains_are_not(run):
    result = run(MIXED)
    retained = {name for (type_, name), o in result.options.items() if o.retain_on_delete}
    assert retained == {f"example.com-{r}" for r in ("identity", "mail-from", "dkim-1", "dkim-2", "dkim-3",
                                                       "mail-from-mx", "mail-from-spf", "dmarc")}


def test_removing_an_adopted_domain_releases_it_in_the_diff(run, write_roster):
    base = run(MIXED)
    head = run(MIXED.replace("  - name: example.com\n    existing: adopt\n", "").replace(
        "  - email: ann@example.com\n", ""))

    def snapshot(r):
        return resources((x.type, x.name, x.inputs, r.options.get((x.type, x.name))) for x in r.registrations)
    diff = diff_stack(snapshot(base), snapshot(head))
    released = [c for c in diff.changes if c.op == DELETE and c.custom and c.group.name == "example.com"]
    assert len(released) == 8 and all(c.released and not c.destructive for c in released)
    assert diff.count(DELETE) == 3  # ann's user, policy and key: really deleted
    text = render_text([Report("dev", "base", "head", diff)])
    assert "8 released, not deleted" in text and "(released, not deleted: stays in AWS)" in text
    assert "domain example.com" not in "".join(line for line in text.splitlines() if line.startswith("  ! "))
    summary = json.loads(render_json([Report("dev", "base", "head", diff)]))["stacks"][0]["summary"]
    assert summary["released"] == 8 and summary["delete"] == 3


# --- guards: read-only, endpoint, credentials, usage, IAM policy ------------------------------

def test_write_calls_are_refused_before_they_are_sent(fake):
    account = fake.account()
    route53 = account.client("route53")
    with pytest.raises(WriteRefused):
        route53.create_hosted_zone(Name="evil.example", CallerReference="x")
    assert "evil.example." not in [z["Name"] for z in fake.route53.list_hosted_zones()["HostedZones"]]


def test_aws_endpoint_url_is_honoured(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    account = Account(boto3.Session(region_name=REGION), default_region=REGION)
    sent: list[str] = []

    def stop(request=None, **_):
        sent.append(request.url)
        raise RuntimeError("stop before the network")
    for service in ("sts", "route53", "sesv2"):
        client = account.client(service, REGION)
        assert client.meta.endpoint_url == "http://localhost:4566"
        client.meta.events.register("before-send", stop)
    with pytest.raises(RuntimeError):
        account.identity("example.com", REGION)
    assert sent and sent[0].startswith("http://localhost:4566/")


def test_missing_credentials_is_a_usage_error(project, monkeypatch, tmp_path, capsys):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    directory = project(ADOPT_ONE)
    code = adopt_cli.main(["--project-dir", str(directory), "--stack", "dev"], other_regions=[])
    assert code == 2 and "credentials" in capsys.readouterr().err


def test_usage_errors(project, capsys):
    directory = project(ADOPT_ONE)
    assert adopt_cli.main(["--project-dir", str(directory), "--stack", "nope"]) == 2
    assert adopt_cli.main(["--stack", "dev", "--roster", "x.yaml"]) == 2
    assert adopt_cli.main(["--project-dir", str(directory), "--region", "moon-1"]) == 2


def test_nothing_to_adopt(project, capsys):
    directory = project("domains:\n  - name: example.com\n")
    assert adopt_cli.main(["--project-dir", str(directory)]) == 0
    assert "Nothing to adopt" in capsys.readouterr().out


def resource_of(service: str, operation: str, params: dict) -> str:
    if service == "ses" and "EmailIdentity" in params:
        return f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{params['EmailIdentity']}"
    if service == "route53" and "HostedZoneId" in params:
        return f"arn:aws:route53:::hostedzone/{params['HostedZoneId']}"
    return "*"


def test_documented_policy_covers_every_call_adopt_makes(project, fake):
    directory = project(MIXED.replace("  - name: fresh.example\n",
                                      "  - name: fresh.example\n  - name: later.example\n    existing: adopt\n"))
    verified_domain(fake)
    fake.identity("partner.example")
    fake.zone("later.example")  # no identity yet: every region is searched for it
    fake.expect(["example.com", "later.example", "partner.example"], searched=True)
    code, report, _ = adopt(directory, fake)
    assert code == 0, report["findings"]
    policy = documented_policy("operations.md", "## Already using SES?")
    made = {(s, op) for s, op, _ in fake.calls}
    assert {("ses", "GetEmailIdentity"), ("ses", "ListEmailIdentities"), ("route53", "ListHostedZonesByName"),
            ("route53", "ListResourceRecordSets"), ("sts", "GetCallerIdentity")} <= made
    for service, operation, params in fake.calls:
        if (service, operation) == ("sts", "GetCallerIdentity"):
            continue  # needs no permission (STS API reference)
        request = Request(f"{service}:{operation}", resource_of(service, operation, params))
        assert allows(policy, request), request
    # Read actions only, and a valid policy for IAM (moto validates the document).
    actions = [a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert all(a.split(":")[1].startswith(("Get", "List")) for a in actions)
    boto3.client("iam").create_policy(PolicyName="ses-mail-adopt", PolicyDocument=json.dumps(policy))


def test_text_report_lists_adoption_and_next_steps(project, fake):
    directory = project(ADOPT_ONE)
    verified_domain(fake)
    fake.expect(["example.com"], searched=False)
    code, text, out = adopt(directory, fake, fmt="text")
    assert code == 0
    assert "adopt  Record" in text and "first `pulumi up` changes records" in text
    assert f"pulumi import --file {out} --generate-code=false" in text


ADOPT_WITH_REPORTS = ADOPT_ONE + """reports:
  address: dmarc@reports.example.com
"""


@pytest.mark.parametrize("mx, refused", [("10 mx.mail-provider.example", True),
                                         (f"10 inbound-smtp.{REGION}.amazonaws.com", False)])
def test_a_reports_subdomain_that_receives_mail_is_refused(project, fake, mx, refused):
    directory = project(ADOPT_WITH_REPORTS)
    verified_domain(fake)
    fake.record("example.com", "reports.example.com", "MX", mx)
    fake.expect(["example.com"], searched=False)
    code, report, out = adopt(directory, fake)
    found = [f for f in report["findings"] if f["code"] == "reports-host-receives-mail"]
    if refused:
        assert code == 1 and not out.exists() and len(found) == 1
        assert "mx.mail-provider.example" in found[0]["message"] and "reports.address" in found[0]["fix"]
    else:  # SES's own inbound endpoint of the stack's region: this stack's MX, already there
        assert not found and code == 0, report["findings"]
