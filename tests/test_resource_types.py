"""One description per AWS resource type (ses_mail.resource_types), and the tools reading it.

The program runs under the mock engine with rosters that exercise every mode (delivery output,
pgp, secrets_manager and rotation; DNS route53, external and cloudflare; existing create, adopt and reference;
deliverability with and without a configuration set, subscribers, account suppression and a
verification wait): every type it registers must be described, or the diff would not know when
it is replaced, the plan what to show and the emulation what AWS returns.
"""
from __future__ import annotations

import ast

import pytest

from ses_mail.adoption.assess import ASSESSED
from ses_mail.cli.plan import render
from ses_mail.resource_types import (_ALL, ACCESS_KEY, IDENTITY, RECORD, TYPES, describe, identity_import_id,
                                     record_import_id)
from ses_mail.review.changes import CREATE, DELETE, REPLACE, UPDATE, Resource, diff_stack
from ses_mail.review.emulation import AwsMocks
from tests.conftest import EXAMPLE_ROSTER, PROJECT_DIR
from tests.credential_helpers import READER
from tests.test_delivery import PGP_KEY

EVERY_MODE = f"""
domains:
  - name: made.example
    dmarc: {{policy: quarantine, rua: [dmarc@made.example]}}
    wait_for_verification: 30
  - name: kept.example
    existing: adopt
  - name: partner.example
    existing: reference
  - name: elsewhere.example
    dns: external
  - name: flared.example
    dns: cloudflare
deliverability:
  notify: [ops@made.example, "arn:aws:sqs:eu-west-1:123456789012:bounces"]
  account_suppression: true
people:
  - email: ann@made.example
  - email: ben@made.example
    delivery: pgp
    pgp_key: {PGP_KEY}
  - email: cy@kept.example
    delivery: secrets_manager
    secret_readers: [{READER}]
  - email: dee@partner.example
    key: 2
    previous_key: 1
  - email: eve@elsewhere.example
    status: suspended
  - email: fay@made.example
    delivery: rotation
    secret_readers: [{READER}]
reports:
  address: dmarc@reports.made.example
"""

NO_CONFIGURATION_SET = """
domains:
  - name: made.example
deliverability:
  configuration_set: false
people:
  - email: ann@made.example
"""

CONFIG = {"ses-mail:secretAdmins": "arn:aws:iam::123456789012:user/fake"}


def custom_types(program) -> set[str]:
    return {r.type for r in program.registrations if not r.type.startswith(("ses-mail:", "pulumi:"))}


ROSTERS = {"every-mode": EVERY_MODE, "no-configuration-set": NO_CONFIGURATION_SET}


def run_all(directory, *, tolerate_failure: bool = False) -> dict[str, object]:
    """Each roster's program run (its mocks, when `tolerate_failure`: what was registered before an
    undescribed type's placeholder outputs made the program fail)."""
    from ses_mail.review.engine import run_program

    out = {}
    for name, text in [*ROSTERS.items(), ("example", EXAMPLE_ROSTER.read_text(encoding="utf-8"))]:
        path = directory / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        if not tolerate_failure:
            out[name] = run_program(roster=path, region="eu-west-1", config=CONFIG)
            continue
        mocks = AwsMocks(region="eu-west-1", caller_arn=CONFIG["ses-mail:secretAdmins"])
        try:
            run_program(roster=path, region="eu-west-1", config=CONFIG, mocks=mocks)
        except Exception:  # the registrations so far are what is checked
            pass
        out[name] = mocks
    return out


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    return run_all(tmp_path_factory.mktemp("modes"))


def test_every_type_the_program_registers_is_described(tmp_path):
    runs = run_all(tmp_path, tolerate_failure=True)
    registered = set().union(*(custom_types(p) for p in runs.values()))
    missing = sorted(registered - set(TYPES))
    assert not missing, f"describe {missing} in ses_mail/resource_types.py (one ResourceType each)"
    # The rosters really exercise the modes: each mode's own types are there.
    every = custom_types(runs["every-mode"])
    assert {"aws:secretsmanager/secret:Secret", "aws:ses/domainIdentityVerification:DomainIdentityVerification",
            "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes",
            "aws:sns/topicSubscription:TopicSubscription", "aws:secretsmanager/secretRotation:SecretRotation",
            "aws:lambda/function:Function", ACCESS_KEY, RECORD, IDENTITY} <= every
    assert "aws:sesv2/configurationSet:ConfigurationSet" not in custom_types(runs["no-configuration-set"])
    # Nothing described is dead: every description is of a type some roster registers.
    assert set(TYPES) == registered, sorted(set(TYPES) - registered)


