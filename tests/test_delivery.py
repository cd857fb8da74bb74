"""Handing credentials over: Pulumi secret output, PGP-encrypted, or AWS Secrets Manager."""
from __future__ import annotations

import base64
import json

import pulumi
import pytest

from ses_mail.roster.errors import RosterError
from ses_mail.specs.iam_policy import secret_read_policy
from ses_mail.specs.naming import secret_name
from ses_mail.roster import parse_roster
from ses_mail.review.emulation import AwsMocks, fake_secret_key
from ses_mail.review.engine import run_program
from tests.credential_helpers import (ACCOUNT, DEFAULT_ADMINS, DEPLOYER, KEY, READER, SECRET, SECRET_POLICY,
                                      SECRET_VERSION, by_name, derived_password, everything_plain,
                                      roster)
from tests.iam_eval import Request, decide_access

# A binary OpenPGP public-key packet (old format, tag 6) in base64, as `gpg --export | base64`.
PGP_KEY = base64.b64encode(bytes([0x99, 0x00, 0x0d, 0x04, 0x65, 0x00, 0x00, 0x00, 0x16]) + bytes(13)).decode()
SECRET_KEY_PACKET = base64.b64encode(bytes([0x95, 0x00, 0x0d, 0x04]) + bytes(13)).decode()

TARO = "  - email: taro@test1.com\n    name: Taro Yamada\n"
HANAKO = "  - email: hanako@test1.com\n"
PGP = TARO + f"    delivery: pgp\n    pgp_key: {PGP_KEY}\n"
SM = TARO + f"    delivery: secrets_manager\n    secret_readers: [{READER}]\n"


# --- PGP ------------------------------------------------------------------------------------

def plain_secrets_of(result, *key_names: str) -> list[str]:
    """Every plain form a key's secret could take: the secret key and SMTP passwords."""
    out = []
    for name in key_names:
        out += [fake_secret_key(name), derived_password(name), derived_password(name, "us-east-1")]
    return out


def test_pgp_delivery_stores_and_exports_only_encrypted_values(run):
    result = run(roster(PGP + HANAKO), region="eu-west-1")
    key = result.named("taro@test1.com-key")
    assert key.inputs == {"user": "smtp-taro@test1.com", "pgpKey": PGP_KEY}
    assert "secret" not in key.outputs and "sesSmtpPasswordV4" not in key.outputs  # the provider keeps none
    cred = result.outputs["smtp_credentials"]["taro@test1.com"]
    assert cred["delivery"] == "pgp" and "password" not in cred
    assert cred["encrypted_password"] == key.outputs["encryptedSesSmtpPasswordV4"]
    assert "encrypted_secret" not in cred and key.outputs["encryptedSecret"] not in json.dumps(result.outputs)
    assert set(cred) == {"username", "host", "port", "delivery", "key_fingerprint", "encrypted_password"}
    assert cred["username"] == key.id  # the key id
    assert cred["key_fingerprint"] == key.outputs["keyFingerprint"]
    assert "smtp_credentials" in result.secret_outputs
    # No plain secret of Taro's anywhere: inputs, outputs of every resource, every stack output.
    everything = everything_plain(result) + json.dumps(result.outputs)
    for secret in plain_secrets_of(result, "taro@test1.com-key"):
        assert secret not in everything
    assert result.outputs["credential_status"]["taro@test1.com"]["delivery"] == "pgp"
    # Others keep the default secret output.
    assert result.outputs["smtp_credentials"]["hanako@test1.com"]["password"] == derived_password("hanako@test1.com-key")


def test_pgp_during_rotation_encrypts_both_keys(run):
    result = run(roster(PGP + "    key: 2\n    previous_key: 1\n"))
    keys = by_name(result, KEY)
    assert {k.inputs.get("pgpKey") for k in keys.values()} == {PGP_KEY}
    cred = result.outputs["smtp_credentials"]["taro@test1.com"]
    assert cred["encrypted_password"] == keys["taro@test1.com-key-b"].outputs["encryptedSesSmtpPasswordV4"]


