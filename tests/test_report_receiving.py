"""Receiving DMARC reports: the pure specs, the roster's `reports:` section, the bucket policy
evaluated, and the ReportReceiving component registered under the Pulumi mocks."""
from __future__ import annotations

import json
from dataclasses import dataclass

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pulumi
import pytest
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from ses_mail.review.emulation import AwsMocks
from ses_mail.review.engine import install_mocks
from ses_mail.roster import RosterError, parse_roster
from ses_mail.specs import report_receiving as spec
from ses_mail.specs.dns_records import dmarc_value
from tests.iam_eval import Request, decide_service

ACCOUNT, REGION = "123456789012", "eu-west-1"
ROSTER = """
domains:
  - name: example.com
  - name: other.org
    dmarc: {rua: [postmaster@other.org], policy: quarantine, testing: true}
reports:
  address: dmarc@reports.example.com
"""


# --- specs -----------------------------------------------------------------------------------

def test_a_region_without_receiving_is_refused_with_the_list_and_its_source():
    assert spec.inbound_endpoint("eu-west-1") == "inbound-smtp.eu-west-1.amazonaws.com"
    with pytest.raises(spec.ReceivingError) as err:
        spec.inbound_endpoint("us-west-1")
    assert "us-east-1" in str(err.value) and "Email receiving endpoints" in str(err.value)
    assert "January 2024" in str(err.value)


def test_the_mx_record_parses_as_an_mx_to_the_region_endpoint():
    record = spec.mx_record("dmarc@reports.example.com", "us-east-1", 600)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.MX, record.value)
    assert (record.name, record.type, rdata.preference, rdata.exchange.to_text(omit_final_dot=True)) == (
        "reports.example.com", "MX", 10, "inbound-smtp.us-east-1.amazonaws.com")


@pytest.mark.parametrize("stack", ["dev", "Production_EU", "x" * 200, "a.b c"])
def test_default_bucket_names_are_valid_and_distinct(stack):
    name = spec.bucket_name(stack, ACCOUNT, "ap-southeast-3")
    assert spec.normalize_bucket(name) == name and len(name) <= 63
    assert name != spec.bucket_name(stack + "2", ACCOUNT, "ap-southeast-3")
    assert spec.check_ses_name(spec.rule_set_name(stack)) and spec.check_ses_name(spec.rule_name(stack))


@pytest.mark.parametrize("bad", ["UPPER", "ab", "a..b", "192.168.1.1", "xn--abc", "x-s3alias", "-abc"])
def test_bad_bucket_names_are_refused(bad):
    with pytest.raises(ValueError):
        spec.normalize_bucket(bad)


def test_the_rule_set_is_never_taken_over_silently():
    assert spec.rule_set_plan(ours="ses-mail-dev", active=None, join=None) == spec.RuleSetPlan("ses-mail-dev", True, True)
    assert spec.rule_set_plan(ours="ses-mail-dev", active="ses-mail-dev", join=None).activate
    with pytest.raises(spec.RuleSetConflict, match="join: inbound-main"):
        spec.rule_set_plan(ours="ses-mail-dev", active="inbound-main", join=None)
    assert spec.rule_set_plan(ours="ses-mail-dev", active="inbound-main", join="inbound-main") == \
        spec.RuleSetPlan("inbound-main", create=False, activate=False)
    with pytest.raises(spec.RuleSetConflict):
        spec.rule_set_plan(ours="ses-mail-dev", active="inbound-main", join="other")
    with pytest.raises(spec.RuleSetConflict):
        spec.rule_set_plan(ours="ses-mail-dev", active=None, join="inbound-main")


def test_every_domain_reports_to_the_address_and_explicit_rua_is_kept():
    roster = parse_roster(ROSTER)
    domains = spec.with_reports(roster.domains, roster.reports.address)
    rua = {d.name: d.dmarc.rua for d in domains}
    assert rua == {"example.com": ("dmarc@reports.example.com",),
                   "other.org": ("postmaster@other.org", "dmarc@reports.example.com")}
    assert "rua=mailto:postmaster@other.org,mailto:dmarc@reports.example.com" in dmarc_value(domains[1].dmarc)
    assert spec.with_reports(domains, roster.reports.address) == domains  # idempotent
    # Across organisations the reports host authorises the other domain, in the zone of its parent.
    assert [(zone, r.name, r.type, r.value) for zone, r in spec.authorization_records(domains, roster.reports.address)] \
        == [("example.com", "other.org._report._dmarc.reports.example.com", "TXT", "v=DMARC1")]