def test_each_type_is_described_once_and_the_table_is_pure():
    assert len(_ALL) == len(TYPES)
    tree = ast.parse((PROJECT_DIR / "ses_mail" / "resource_types.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m == "pulumi" or m.startswith(("pulumi.", "pulumi_")) for m in imported), imported


def test_the_emulation_answers_every_registration_from_its_description(programs):
    """Ids and outputs come from each type's `emulate`: no registration falls back to a placeholder."""
    for program in programs.values():
        for r in program.registrations:
            described = describe(r.type)
            if described is None:
                continue
            rid, extra = described.emulate(r.name, r.inputs, "eu-west-1")
            assert r.id == rid and not r.id.endswith(f"{r.name}-id"), (r.type, r.name)
            assert all(r.outputs[k] == v for k, v in extra.items()), (r.type, r.name)


def test_an_undescribed_type_is_not_emulated_as_if_known():
    """The emulation has no knowledge outside the table: an unknown type gets a placeholder id."""
    import pulumi

    mocks = AwsMocks()
    args = pulumi.runtime.MockResourceArgs(typ="aws:ec2/instance:Instance", name="f", inputs={"runtime": "x"},
                                           provider=None, resource_id=None, custom=True)
    assert mocks.new_resource(args) == ("f-id", {"runtime": "x"})


def test_the_plan_summarises_every_resource_with_its_type_s_columns(programs):
    text = render(programs["every-mode"])
    for r in programs["every-mode"].registrations:
        described = describe(r.type)
        if described is not None:
            line = next(line for line in text.splitlines() if f" {r.name} " in line and described.short in line)
            assert line.rstrip().endswith(described.summary(dict(r.inputs)).rstrip()) or "[secret]" in line, line


def test_replacement_follows_the_description():
    """The diff replaces on exactly the description's `replace_on` inputs, updates on the rest."""
    for token, described in TYPES.items():
        for prop in sorted(described.replace_on) + ["someOtherInput"]:
            base = [Resource(token, "r", {prop: "a"}, urn=f"urn:pulumi:dev::p::{token}::r")]
            head = [Resource(token, "r", {prop: "b"}, urn=f"urn:pulumi:dev::p::{token}::r")]
            [change] = diff_stack(base, head).changes
            assert change.op == (REPLACE if prop in described.replace_on else UPDATE), (token, prop)


def test_consequences_and_attention_come_from_the_description():
    key = "urn:pulumi:dev::p::" + ACCESS_KEY + "::k"
    active = Resource(ACCESS_KEY, "k", {"user": "u", "status": "Active"}, urn=key)
    inactive = Resource(ACCESS_KEY, "k", {"user": "u", "status": "Inactive"}, urn=key)
    [deleted] = diff_stack([active], []).changes
    assert deleted.op == DELETE and deleted.consequence == TYPES[ACCESS_KEY].consequences["delete"]
    [suspended] = diff_stack([active], [inactive]).changes
    assert suspended.attention.startswith("access key set Inactive")
    [restored] = diff_stack([inactive], [active]).changes
    assert restored.attention == ""
    # A type without a consequence text for the operation says what happens in general terms.
    policy = "aws:sns/topicPolicy:TopicPolicy"
    [gone] = diff_stack([Resource(policy, "t", {"arn": "a"}, urn="urn:pulumi:dev::p::" + policy + "::t")], []).changes
    assert gone.consequence == "TopicPolicy deleted"
    [made] = diff_stack([], [active]).changes
    assert made.op == CREATE and not made.destructive


def test_adopt_imports_every_type_it_assesses_with_the_provider_s_id_format():
    assert all(TYPES[t].import_id is not None for t in ASSESSED)
    assert identity_import_id({"emailIdentity": "a.example"}, "eu-west-1") == "a.example"
    assert identity_import_id({"emailIdentity": "a.example", "region": "us-east-1"}, "eu-west-1") == "a.example@us-east-1"
    assert TYPES[RECORD].import_id({"zoneId": "Z1", "name": "_dmarc.A.example.", "type": "TXT"}, "eu-west-1") \
        == record_import_id("Z1", "_dmarc.a.example", "TXT") == "Z1__dmarc.a.example_TXT"


def test_preview_leaves_every_computed_output_unknown(tmp_path):
    from pulumi.runtime.rpc import UNKNOWN

    from ses_mail.review.engine import run_program

    path = tmp_path / "roster.yaml"
    path.write_text(EVERY_MODE, encoding="utf-8")
    previewed = run_program(roster=path, region="eu-west-1", config=CONFIG, preview=True)
    for r in previewed.registrations:
        described = describe(r.type)
        for prop, members in (described.computed if described else {}).items():
            value = r.outputs[prop]
            assert (all(value[m] == UNKNOWN for m in members) if isinstance(members, tuple) else value == UNKNOWN)