def test_pgp_suspended_exports_no_encrypted_password(run):
    result = run(roster(PGP + "    status: suspended\n"))
    cred = result.outputs["smtp_credentials"]["taro@test1.com"]
    assert cred["status"] == "suspended" and cred["password"] is None and "encrypted_password" not in cred


def test_keybase_keys_are_accepted(run):
    result = run(roster(TARO + "    delivery: pgp\n    pgp_key: keybase:taro_y\n"))
    assert result.named("taro@test1.com-key").inputs["pgpKey"] == "keybase:taro_y"


def test_pgp_refuses_an_ses_region_other_than_the_providers(write_roster):
    mocks = AwsMocks()
    with pytest.raises(pulumi.RunError) as caught:
        run_program(roster=write_roster(roster(PGP)), region="us-east-1",
                    config={"ses-mail:region": "eu-west-1"}, mocks=mocks)
    message = str(caught.value)
    assert "delivery pgp (taro@test1.com)" in message and "aws:region (us-east-1)" in message
    assert "SES sends from region eu-west-1 (argument `region`; stack config ses-mail:region)" in message
    assert mocks.registrations == []
    # The same regions without PGP are fine: the program derives the password itself.
    run_program(roster=write_roster(roster(TARO)), region="us-east-1", config={"ses-mail:region": "eu-west-1"})
    # And PGP with matching regions is fine.
    run_program(roster=write_roster(roster(PGP)), region="eu-west-1", config={"ses-mail:region": "eu-west-1"})