def test_the_rollout_stage_reads_the_roster():
    roster = parse_roster(ROSTER)
    assert [spec.rollout_stage(d.dmarc) for d in roster.domains] == ["none", "quarantine, testing"]


# --- the roster ------------------------------------------------------------------------------

@pytest.mark.parametrize("address,words", [
    ("dmarc@example.com", "a roster domain"),
    ("dmarc@mail.example.com", "MAIL FROM subdomain"),
    ("dmarc@reports.elsewhere.net", "not below any roster domain"),
    ("ses-mail-prove@reports.example.com", "`ses-mail prove --receiver` sends its test messages to"),
])
def test_the_reports_address_must_be_a_dedicated_subdomain(address, words):
    with pytest.raises(RosterError) as err:
        parse_roster(ROSTER.replace("dmarc@reports.example.com", address), "r.yaml")
    (problem,) = err.value.problems
    assert (problem.line, problem.field) == (7, "reports.address") and words in problem.message


def test_reports_fields_are_validated_with_documented_defaults():
    reports = parse_roster(ROSTER).reports
    assert (reports.retention_days, reports.bucket, reports.kms_key, reports.join) == (365, None, None, None)
    bad = ROSTER + "  retention_days: 0\n  bucket: Not_A_Bucket\n  join: '-x'\n  kms_key: key\n  colour: red\n"
    with pytest.raises(RosterError) as err:
        parse_roster(bad, "r.yaml")
    assert {p.field for p in err.value.problems} == {"reports.retention_days", "reports.bucket", "reports.join",
                                                      "reports.kms_key", "reports.colour"}


def test_the_schema_describes_reports():
    from pathlib import Path
    schema = json.loads((Path(__file__).resolve().parent.parent / "config" / "roster.schema.json").read_text())
    props = schema["definitions"]["Reports"]["properties"]
    assert set(props) == {"address", "retention_days", "bucket", "kms_key", "join"}
    assert "Default: 365" in props["retention_days"]["description"]


# --- the bucket policy, evaluated ------------------------------------------------------------

RULE_ARN = spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev", "ses-mail-dmarc-reports-dev")
POLICY = spec.bucket_policy("reports-bucket", ACCOUNT, RULE_ARN)


def ses_put(key="dmarc/abc123", account=ACCOUNT, source_arn=RULE_ARN, action="s3:PutObject", tls=True,
            service="ses.amazonaws.com"):
    context = {"aws:SecureTransport": "true" if tls else "false"}
    if account is not None:
        context["aws:SourceAccount"] = account
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn
    return Request(action, f"arn:aws:s3:::reports-bucket/{key}", context, service=service)


def test_only_this_accounts_rule_can_write_through_the_bucket_policy():
    assert decide_service(POLICY, ses_put()) == "Allow"
    assert decide_service(POLICY, ses_put(account="210987654321")) == "ImplicitDeny"
    other_rule = spec.rule_arn(REGION, ACCOUNT, "someone-elses", "rule")
    assert decide_service(POLICY, ses_put(source_arn=other_rule)) == "ImplicitDeny"
    foreign = spec.rule_arn(REGION, "210987654321", "ses-mail-dev", "ses-mail-dmarc-reports-dev")
    assert decide_service(POLICY, ses_put(account="210987654321", source_arn=foreign)) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(source_arn=None)) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(account=None)) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(key="elsewhere/x")) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(action="s3:GetObject")) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(action="s3:DeleteObject")) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(service="sns.amazonaws.com")) == "ImplicitDeny"
    assert decide_service(POLICY, ses_put(tls=False)) == "ExplicitDeny"


PROVE_ARN = spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev", spec.prove_rule_name("dev"))
WITH_PROVE = spec.bucket_policy("reports-bucket", ACCOUNT, RULE_ARN, prove_source_arn=PROVE_ARN)


