"""Secrets resist administrators, and the admin exemption resists being joined.

The secret's resource policy (ses_mail.specs.iam_policy.secret_read_policy) is evaluated with
the caller's identity policy as IAM does within one account (tests/iam_eval.py::decide_access)
for three principals: a non-exempt administrator allowed `secretsmanager:*`, a listed reader,
and the deployer under the admin path. The SCP and permissions boundary shipped in policies/
are evaluated the same way.
"""
from __future__ import annotations

import json

import pytest

from ses_mail.roster.restrictions import normalize_iam_path
from ses_mail.specs.iam_policy import (SECRET_ADMIN_PATH, SECRET_GUARDED_ACTIONS, SECRET_VALUE_ACTIONS,
                                       check_not_admin_path, default_secret_admins, secret_read_policy)
from tests.conftest import PROJECT_DIR
from tests.iam_eval import Request, decide, decide_access

ACCOUNT = "123456789012"
READER = f"arn:aws:iam::{ACCOUNT}:role/mail-relay"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deploy"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
POLICY = secret_read_policy([READER], default_secret_admins(ACCOUNT))
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:ses-smtp/taro@test1.com-AbCdEf"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SECRETS_STAR = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}

#: The issue's list: every action that reads, changes, re-points, rotates or removes a value or its policy.
NAMED = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret",
         "secretsmanager:UpdateSecretVersionStage", "secretsmanager:RotateSecret",
         "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy", "secretsmanager:DeleteSecret"]
#: What the deployer's `pulumi up` calls on an existing secret (pulumi-aws Secret, SecretPolicy,
#: SecretVersion: create/read/update/delete, tags, and moving AWSCURRENT off a replaced version).
PULUMI_UP = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
             "secretsmanager:UpdateSecret", "secretsmanager:UpdateSecretVersionStage",
             "secretsmanager:ListSecretVersionIds", "secretsmanager:GetResourcePolicy",
             "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy",
             "secretsmanager:TagResource", "secretsmanager:UntagResource", "secretsmanager:DeleteSecret"]


def access(principal: str, identity: list[dict], action: str) -> str:
    return decide_access(identity, POLICY, Request(action, SECRET, {"aws:PrincipalArn": principal}, principal),
                         resource_account=ACCOUNT)


def test_the_deny_covers_every_action_the_issue_names():
    assert set(NAMED) <= set(SECRET_VALUE_ACTIONS) | set(SECRET_GUARDED_ACTIONS)