@pytest.mark.parametrize("key,words", [
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----", "is ASCII-armored"),
    ("not base64 at all!", "neither keybase:<username> nor a base64 PGP public key"),
    (base64.b64encode(b"hello world, not pgp").decode(), "does not decode to an OpenPGP packet"),
    (SECRET_KEY_PACKET, "not a public key"),
    ("keybase:", "is not a keybase user"),
])
def test_bad_pgp_keys_are_refused(key, words):
    text = roster(TARO + f"    delivery: pgp\n    pgp_key: '{key}'\n")
    with pytest.raises(RosterError) as caught:
        parse_roster(text, "roster.yaml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field, problem.value) == ("roster.yaml", 7, "people[0].pgp_key", key)
    assert words in problem.message


@pytest.mark.parametrize("people,defaults,line,field,words", [
    (TARO + "    delivery: pgp\n", "", 4, "people[0].pgp_key", "is required with delivery pgp (from people[0].delivery)"),
    (TARO, "  delivery: pgp\n", 6, "people[0].pgp_key", "is required with delivery pgp (from defaults.delivery)"),
    (TARO + f"    pgp_key: {PGP_KEY}\n", "", 6, "people[0].pgp_key", "only used with delivery pgp"),
    (TARO + "    delivery: email\n", "", 6, "people[0].delivery", "'output', 'pgp', 'secrets_manager' or 'rotation'"),
    (TARO + "    delivery: secrets_manager\n", "", 4, "people[0].secret_readers", "is required with delivery secrets_manager"),
    (TARO + f"    secret_readers: [{READER}]\n", "", 6, "people[0].secret_readers", "only used with delivery secrets_manager"),
    (TARO + "    delivery: secrets_manager\n    secret_readers: []\n", "", 7, "people[0].secret_readers", "is empty"),
    (TARO + "    delivery: secrets_manager\n    secret_readers: [arn:aws:iam::123456789012:root]\n", "", 7,
     "people[0].secret_readers[0]", "is a whole account"),
    (TARO + "    delivery: secrets_manager\n    secret_readers: ['arn:aws:sts::123456789012:assumed-role/r/s']\n", "", 7,
     "people[0].secret_readers[0]", "is a role session"),
    (TARO + "    delivery: secrets_manager\n    secret_readers: ['arn:aws:iam::123456789012:group/mail']\n", "", 7,
     "people[0].secret_readers[0]", "is an IAM group"),
    (TARO + "    delivery: secrets_manager\n    secret_readers: ['arn:aws:iam::123456789012:role/*']\n", "", 7,
     "people[0].secret_readers[0]", "contains a wildcard"),
    (TARO + "    delivery: secrets_manager\n    secret_readers: [mail-relay]\n", "", 7,
     "people[0].secret_readers[0]", "is not an IAM role or user ARN"),
    (TARO + f"    delivery: secrets_manager\n    secret_readers: [{READER}, {READER}]\n", "", 7,
     "people[0].secret_readers[1]", "is listed twice"),
    (TARO, "  secret_readers: [arn:aws:iam::1234:role/x]\n", 4, "defaults.secret_readers[0]", "is not an IAM role or user ARN"),
    (TARO, "  delivery: secrets_manager\n", 6, "people[0].secret_readers", "here or as defaults.secret_readers"),
])
def test_bad_delivery_fields_name_file_line_field_and_value(people, defaults, line, field, words):
    with pytest.raises(RosterError) as caught:
        parse_roster(roster(people, defaults), "roster.yaml")
    matching = [p for p in caught.value.problems if p.field == field and words in p.message]
    assert matching, [str(p) for p in caught.value.problems]
    assert (matching[0].file, matching[0].line) == ("roster.yaml", line), str(matching[0])


# --- Secrets Manager ------------------------------------------------------------------------

def test_secrets_manager_person_gets_a_secret_its_policy_and_value(run, raw_requests):
    result = run(roster(SM + HANAKO))
    secret = result.named("taro@test1.com-secret")
    assert secret.inputs == {
        "name": "ses-smtp/taro@test1.com",
        "description": "SES SMTP credential of taro@test1.com (host, port, username, password); managed by Pulumi",
        "recoveryWindowInDays": 0,
        "region": "eu-west-1",
        "tags": {"ses-mail:address": "taro@test1.com"},
    }  # no kmsKeyId: the account's aws/secretsmanager key
    policy = result.named("taro@test1.com-secret-policy")
    assert policy.inputs["secretArn"] == secret.outputs["arn"] and policy.inputs["blockPublicPolicy"] is True
    assert json.loads(policy.inputs["policy"]) == secret_read_policy([READER], DEFAULT_ADMINS)
    version = result.named("taro@test1.com-secret-value")
    assert version.inputs["secretId"] == secret.outputs["arn"]
    # The secret string is a secret Output when it reaches the engine, and holds the credential.
    assert raw_requests["taro@test1.com-secret-value"].secret_inputs == {"secretString"}
    content = json.loads(version.inputs["secretString"]["value"])
    assert content == {"address": "taro@test1.com", "host": "email-smtp.eu-west-1.amazonaws.com", "port": 587,
                       "starttls": True, "username": result.named("taro@test1.com-key").id,
                       "password": derived_password("taro@test1.com-key"), "status": "active", "key": 1}
    # Policy and value depend on the secret, so removing the person deletes them before it.
    secret_urn = result.options_of(secret).urn
    assert secret_urn in result.options_of(policy).dependencies
    assert secret_urn in result.options_of(version).dependencies


def test_secrets_manager_password_is_nowhere_but_in_the_secret_string(run):
    result = run(roster(SM + HANAKO))
    password = derived_password("taro@test1.com-key")
    cred = result.outputs["smtp_credentials"]["taro@test1.com"]
    assert "password" not in cred
    assert cred["delivery"] == "secrets_manager" and cred["secret_name"] == "ses-smtp/taro@test1.com"
    assert cred["secret_arn"] == result.named("taro@test1.com-secret").outputs["arn"]
    assert password not in json.dumps(result.outputs)
    for r in result.registrations:
        inputs = dict(r.inputs)
        if r.type == SECRET_VERSION:
            inputs.pop("secretString")
        assert password not in json.dumps(inputs, default=str), r.name
    assert result.outputs["credential_status"]["taro@test1.com"]["secret_name"] == "ses-smtp/taro@test1.com"


def test_suspended_secret_holds_no_password(run):
    result = run(roster(SM + "    status: suspended\n"))
    content = json.loads(result.named("taro@test1.com-secret-value").inputs["secretString"]["value"])
    assert content["status"] == "suspended" and content["password"] is None


def test_stack_default_readers_and_kms_key(run):
    other = f"arn:aws:iam::{ACCOUNT}:user/helpdesk"
    kms = "arn:aws:kms:eu-west-1:123456789012:key/0b2c3d4e-1111-2222-3333-444455556666"
    result = run(roster(TARO + HANAKO + f"    secret_readers: [{other}]\n",
                        f"  delivery: secrets_manager\n  secret_readers: [{READER}]\n"),
                 config={"ses-mail:secretsKmsKey": kms})
    readers = {name.removesuffix("-secret-policy"): json.loads(r.inputs["policy"])["Statement"][0]["Principal"]["AWS"]
               for name, r in by_name(result, SECRET_POLICY).items()}
    assert readers == {"taro@test1.com": [READER], "hanako@test1.com": [other]}
    assert {r.inputs["kmsKeyId"] for r in result.of_type(SECRET)} == {kms}


def deny_of(result) -> dict:
    return json.loads(result.named("taro@test1.com-secret-policy").inputs["policy"])["Statement"][1]


def test_admins_default_to_the_admin_path_of_the_account_and_can_be_configured(write_roster):
    path = write_roster(roster(SM))
    mocks = AwsMocks(region="eu-west-1", caller_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-run-42",
                     role_paths={"deployer": "/ses-mail-admin/"})
    result = run_program(roster=path, region="eu-west-1", mocks=mocks)
    assert deny_of(result)["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": sorted([READER, *DEFAULT_ADMINS])}}
    admins = f"arn:aws:iam::{ACCOUNT}:role/ci, arn:aws:iam::{ACCOUNT}:role/admin"
    result = run_program(roster=path, region="eu-west-1", config={"ses-mail:secretAdmins": admins})
    assert deny_of(result)["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == sorted(
        [READER, f"arn:aws:iam::{ACCOUNT}:role/ci", f"arn:aws:iam::{ACCOUNT}:role/admin"])
    with pytest.raises(pulumi.RunError, match="ses-mail:secretAdmins: 'root' is not an IAM role or user ARN"):
        run_program(roster=path, region="eu-west-1", config={"ses-mail:secretAdmins": "root"})