def test_the_prove_address_is_at_the_reports_subdomain_and_never_the_report_mailbox():
    assert spec.prove_address("dmarc@reports.example.com") == "ses-mail-prove@reports.example.com"
    assert spec.prove_rule_name("dev") == "ses-mail-prove-dev" != spec.rule_name("dev")
    assert len(spec.prove_rule_name("s" * 80)) <= 64 and spec.PROVE_OBJECT_PREFIX != spec.DEFAULT_OBJECT_PREFIX


def test_each_rule_writes_only_under_its_own_prefix_through_the_bucket_policy():
    """With prove's rule, the reports rule still writes only under dmarc/ and prove's rule only
    under prove/: neither can put anything where the other's reader looks."""
    assert decide_service(WITH_PROVE, ses_put()) == "Allow"
    assert decide_service(WITH_PROVE, ses_put(key="prove/m1", source_arn=PROVE_ARN)) == "Allow"
    assert decide_service(WITH_PROVE, ses_put(key="prove/m1")) == "ImplicitDeny"  # the reports rule
    assert decide_service(WITH_PROVE, ses_put(key="dmarc/m1", source_arn=PROVE_ARN)) == "ImplicitDeny"
    assert decide_service(WITH_PROVE, ses_put(key="prove/m1", source_arn=PROVE_ARN, account="210987654321")) \
        == "ImplicitDeny"
    assert decide_service(WITH_PROVE, ses_put(key="prove/m1", source_arn=PROVE_ARN, tls=False)) == "ExplicitDeny"
    assert decide_service(WITH_PROVE, ses_put(key="prove/m1", source_arn=PROVE_ARN, action="s3:GetObject")) \
        == "ImplicitDeny"
    # Without prove's rule the policy is exactly what it was.
    assert spec.bucket_policy("reports-bucket", ACCOUNT, RULE_ARN) == POLICY
    assert [st["Sid"] for st in POLICY["Statement"]] == ["SesWritesReports", "TlsOnly"]


def test_no_one_else_gets_anything_from_the_bucket_policy():
    from tests.iam_eval import decide
    for principal in (f"arn:aws:iam::{ACCOUNT}:user/x", "arn:aws:iam::210987654321:role/r"):
        for action in ("s3:PutObject", "s3:GetObject", "s3:ListBucket"):
            for key in ("dmarc/a", "prove/a"):
                request = Request(action, f"arn:aws:s3:::reports-bucket/{key}", {"aws:SecureTransport": "true"},
                                  principal=principal)
                assert decide([POLICY], request) == decide([WITH_PROVE], request) == "ImplicitDeny"


# --- the component under the Pulumi mocks ----------------------------------------------------

@dataclass
class ReceivingMocks(AwsMocks):
    """The offline emulation, plus the region's active receipt rule set."""

    active: str | None = None

    def call(self, args):
        if args.token == "aws:ses/getActiveReceiptRuleSet:getActiveReceiptRuleSet":
            self.calls.append((args.token, dict(args.args)))
            if self.active is None:
                # As the provider (terraform-provider-aws, active_receipt_rule_set_data_source.go):
                # DescribeActiveReceiptRuleSet without metadata is an error of the data source.
                return {}, [("", "reading SES Active Receipt Rule Set: empty result")]
            return {"ruleSetName": self.active, "arn": f"arn:aws:ses:{REGION}:{ACCOUNT}:receipt-rule-set/{self.active}",
                    "id": REGION, "region": REGION}
        return super().call(args)


def register(*, active=None, join=None, zone_id="Z123", region=REGION, kms=None, prove=False):
    mocks = ReceivingMocks(region=region, active=active)
    install_mocks({"aws:region": region}, "dev", mocks)
    from ses_mail.components.report_receiving import ReportReceiving, ReportReceivingArgs

    outputs = {}

    def program():
        component = ReportReceiving("dmarc-reports", ReportReceivingArgs(
            address="dmarc@reports.example.com", region=region, account_id=ACCOUNT,
            bucket_name=spec.bucket_name("dev", ACCOUNT, region), rule_set_name=spec.rule_set_name("dev"),
            rule_name=spec.rule_name("dev"), zone_id=zone_id, join=join, kms_key_arn=kms, tags={"ses-mail:stack": "dev"},
            prove_rule_name=spec.prove_rule_name("dev") if prove else None))
        outputs["bucket"] = component.bucket_name
        pulumi.export("bucket", component.bucket_name)

    _sync_await(run_pulumi_func(program))
    return mocks


