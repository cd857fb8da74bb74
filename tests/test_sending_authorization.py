"""The identity-policy judge (ses_mail.specs.sending_authorization) against the IAM evaluator.

Planted sending-authorization policies, each judged by the product's conservative judge and
evaluated by tests/iam_eval.py for probe principals asking to send as a colleague: the judge
must flag every policy under which the evaluator lets a principal other than this account as a
whole send (no false negative), and flag none of the clean controls.
"""
from __future__ import annotations

import copy

import pytest

from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from ses_mail.specs.sending_authorization import SEND_ACTIONS, identity_send_grants, send_grants
from tests.iam_eval import Request, decide_access

ACCOUNT, OTHER = "123456789012", "999999999999"
IDENTITY = identity_arn("eu-west-1", ACCOUNT, "test1.com")
TARO = f"arn:aws:iam::{ACCOUNT}:user/ses-smtp/smtp-taro@test1.com"
#: (principal ARN, its identity policies): someone in another account allowed everything by their
#: own account; someone in this account with no SES permission; the stack's own SMTP user, whose
#: send policy allows only his own From.
PROBES = [
    (f"arn:aws:iam::{OTHER}:user/mallory", [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}]),
    (f"arn:aws:iam::{ACCOUNT}:user/intruder", []),
    (TARO, [send_as_policy("taro@test1.com", IDENTITY)]),
]
CONTEXT = {"ses:FromAddress": "hanako@test1.com", "aws:SourceIp": "198.51.100.7"}


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(principal, action="ses:SendRawEmail", **extra):
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": IDENTITY, **extra}


PERMISSIVE = {
    "everyone": _policy(_allow("*")),
    "everyone-aws": _policy(_allow({"AWS": "*"}, "ses:Send*")),
    "other-account-id": _policy(_allow({"AWS": OTHER}, "ses:SendEmail")),
    "other-account-root": _policy(_allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, "ses:*")),
    "other-account-user": _policy(_allow({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{OTHER}:user/mallory"]})),
    "own-account-user": _policy(_allow({"AWS": f"arn:aws:iam::{ACCOUNT}:user/intruder"})),
    "stack-user-without-from-pin": _policy(_allow({"AWS": TARO})),
    "everyone-with-a-condition": _policy(_allow("*", Condition={"StringEquals": {"ses:FromAddress": "hanako@test1.com"}})),
    "not-action": _policy({"Effect": "Allow", "Principal": "*", "NotAction": "ses:GetEmailIdentity", "Resource": "*"}),
    "deny-then-allow": _policy({"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "ses:*", "Resource": "*"},
                               _allow("*", ["ses:SendRawEmail", "ses:SendEmail"])),
}
CLEAN = {
    "deny-only": _policy({"Effect": "Deny", "Principal": "*", "Action": "ses:*", "Resource": "*"}),
    "own-account-root": _policy(_allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
    "own-account-id": _policy(_allow({"AWS": ACCOUNT}, ["ses:SendEmail", "ses:SendRawEmail"])),
    "no-send-action": _policy(_allow("*", "ses:GetEmailIdentity")),
    "not-action-every-send": _policy({"Effect": "Allow", "Principal": "*", "NotAction": "ses:Send*", "Resource": "*"}),
}


def _without_own_account(policy):
    """The account principal delegates to the account's IAM policies (IAM User Guide, Principal:
    "AWS account principals"), which iam_eval models as matching every principal of the account;
    the account's own IAM is the program's to control, so it is taken out before evaluating."""
    own = {ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"}
    policy = copy.deepcopy(policy)
    kept = []
    for statement in policy["Statement"]:
        principal = statement.get("Principal")
        if isinstance(principal, dict) and "AWS" in principal:
            entries = principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]]
            entries = [e for e in entries if e not in own]
            if not entries:
                continue
            statement["Principal"] = {"AWS": entries}
        kept.append(statement)
    policy["Statement"] = kept
    return policy


def evaluator_lets_someone_send(policy) -> list[tuple[str, str]]:
    """(principal, action) pairs the evaluator allows to send From a colleague with `policy` on the identity."""
    resource_policy = _without_own_account(policy)
    allowed = []
    for principal, identity_policies in PROBES:
        for action in SEND_ACTIONS:
            request = Request(action, IDENTITY, dict(CONTEXT), principal=principal)
            if decide_access(identity_policies, resource_policy, request, resource_account=ACCOUNT) == "Allow":
                allowed.append((principal, action))
    return allowed


def test_probes_alone_cannot_send_as_a_colleague():
    """Without any identity policy nobody of the probes sends From hanako: what follows is the policy's doing."""
    assert evaluator_lets_someone_send(_policy()) == []


@pytest.mark.parametrize("name", sorted(PERMISSIVE))
def test_permissive_policies_are_flagged_and_the_evaluator_agrees(name):
    policy = PERMISSIVE[name]
    grants = send_grants(name, policy, ACCOUNT)
    assert grants, f"{name} lets someone send but was not flagged"
    assert {g.policy for g in grants} == {name}
    assert evaluator_lets_someone_send(policy), f"{name}: the evaluator finds nobody it lets send"


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_controls_are_not_flagged_and_the_evaluator_agrees(name):
    policy = CLEAN[name]
    assert send_grants(name, policy, ACCOUNT) == []
    assert evaluator_lets_someone_send(policy) == []


def test_the_judge_never_misses_what_the_evaluator_allows():
    """Every statement alone, of every planted policy: evaluator allows someone => judge flags it."""
    for name, policy in {**PERMISSIVE, **CLEAN}.items():
        for statement in policy["Statement"]:
            single = _policy(statement)
            if evaluator_lets_someone_send(single):
                assert send_grants(name, single, ACCOUNT), (name, statement)


def test_what_the_evaluator_cannot_model_is_flagged_anyway():
    """NotPrincipal, service and federated principals, no Principal, a document SES would not
    hold: the judge counts each as a grant rather than guess."""
    for policy in (
            _policy({"Effect": "Allow", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "ses:SendRawEmail", "Resource": "*"}),
            _policy(_allow({"Service": "ses.amazonaws.com"})),
            _policy(_allow({"Federated": "cognito-identity.amazonaws.com"})),
            _policy({"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}),
            _policy({"Effect": "allow", "Principal": "*", "Action": "ses:SendRawEmail", "Resource": "*"}),
            "{not json", {"Version": "2012-10-17"}):
        assert send_grants("p", policy, ACCOUNT), policy


def test_every_policy_of_an_identity_is_judged_as_json_text():
    import json

    policies = {"b-open": json.dumps(PERMISSIVE["everyone"]), "a-fine": json.dumps(CLEAN["own-account-root"]),
                "c-cross": json.dumps(PERMISSIVE["other-account-id"])}
    grants = identity_send_grants(policies, ACCOUNT)
    assert [g.policy for g in grants] == ["b-open", "c-cross"]
    assert grants[0].principals == ("*",) and grants[1].principals == (OTHER,)
    assert identity_send_grants({}, ACCOUNT) == identity_send_grants(None, ACCOUNT) == []