@pytest.mark.parametrize("action", sorted(set(NAMED) | set(SECRET_VALUE_ACTIONS) | set(SECRET_GUARDED_ACTIONS)))
@pytest.mark.parametrize("identity", [SECRETS_STAR, EVERYTHING], ids=["secretsmanager:*", "*"])
def test_a_non_exempt_administrator_is_denied_each_action(action, identity):
    assert access(ADMIN, [identity], action) == "ExplicitDeny"
    # a look-alike of the admin path is not it
    assert access(f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admins/x", [identity], action) == "ExplicitDeny"


def test_an_administrator_cannot_delete_the_policy_and_then_read():
    assert access(ADMIN, [SECRETS_STAR], "secretsmanager:DeleteResourcePolicy") == "ExplicitDeny"
    assert access(ADMIN, [SECRETS_STAR], "secretsmanager:PutResourcePolicy") == "ExplicitDeny"
    assert access(ADMIN, [SECRETS_STAR], "secretsmanager:PutSecretValue") == "ExplicitDeny"  # no re-pointing host


@pytest.mark.parametrize("action", sorted(set(SECRET_GUARDED_ACTIONS) | {"secretsmanager:ListSecretVersionIds"}))
def test_a_reader_reads_and_nothing_else(action):
    assert access(READER, [], "secretsmanager:GetSecretValue") == "Allow"
    assert access(READER, [], "secretsmanager:DescribeSecret") == "Allow"
    # Without an identity policy, nothing else; with `secretsmanager:*`, still no change.
    assert access(READER, [], action) != "Allow"
    if action in SECRET_GUARDED_ACTIONS:
        assert access(READER, [SECRETS_STAR], action) == "ExplicitDeny"


@pytest.mark.parametrize("action", PULUMI_UP)
def test_the_deployer_may_do_what_pulumi_up_needs(action):
    assert access(DEPLOYER, [SECRETS_STAR], action) == "Allow"
    assert access(DEPLOYER, [], action) == "ImplicitDeny"  # with its own identity permission only


def test_for_every_person_of_a_generated_roster_no_administrator_reads_or_alters():
    for i in range(50):
        readers = [f"arn:aws:iam::{ACCOUNT}:role/reader-{i}", f"arn:aws:iam::{ACCOUNT}:user/ops/reader-{i}"]
        policy = secret_read_policy(readers, default_secret_admins(ACCOUNT))
        for action in (*SECRET_VALUE_ACTIONS, *SECRET_GUARDED_ACTIONS):
            request = Request(action, SECRET, {"aws:PrincipalArn": ADMIN}, ADMIN)
            assert decide_access([EVERYTHING], policy, request, resource_account=ACCOUNT) == "ExplicitDeny"
            other_reader = f"arn:aws:iam::{ACCOUNT}:role/reader-{i + 1}"
            request = Request(action, SECRET, {"aws:PrincipalArn": other_reader}, other_reader)
            assert decide_access([EVERYTHING], policy, request, resource_account=ACCOUNT) == "ExplicitDeny"


# --- the SMTP users' path is never the admin path -------------------------------------------

@pytest.mark.parametrize("path", [SECRET_ADMIN_PATH, SECRET_ADMIN_PATH + "smtp/", " /ses-mail-admin/ "])
def test_an_iam_path_at_or_under_the_admin_path_is_refused(path):
    with pytest.raises(ValueError, match="secret admin path"):
        normalize_iam_path(path)


@pytest.mark.parametrize("path", ["/ses-smtp/", "/ses-mail-admins/", "/x/ses-mail-admin/", "/SES-MAIL-ADMIN/", "/"])
def test_other_iam_paths_are_accepted(path):
    assert normalize_iam_path(path) == path == check_not_admin_path(path)



# --- the SCP and permissions boundary shipped in policies/ ----------------------------------

SCP = json.loads((PROJECT_DIR / "policies" / "admin-path-guard.scp.json").read_text())
BOUNDARY = json.loads((PROJECT_DIR / "policies" / "admin-path-guard.boundary.json").read_text())
GUARDED_IAM = ["iam:CreateUser", "iam:CreateRole", "iam:UpdateUser", "iam:UpdateAssumeRolePolicy",
               "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:PutRolePolicy", "iam:PutUserPolicy",
               "iam:AttachRolePolicy", "iam:AttachUserPolicy"]
UNDER = {"user": f"arn:aws:iam::{ACCOUNT}:user/ses-mail-admin/mallory",
         "role": f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deploy"}
ELSEWHERE = {"user": f"arn:aws:iam::{ACCOUNT}:user/ops/mallory", "role": f"arn:aws:iam::{ACCOUNT}:role/ops/app"}


def kind(action: str) -> str:
    return "role" if "Role" in action else "user"


def scp_decides(principal: str, action: str, resource: str) -> str:
    """An SCP only ever limits: the request is allowed only if the SCP does not deny it and the
    identity policy (here: everything, an account administrator) allows it."""
    request = Request(action, resource, {"aws:PrincipalArn": principal}, principal)
    if decide([SCP], request) == "ExplicitDeny":
        return "ExplicitDeny"
    return decide([EVERYTHING], request)


@pytest.mark.parametrize("action", GUARDED_IAM)
def test_the_scp_stops_an_account_administrator_joining_or_taking_over_the_admin_path(action):
    assert scp_decides(ADMIN, action, UNDER[kind(action)]) == "ExplicitDeny"
    # ...also moving a user into the path: IAM authorises UpdateUser on the target ARN too
    assert scp_decides(ADMIN, action, UNDER[kind(action)].replace("/mallory", "/team/mallory")) == "ExplicitDeny"
    # and leaves every other path alone
    assert scp_decides(ADMIN, action, ELSEWHERE[kind(action)]) == "Allow"


@pytest.mark.parametrize("action", GUARDED_IAM)
def test_admins_already_under_the_path_still_manage_it(action):
    assert scp_decides(DEPLOYER, action, UNDER[kind(action)]) == "Allow"


def test_the_scp_lists_every_action_the_issue_names():
    (statement,) = SCP["Statement"]
    assert set(GUARDED_IAM) <= set(statement["Action"])


def boundary_decides(principal: str, action: str, resource: str, **context) -> str:
    """A permissions boundary caps the identity policy: both must allow, a Deny in either wins."""
    request = Request(action, resource, {"aws:PrincipalArn": principal, **context}, principal)
    bounded = decide([BOUNDARY], request)
    if "ExplicitDeny" in (bounded, decide([EVERYTHING], request)):
        return "ExplicitDeny"
    return "Allow" if bounded == "Allow" else "ImplicitDeny"


BOUND = "arn:aws:iam::123456789012:policy/ses-mail-admin-path-guard"


@pytest.mark.parametrize("action", GUARDED_IAM)
def test_the_boundary_stops_a_bounded_administrator_too(action):
    context = {"iam:PermissionsBoundary": BOUND}
    assert boundary_decides(ADMIN, action, UNDER[kind(action)], **context) == "ExplicitDeny"
    assert boundary_decides(ADMIN, action, ELSEWHERE[kind(action)], **context) == "Allow"


def test_a_bounded_administrator_cannot_escape_the_boundary():
    # a new principal without the boundary (or with another), or lifting/swapping a boundary
    for action in ("iam:CreateUser", "iam:CreateRole"):
        assert boundary_decides(ADMIN, action, ELSEWHERE[kind(action)]) == "ExplicitDeny"
        other = "arn:aws:iam::123456789012:policy/anything"
        assert boundary_decides(ADMIN, action, ELSEWHERE[kind(action)], **{"iam:PermissionsBoundary": other}) \
            == "ExplicitDeny"
    for action in ("iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"):
        assert boundary_decides(ADMIN, action, f"arn:aws:iam::{ACCOUNT}:role/{ADMIN.rsplit('/', 1)[1]}") \
            == "ExplicitDeny"
    assert boundary_decides(ADMIN, "iam:CreatePolicyVersion", BOUND) == "ExplicitDeny"