def by_type(mocks, suffix):
    """Registrations whose type token ends with `suffix` at a token boundary (`ReceiptRuleSet`
    is not `ActiveReceiptRuleSet`)."""
    return [r for r in mocks.registrations if r.type.endswith(suffix) and r.type[-len(suffix) - 1] in ":/"]


def test_the_component_registers_bucket_rule_set_rule_and_mx():
    mocks = register()
    bucket_name = spec.bucket_name("dev", ACCOUNT, REGION)
    (bucket,) = by_type(mocks, "s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == bucket_name and bucket.inputs["forceDestroy"] is False
    (block,) = by_type(mocks, "BucketPublicAccessBlock")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                 "restrictPublicBuckets"))
    (sse,) = by_type(mocks, "BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    (life,) = by_type(mocks, "BucketLifecycleConfiguration")
    assert life.inputs["rules"][0]["expiration"]["days"] == spec.DEFAULT_RETENTION_DAYS
    assert life.inputs["rules"][0]["status"] == "Enabled"
    (rule_set,) = by_type(mocks, "ReceiptRuleSet")
    assert rule_set.inputs["ruleSetName"] == "ses-mail-dev"
    (rule,) = by_type(mocks, "ReceiptRule")
    assert rule.inputs["recipients"] == ["dmarc@reports.example.com"] and rule.inputs["ruleSetName"] == "ses-mail-dev"
    (action,) = rule.inputs["s3Actions"]
    assert action["bucketName"] == bucket_name and "kmsKeyArn" not in action  # encryption is the bucket's
    (active,) = by_type(mocks, "ActiveReceiptRuleSet")
    assert active.inputs["ruleSetName"] == "ses-mail-dev"
    (mx,) = by_type(mocks, "route53/record:Record")
    assert (mx.inputs["name"], mx.inputs["type"], mx.inputs["records"]) == (
        "reports.example.com", "MX", [f"10 inbound-smtp.{REGION}.amazonaws.com"])
    # The registered policy is the evaluated one: this rule's ARN, this account.
    (policy,) = by_type(mocks, "BucketPolicy")
    document = json.loads(policy.inputs["policy"])
    assert document == spec.bucket_policy(bucket_name, ACCOUNT, spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev",
                                                                               spec.rule_name("dev")))
    assert decide_service(document, Request("s3:PutObject", f"arn:aws:s3:::{bucket_name}/dmarc/m1",
                                            {"aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true",
                                             "aws:SourceArn": spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev", spec.rule_name("dev"))},
                                            service="ses.amazonaws.com")) == "Allow"


def test_the_component_stores_proves_messages_by_a_rule_and_prefix_of_their_own():
    """With `prove_rule_name`: a second rule, after the report rule in the same set, stores mail
    for the prove address under prove/, which expires after a week; the policy lets that rule
    write there. Without it, one rule and one lifecycle rule, as before."""
    mocks = register(prove=True)
    bucket_name = spec.bucket_name("dev", ACCOUNT, REGION)
    rules = {r.inputs["name"]: r for r in by_type(mocks, "ReceiptRule")}
    assert set(rules) == {spec.rule_name("dev"), spec.prove_rule_name("dev")}
    prove_rule = rules[spec.prove_rule_name("dev")]
    assert prove_rule.inputs["recipients"] == ["ses-mail-prove@reports.example.com"]
    assert prove_rule.inputs["ruleSetName"] == "ses-mail-dev" and prove_rule.inputs["after"] == spec.rule_name("dev")
    assert prove_rule.inputs["s3Actions"] == [{"bucketName": bucket_name, "objectKeyPrefix": "prove/", "position": 1}]
    assert prove_rule.inputs["scanEnabled"] is True and prove_rule.inputs["enabled"] is True
    assert rules[spec.rule_name("dev")].inputs["recipients"] == ["dmarc@reports.example.com"]
    (life,) = by_type(mocks, "BucketLifecycleConfiguration")
    assert {(r["filter"]["prefix"], r["expiration"]["days"]) for r in life.inputs["rules"]} == {
        ("dmarc/", spec.DEFAULT_RETENTION_DAYS), ("prove/", spec.PROVE_RETENTION_DAYS)}
    (policy,) = by_type(mocks, "BucketPolicy")
    prove_arn = spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev", spec.prove_rule_name("dev"))
    document = json.loads(policy.inputs["policy"])
    assert document == spec.bucket_policy(bucket_name, ACCOUNT, spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev",
                                                                               spec.rule_name("dev")),
                                          prove_source_arn=prove_arn)
    assert decide_service(document, Request("s3:PutObject", f"arn:aws:s3:::{bucket_name}/prove/m1",
                                            {"aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true",
                                             "aws:SourceArn": prove_arn}, service="ses.amazonaws.com")) == "Allow"
    without = register()
    assert len(by_type(without, "ReceiptRule")) == 1
    assert [r["filter"]["prefix"] for r in by_type(without, "BucketLifecycleConfiguration")[0].inputs["rules"]] == \
        ["dmarc/"]


