"""`pulumi preview`: the program runs with every value AWS computes still unknown.

The engine runs the program with `preview=True` (the SDK's dry run); the emulated provider then
answers a create the way the engine plans one: its inputs, and every computed property (ARNs,
DKIM tokens, key ids, secrets, passwords) unknown. Invokes (hosted zones, the caller) run in a
preview too, so what they return stays known. What the mock monitor delivers as inputs is what a
preview shows a reviewer: unknown inputs arrive as the SDK's `Unknown` (the UNKNOWN sentinel on
the wire, deserialised in a dry run).
"""
from __future__ import annotations

import base64
import json

import pytest
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from ses_mail.resource_types import TYPES
from ses_mail.review.emulation import AwsMocks, fake_zone_id
from ses_mail.review.engine import run_program

READER = "arn:aws:iam::123456789012:role/mail-relay"
PGP_KEY = base64.b64encode(bytes([0x99, 0x00, 0x0d, 0x04, 0x65, 0x00, 0x00, 0x00, 0x16]) + bytes(13)).decode()

ROSTER = f"""
domains:
  - name: shop.example
    dmarc: {{policy: reject, rua: [dmarc@shop.example]}}
  - name: corp.example
    ttl: 300
people:
  - email: ann@shop.example
    name: Ann
  - email: ben@shop.example
    delivery: pgp
    pgp_key: {PGP_KEY}
  - email: cy@corp.example
    delivery: secrets_manager
    secret_readers: [{READER}]
  - email: dee@corp.example
    key: 2
    previous_key: 1
    status: suspended
"""

RECORD = "aws:route53/record:Record"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("preview") / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    deployed = run_program(roster=path, region="eu-west-1")
    previewed = run_program(roster=path, region="eu-west-1", preview=True)
    return deployed, previewed


def by_name(run):
    return {r.name: r for r in run.registrations}


def is_unknown(value) -> bool:
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def unknown_in(value) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(unknown_in(v) for v in value.values())
    if isinstance(value, list):
        return any(unknown_in(v) for v in value)
    return False


def test_the_preview_completes_and_registers_what_a_deployment_registers(runs):
    deployed, previewed = runs
    assert sorted((r.type, r.name) for r in previewed.registrations) == \
        sorted((r.type, r.name) for r in deployed.registrations)
    assert len(previewed.registrations) > 30


def test_the_emulation_really_previews(runs):
    """The test above must be able to fail: in the preview every computed output is unknown."""
    deployed, previewed = runs
    assert not any(unknown_in(r.inputs) for r in deployed.registrations)
    for r in previewed.registrations:
        assert r.id == ""  # an unknown id
        for prop in TYPES[r.type].computed if r.type in TYPES else ():
            assert unknown_in(r.outputs[prop]), (r.name, prop)
    assert by_name(previewed)["shop.example-identity"].outputs["dkimSigningAttributes"]["tokens"] == UNKNOWN


def test_dkim_records_show_type_ttl_and_zone_and_wait_only_for_the_tokens(runs):
    _, previewed = runs
    records = by_name(previewed)
    for domain, ttl in (("shop.example", 600), ("corp.example", 300)):
        for slot in (1, 2, 3):
            inputs = records[f"{domain}-dkim-{slot}"].inputs
            assert inputs["type"] == "CNAME" and inputs["ttl"] == ttl
            assert inputs["zoneId"] == fake_zone_id(domain)  # an invoke: known in a preview
            assert is_unknown(inputs["name"]) and is_unknown(inputs["records"])


def test_records_known_before_deployment_are_fully_known_and_as_deployed(runs):
    deployed, previewed = runs
    planned, done = by_name(previewed), by_name(deployed)
    for domain in ("shop.example", "corp.example"):
        for purpose in ("mail-from-mx", "mail-from-spf", "dmarc"):
            name = f"{domain}-{purpose}"
            if name not in done:
                continue
            assert not unknown_in(planned[name].inputs) and planned[name].inputs == done[name].inputs, name
    assert planned["shop.example-dmarc"].inputs["records"] == ["v=DMARC1; p=reject; rua=mailto:dmarc@shop.example"]
    assert planned["shop.example-mail-from"].inputs == done["shop.example-mail-from"].inputs


def test_iam_users_and_what_does_not_depend_on_arns_are_known(runs):
    deployed, previewed = runs
    planned, done = by_name(previewed), by_name(deployed)
    for person in ("ann@shop.example", "ben@shop.example", "cy@corp.example", "dee@corp.example"):
        assert planned[f"{person}-user"].inputs == done[f"{person}-user"].inputs
        policy = planned[f"{person}-send-policy"].inputs
        assert policy["user"] == f"smtp-{person}" and policy["name"] == "ses-send-as-own-address"
        assert is_unknown(policy["policy"])  # names the identity's ARN, which SES assigns
    # Keys: user, status and the PGP key are known; the suspension shows as Inactive.
    assert planned["ben@shop.example-key"].inputs["pgpKey"] == PGP_KEY
    assert planned["dee@corp.example-key"].inputs == done["dee@corp.example-key"].inputs
    assert planned["dee@corp.example-key"].inputs["status"] == "Inactive"
    # The secret's policy names only readers and admins: known, and the same as deployed.
    secret_policy = planned["cy@corp.example-secret-policy"].inputs
    assert is_unknown(secret_policy["secretArn"])
    assert secret_policy["policy"] == done["cy@corp.example-secret-policy"].inputs["policy"]
    assert json.loads(secret_policy["policy"])["Statement"][0]["Principal"] == {"AWS": [READER]}
    assert planned["cy@corp.example-secret"].inputs == done["cy@corp.example-secret"].inputs


def test_secrets_stay_secret_and_unknown_in_a_preview(runs):
    _, previewed = runs
    version = by_name(previewed)["cy@corp.example-secret-value"].inputs
    assert is_unknown(version["secretId"]) and unknown_in(version["secretString"])
    assert "smtp_credentials" in previewed.secret_outputs


def test_a_preview_by_a_role_that_is_no_secret_admin_works(tmp_path):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    mocks = AwsMocks(region="eu-west-1", caller_arn="arn:aws:sts::123456789012:assumed-role/pulumi-preview/pr-7")
    previewed = run_program(roster=path, region="eu-west-1", preview=True, mocks=mocks)
    assert any(r.type == "aws:secretsmanager/secretPolicy:SecretPolicy" for r in previewed.registrations)