@pytest.mark.parametrize("preview", [False, True])
def test_the_secret_policy_is_the_same_whoever_runs_the_program(write_roster, preview):
    """A pull request's preview role and the deploy role plan the very same policy, so a preview
    shows no change to it (before, the Deny exempted whoever ran the program)."""
    path = write_roster(roster(SM))
    callers = [  # the deploy role under the admin path, a preview role, a person
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/gha-1", {"deploy": "/ses-mail-admin/"}),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/pulumi-preview/gha-2", {}),
        (f"arn:aws:iam::{ACCOUNT}:user/ses-mail-admin/alice", {}),
    ]
    listed = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deploy, arn:aws:iam::{ACCOUNT}:user/ses-mail-admin/alice"
    for config in ({}, {"ses-mail:secretAdmins": listed}):
        policies = []
        for caller, paths in callers:
            if not preview and "pulumi-preview" in caller:
                continue  # not a deployer: refused at `pulumi up` (next test)
            mocks = AwsMocks(region="eu-west-1", caller_arn=caller, role_paths=paths)
            result = run_program(roster=path, region="eu-west-1", config=config, mocks=mocks, preview=preview)
            policies.append(result.named("taro@test1.com-secret-policy").inputs["policy"])
        assert len(policies) >= 2 and len(set(policies)) == 1, (config, policies)
        assert "pulumi-preview" not in policies[0] and "gha-" not in policies[0]