def test_the_component_joins_only_the_set_the_roster_names():
    mocks = register(active="inbound-main", join="inbound-main")
    assert not by_type(mocks, "ReceiptRuleSet") and not by_type(mocks, "ActiveReceiptRuleSet")
    (rule,) = by_type(mocks, "ReceiptRule")
    assert rule.inputs["ruleSetName"] == "inbound-main"
    with pytest.raises(Exception, match="join: inbound-main"):
        register(active="inbound-main")


def test_the_component_refuses_a_region_without_receiving_before_registering():
    with pytest.raises(Exception, match="does not receive mail in us-west-1"):
        register(region="us-west-1")


def test_kms_encryption_is_the_buckets_and_no_zone_means_no_mx():
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    mocks = register(kms=key, zone_id=None)
    (sse,) = by_type(mocks, "BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                                            "kmsMasterKeyId": key}
    assert not by_type(mocks, "route53/record:Record")


# --- wired into the stack (SesMail) ----------------------------------------------------------

STACK_ROSTER = """
domains:
  - name: example.com
    dmarc: {rua: [postmaster@example.com]}
  - name: other.org
    dmarc: {policy: quarantine, testing: true}
people:
  - email: ann@example.com
reports:
  address: dmarc@reports.example.com
"""


def run_stack(tmp_path, text=STACK_ROSTER, *, active=None, region=REGION):
    from ses_mail.review.engine import run_program

    path = tmp_path / "roster.yaml"
    path.write_text(text, encoding="utf-8")
    mocks = AwsMocks(region=region, active_rule_set=active)
    run = run_program(roster=path, region=region, mocks=mocks,
                      config={"ses-mail:secretAdmins": f"arn:aws:iam::{ACCOUNT}:user/fake"})
    return run, mocks


def test_a_stack_with_reports_registers_mx_rule_set_rule_and_a_bucket_only_its_ses_writes(tmp_path):
    run, mocks = run_stack(tmp_path)
    bucket = spec.bucket_name("dev", ACCOUNT, REGION)
    rule_arn = spec.rule_arn(REGION, ACCOUNT, "ses-mail-dev", spec.rule_name("dev"))
    (rule_set,) = by_type(mocks, "ReceiptRuleSet")
    (active,) = by_type(mocks, "ActiveReceiptRuleSet")
    rule, prove_rule = by_type(mocks, "ReceiptRule")
    assert rule_set.inputs["ruleSetName"] == active.inputs["ruleSetName"] == rule.inputs["ruleSetName"] == "ses-mail-dev"
    # prove's receiver view: its own rule in the same set, for its address at the same subdomain.
    assert prove_rule.inputs["ruleSetName"] == "ses-mail-dev"
    assert prove_rule.inputs["recipients"] == ["ses-mail-prove@reports.example.com"]
    assert prove_rule.inputs["name"] == spec.prove_rule_name("dev")
    assert rule.inputs["recipients"] == ["dmarc@reports.example.com"]
    assert rule.inputs["s3Actions"][0]["bucketName"] == bucket
    records = {(r.inputs["name"], r.inputs["type"]): r.inputs["records"] for r in by_type(mocks, "route53/record:Record")}
    mx = records[("reports.example.com", "MX")]
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.MX, mx[0])
    assert rdata.exchange.to_text(omit_final_dot=True) == f"inbound-smtp.{REGION}.amazonaws.com"
    # The registered policy, evaluated: this stack's rule writes; another account's or rule does not.
    (policy,) = by_type(mocks, "BucketPolicy")
    document = json.loads(policy.inputs["policy"])
    put = lambda account, arn: Request("s3:PutObject", f"arn:aws:s3:::{bucket}/dmarc/m1",  # noqa: E731
                                       {"aws:SourceAccount": account, "aws:SourceArn": arn,
                                        "aws:SecureTransport": "true"}, service="ses.amazonaws.com")
    assert decide_service(document, put(ACCOUNT, rule_arn)) == "Allow"
    assert decide_service(document, put("210987654321", rule_arn.replace(ACCOUNT, "210987654321"))) == "ImplicitDeny"
    assert decide_service(document, put(ACCOUNT, spec.rule_arn(REGION, ACCOUNT, "other-set", "r"))) == "ImplicitDeny"
    # Every domain reports to the address (explicit rua kept, first), parsed as a receiver would.
    import checkdmarc.dmarc as cd
    for domain, first in (("example.com", "postmaster@example.com"), ("other.org", None)):
        (value,) = records[(f"_dmarc.{domain}", "TXT")]
        parsed = cd.parse_dmarc_record(value.strip('"'), domain, parked=False, include_tag_descriptions=False)
        rua = [u["address"] for u in parsed["tags"]["rua"]["value"]]
        assert rua == [a for a in (first, "dmarc@reports.example.com") if a]
    # other.org is another organisation: the authorisation is published in example.com's zone.
    assert records[("other.org._report._dmarc.reports.example.com", "TXT")] == ["v=DMARC1"]
    assert ("example.com._report._dmarc.reports.example.com", "TXT") not in records
    # The outputs: the MX among dns_records, the rollout stages in dmarc_reports.
    assert {"name": "reports.example.com", "type": "MX", "ttl": 600,
            "value": f"10 inbound-smtp.{REGION}.amazonaws.com"} in run.outputs["dns_records"]
    summary = run.outputs["dmarc_reports"]
    assert summary["bucket"] == bucket and summary["rule_set"] == "ses-mail-dev"
    assert (summary["prove_address"], summary["prove_rule"]) == ("ses-mail-prove@reports.example.com",
                                                                 spec.prove_rule_name("dev"))
    assert summary["rollout"] == {"example.com": "none", "other.org": "quarantine, testing"}
    authorizations = run.outputs["deliverability"]["dmarc_report_authorizations"]
    assert [(a["domain"], a["published_by"]) for a in authorizations] == [("other.org", "this stack")]


def test_another_active_rule_set_stops_the_stack_before_anything_is_registered(tmp_path):
    with pytest.raises(pulumi.RunError, match="join: inbound-main") as err:
        run_stack(tmp_path, active="inbound-main")
    assert "roster.yaml" in str(err.value)
    joined, mocks = run_stack(tmp_path, STACK_ROSTER + "  join: inbound-main\n", active="inbound-main")
    assert not by_type(mocks, "ReceiptRuleSet") and not by_type(mocks, "ActiveReceiptRuleSet")
    assert {r.inputs["ruleSetName"] for r in by_type(mocks, "ReceiptRule")} == {"inbound-main"}


def test_a_region_without_receiving_stops_the_stack_before_anything_is_registered(tmp_path):
    from ses_mail.review.engine import run_program

    path = tmp_path / "roster.yaml"
    path.write_text(STACK_ROSTER, encoding="utf-8")
    mocks = AwsMocks(region="us-west-1")
    with pytest.raises(pulumi.RunError, match="does not receive mail in us-west-1"):
        run_program(roster=path, region="us-west-1", mocks=mocks)
    assert not [r for r in mocks.registrations if r.type != "pulumi:pulumi:Stack"]


def test_an_external_parent_domain_lists_the_mx_for_whoever_keeps_its_dns(tmp_path):
    text = STACK_ROSTER.replace("  - name: example.com\n", "  - name: example.com\n    dns: external\n")
    run, mocks = run_stack(tmp_path, text)
    assert not [r for r in by_type(mocks, "route53/record:Record") if r.inputs["type"] == "MX"
                and r.inputs["name"] == "reports.example.com"]
    rows = run.outputs["dns_records"]
    assert {"name": "reports.example.com", "type": "MX", "ttl": 600,
            "value": f"10 inbound-smtp.{REGION}.amazonaws.com"} in rows
    assert any(r["name"] == "other.org._report._dmarc.reports.example.com" for r in rows)
    assert by_type(mocks, "ReceiptRule")