def test_a_deployer_outside_the_exemption_is_refused_before_anything_is_registered(write_roster):
    path = write_roster(roster(SM))
    outsider = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/gha-1"  # role path "/": not an admin
    mocks = AwsMocks(region="eu-west-1", caller_arn=outsider)
    with pytest.raises(pulumi.RunError, match=rf"arn:aws:iam::{ACCOUNT}:role/deploy runs `pulumi up` but is not "
                                              r"exempt.*add it to ses-mail:secretAdmins, or deploy as a role or "
                                              r"user under the IAM path /ses-mail-admin/"):
        run_program(roster=path, region="eu-west-1", mocks=mocks)
    assert mocks.registrations == []
    # Listed explicitly, it deploys; a preview by it never needed the exemption.
    config = {"ses-mail:secretAdmins": f"arn:aws:iam::{ACCOUNT}:role/deploy"}
    run_program(roster=path, region="eu-west-1", config=config, mocks=AwsMocks(region="eu-west-1", caller_arn=outsider))
    run_program(roster=path, region="eu-west-1", preview=True, mocks=AwsMocks(region="eu-west-1", caller_arn=outsider))


def test_readers_in_another_account_need_a_customer_managed_key(write_roster):
    foreign = "arn:aws:iam::210987654321:role/partner-relay"
    path = write_roster(roster(TARO + f"    delivery: secrets_manager\n    secret_readers: [{foreign}]\n"))
    mocks = AwsMocks()
    with pytest.raises(pulumi.RunError, match="secret_readers in other accounts .*210987654321.*secretsKmsKey"):
        run_program(roster=path, region="eu-west-1", mocks=mocks)
    assert mocks.registrations == []
    run_program(roster=path, region="eu-west-1", config={"ses-mail:secretsKmsKey": "alias/ses-smtp"})


def test_nobody_uses_secrets_manager_so_nothing_is_looked_up(run):
    """Only the zone and who runs the program (the account in the identities' ARNs): no session
    context, which only the secrets' deployer check needs."""
    mocks = AwsMocks(region="eu-west-1")
    result = run(roster(TARO), mocks=mocks)
    assert not result.of_type(SECRET)
    assert sorted(t for t, _ in mocks.calls) == ["aws:index/getCallerIdentity:getCallerIdentity",
                                                 "aws:route53/getZone:getZone"]


def test_secret_names_follow_the_iam_path_and_hash_what_they_cannot_hold():
    assert secret_name("taro@test1.com") == "ses-smtp/taro@test1.com"
    odd = secret_name("o'brien!{x}@test1.com")
    assert odd.startswith("ses-smtp/o_brien__x_@test1.com=") and len(odd) == len("ses-smtp/o_brien__x_@test1.com=") + 10
    assert odd != secret_name("o_brien__x_@test1.com")


# --- the resource policy, evaluated ---------------------------------------------------------

POLICY = secret_read_policy([READER], DEFAULT_ADMINS)
SECRET_ARN = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:ses-smtp/taro@test1.com-AbCdEf"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}
NOTHING: list[dict] = []


def access(principal: str, identity: list[dict], action: str = "secretsmanager:GetSecretValue",
           policy: dict = POLICY) -> str:
    return decide_access(identity, policy, Request(action, SECRET_ARN, {"aws:PrincipalArn": principal}, principal),
                         resource_account=ACCOUNT)


def test_a_listed_reader_reads_without_any_identity_policy():
    assert access(READER, NOTHING) == "Allow"
    assert access(READER, NOTHING, "secretsmanager:DescribeSecret") == "Allow"


def test_a_listed_reader_may_do_nothing_else():
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy"):
        assert access(READER, NOTHING, action) == "ExplicitDeny"
        # not even with an identity policy of its own: the Deny on changes spares only admins
        assert access(READER, [ADMIN_POLICY], action) == "ExplicitDeny"


def test_an_unlisted_administrator_cannot_read_the_value():
    admin = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
    assert access(admin, [ADMIN_POLICY]) == "ExplicitDeny"
    assert access(admin, [ADMIN_POLICY], "secretsmanager:DescribeSecret") == "Allow"  # metadata only
    assert access(f"arn:aws:iam::{ACCOUNT}:user/someone", NOTHING) == "ExplicitDeny"