def test_a_stack_without_reports_asks_nothing_and_registers_nothing_for_them(tmp_path):
    run, mocks = run_stack(tmp_path, STACK_ROSTER.split("reports:")[0])
    assert not [r for r in mocks.registrations if r.type.startswith(("aws:s3/", "aws:ses/receipt", "aws:ses/active"))]
    assert not [c for c, _ in mocks.calls if "ReceiptRuleSet" in c]
    assert "dmarc_reports" not in run.outputs


def test_plan_shows_the_receiving_resources_and_each_domains_rollout_stage(tmp_path):
    from ses_mail.cli.plan import render

    run, _ = run_stack(tmp_path)
    text = render(run)
    assert "+ ReportReceiving ses-mail-dmarc-reports" in text
    for token in ("ReceiptRuleSet", "ReceiptRule", "ActiveReceiptRuleSet", "BucketPolicy", "Bucket "):
        assert token in text, token
    assert "DMARC rollout: example.com none; other.org quarantine, testing" in text
    assert f"DMARC reports to dmarc@reports.example.com: MX reports.example.com -> 10 inbound-smtp.{REGION}" in text
    assert "prove's receiver view: mail to ses-mail-prove@reports.example.com stored by rule ses-mail-prove-dev" in text


def test_the_diff_names_the_new_rollout_stage(tmp_path):
    from ses_mail.review.changes import diff_stack
    from ses_mail.review.render import attention_lines

    before, _ = run_stack(tmp_path)
    after, _ = run_stack(tmp_path, STACK_ROSTER.replace("policy: quarantine, testing: true", "policy: reject"))
    from ses_mail.review.changes import resources
    snap = lambda run: list(resources((r.type, r.name, r.inputs, run.options.get((r.type, r.name)))  # noqa: E731
                                      for r in run.registrations))
    diff = diff_stack(snap(before), snap(after))
    assert any("other.org" in line and "DMARC rollout stage now: reject" in line for line in attention_lines(diff)), \
        attention_lines(diff)


def test_a_cloudflare_parent_domain_publishes_the_mx_as_a_cloudflare_record(tmp_path):
    """The receiving MX is one of its parent domain's records, so its DNS provider publishes it:
    at Cloudflare a DnsRecord (never proxied) in the domain's zone, and no Route 53 record."""
    text = STACK_ROSTER.replace("  - name: example.com\n",
                                "  - name: example.com\n    dns: cloudflare\n"
                                "    zone_id: 0123456789abcdef0123456789abcdef\n")
    run, mocks = run_stack(tmp_path, text)
    assert not [r for r in by_type(mocks, "route53/record:Record") if r.inputs["name"] == "reports.example.com"]
    (mx,) = [r for r in by_type(mocks, "dnsRecord:DnsRecord") if r.inputs["type"] == "MX"
             and r.inputs["name"] == "reports.example.com"]
    assert mx.inputs["zoneId"] == "0123456789abcdef0123456789abcdef" and mx.inputs["proxied"] is False
    assert (int(mx.inputs["priority"]), mx.inputs["content"]) == (10, f"inbound-smtp.{REGION}.amazonaws.com")
    assert by_type(mocks, "ReceiptRule")