def test_the_deployer_keeps_reading_with_its_own_permission_only():
    assert access(DEPLOYER, [ADMIN_POLICY]) == "Allow"
    assert access(DEPLOYER, NOTHING) == "ImplicitDeny"
    assert access(f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deploy", [ADMIN_POLICY]) == "Allow"
    assert access(f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/team/deploy", [ADMIN_POLICY]) == "Allow"


@pytest.mark.parametrize("principal", [
    f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin",              # the path's name as a role name
    f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admins/deploy",      # a look-alike path
    f"arn:aws:iam::{ACCOUNT}:role/other/ses-mail-admin/deploy",  # the path further down
    f"arn:aws:iam::{ACCOUNT}:role/pulumi-preview",              # the PR preview role
    f"arn:aws:iam::{ACCOUNT}:group/ses-mail-admin/x",
    "arn:aws:iam::210987654321:role/ses-mail-admin/deploy",      # the path in another account
])
def test_only_the_admin_path_of_this_account_is_exempt(principal):
    assert access(principal, [ADMIN_POLICY]) == "ExplicitDeny"


def test_another_account_needs_both_its_own_permission_and_the_listing():
    partner = "arn:aws:iam::210987654321:role/partner-relay"
    policy = secret_read_policy([partner], DEFAULT_ADMINS)
    assert access(partner, NOTHING, policy=policy) == "ImplicitDeny"
    assert access(partner, [ADMIN_POLICY], policy=policy) == "Allow"
    stranger = "arn:aws:iam::210987654321:role/other"
    assert access(stranger, [ADMIN_POLICY], policy=policy) == "ExplicitDeny"


def test_the_deployed_secret_policy_is_the_evaluated_one(run):
    result = run(roster(SM))
    deployed = json.loads(result.named("taro@test1.com-secret-policy").inputs["policy"])
    assert access(READER, NOTHING, policy=deployed) == "Allow"
    assert access(f"arn:aws:iam::{ACCOUNT}:role/Administrator", [ADMIN_POLICY], policy=deployed) == "ExplicitDeny"


# --- the evaluator's additions, against the IAM User Guide's wording ------------------------

def test_arn_operators_match_segment_by_segment():
    from tests.iam_eval import _condition_holds
    role = "arn:aws:iam::123456789012:role/mail-relay"
    assert _condition_holds("ArnEquals", "aws:PrincipalArn", [role], {"aws:PrincipalArn": role})
    assert _condition_holds("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*:role/mail-*"], {"aws:PrincipalArn": role})
    # A wildcard stays within its colon-delimited component.
    assert not _condition_holds("ArnLike", "aws:PrincipalArn", ["arn:aws:*:role/mail-relay"], {"aws:PrincipalArn": role})
    assert not _condition_holds("ArnEquals", "aws:PrincipalArn", [role.upper()], {"aws:PrincipalArn": role})
    assert _condition_holds("ArnNotEquals", "aws:PrincipalArn", ["arn:aws:iam::123456789012:role/x"], {"aws:PrincipalArn": role})
    assert _condition_holds("ArnNotEquals", "aws:PrincipalArn", [role], {})  # absent key: Not operators hold


def test_principals_of_a_resource_policy():
    from tests.iam_eval import decide
    def stmt(principal):
        return {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "*", "Resource": "*"}]}
    me = Request("secretsmanager:GetSecretValue", "*", {}, READER)
    assert decide([stmt("*")], me) == "Allow"
    assert decide([stmt({"AWS": READER})], me) == "Allow"
    assert decide([stmt({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})], me) == "Allow"   # the account
    assert decide([stmt({"AWS": ACCOUNT})], me) == "Allow"
    assert decide([stmt({"AWS": "arn:aws:iam::210987654321:root"})], me) == "ImplicitDeny"
    assert decide([stmt({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"})], me) == "ImplicitDeny"
