"""The rotation mode's policies, evaluated (tests/iam_eval.py): the function's role, who may invoke
the function, and the secret's resource policy; and the limits of its schedule and names."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_mail.specs.iam_policy import default_secret_admins
from ses_mail.specs.naming import IAM_USER_PATH, iam_user_name, secret_name
from ses_mail.specs import rotation_policy as rp
from tests.iam_eval import Request, allows, decide, decide_access, decide_service

ACCOUNT, OTHER_ACCOUNT, REGION = "123456789012", "210987654321", "eu-west-1"
STACK = rp.stack_tag_value("ses-mail", "prod")
FUNCTION = rp.function_name("ses-mail", "prod")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-prod-smtp-rotation-role"
ROLE_POLICY = rp.function_role_policy(account_id=ACCOUNT, region=REGION, stack=STACK, function=FUNCTION)


def user_arn(name: str, path: str = IAM_USER_PATH) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


def secret_arn(name: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"


TARO_USER = user_arn(iam_user_name("taro@test1.com"))
TARO_SECRET = secret_arn(secret_name("taro@test1.com"))
OWN_TAG = {f"aws:ResourceTag/{rp.TAG_STACK}": STACK}


@pytest.mark.parametrize("action", rp.KEY_ACTIONS)
def test_the_function_manages_keys_of_smtp_users(action):
    assert allows(ROLE_POLICY, Request(action, TARO_USER))


@pytest.mark.parametrize("user", [user_arn("admin", "/"), user_arn("smtp-taro@test1.com", "/other/"),
                                  user_arn("x", "/ses-smtp-evil/"), f"arn:aws:iam::{OTHER_ACCOUNT}:user/ses-smtp/x"])
def test_no_key_action_on_a_user_outside_the_path(user):
    assert not any(allows(ROLE_POLICY, Request(a, user)) for a in rp.KEY_ACTIONS)


@pytest.mark.parametrize("action", ["iam:CreateUser", "iam:PutUserPolicy", "iam:AttachUserPolicy", "iam:DeleteUser",
                                    "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:TagUser",
                                    "iam:DeleteUserPolicy", "iam:PutUserPermissionsBoundary", "iam:PassRole",
                                    "iam:CreateAccessKeys", "iam:*"])
def test_no_other_iam_action_even_on_smtp_users(action):
    assert not allows(ROLE_POLICY, Request(action, TARO_USER))


@pytest.mark.parametrize("action", rp.ROTATION_SECRET_ACTIONS)
def test_the_function_rotates_this_stacks_secrets(action):
    assert allows(ROLE_POLICY, Request(action, TARO_SECRET, OWN_TAG))


@pytest.mark.parametrize("resource,context", [
    (secret_arn("prod/database"), OWN_TAG),                                   # another secret, even tagged
    (TARO_SECRET, {f"aws:ResourceTag/{rp.TAG_STACK}": "ses-mail/dev"}),       # another stack's
    (TARO_SECRET, {}),                                                         # untagged
    (secret_arn(secret_name("taro@test1.com"), region="us-east-1"), OWN_TAG),  # another region
    (secret_arn(secret_name("taro@test1.com"), account=OTHER_ACCOUNT), OWN_TAG),
])
def test_no_secret_action_on_another_secret(resource, context):
    assert not any(allows(ROLE_POLICY, Request(a, resource, context)) for a in rp.ROTATION_SECRET_ACTIONS)


@pytest.mark.parametrize("action", ["secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy",
                                    "secretsmanager:RotateSecret", "secretsmanager:CreateSecret",
                                    "secretsmanager:TagResource", "secretsmanager:ListSecrets"])
def test_no_management_of_its_own_secrets(action):
    assert not allows(ROLE_POLICY, Request(action, TARO_SECRET, OWN_TAG))


def test_logs_only_to_its_own_group():
    own = rp.log_group_arn(REGION, ACCOUNT, FUNCTION) + ":log-stream:2026/01/01/[$LATEST]abc"
    assert all(allows(ROLE_POLICY, Request(a, own)) for a in rp.LOG_ACTIONS)
    other = rp.log_group_arn(REGION, ACCOUNT, "someone-else") + ":log-stream:x"
    assert not any(allows(ROLE_POLICY, Request(a, other)) for a in rp.LOG_ACTIONS)
    assert not allows(ROLE_POLICY, Request("logs:CreateLogGroup", rp.log_group_arn(REGION, ACCOUNT, FUNCTION)))
    assert not allows(ROLE_POLICY, Request("logs:DeleteLogGroup", rp.log_group_arn(REGION, ACCOUNT, FUNCTION)))


def test_nothing_else():
    """Every action the policy names is one of the three groups: no wildcard action, no other service."""
    named = {a for s in ROLE_POLICY["Statement"] for a in s["Action"]}
    assert named == {*rp.KEY_ACTIONS, *rp.ROTATION_SECRET_ACTIONS, *rp.LOG_ACTIONS}
    assert all("*" not in a for a in named) and all("NotAction" not in s for s in ROLE_POLICY["Statement"])
    for action, resource in [("s3:GetObject", "arn:aws:s3:::bucket/key"), ("ses:SendRawEmail", "*"),
                             ("kms:Decrypt", "*"), ("sts:AssumeRole", "*"), ("lambda:InvokeFunction", "*")]:
        assert not allows(ROLE_POLICY, Request(action, resource))


def test_a_customer_managed_key_only_through_secrets_manager():
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234"
    policy = rp.function_role_policy(account_id=ACCOUNT, region=REGION, stack=STACK, function=FUNCTION,
                                     kms_key_arn=key)
    via = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    assert allows(policy, Request("kms:Decrypt", key, via))
    assert not allows(policy, Request("kms:Decrypt", key, {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}))
    assert not allows(policy, Request("kms:Decrypt", key))
    assert not allows(policy, Request("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/other", via))


def test_only_lambda_of_this_account_assumes_the_role():
    trust = rp.assume_role_policy(ACCOUNT)
    # A trust policy has no Resource element: the role is the resource.
    trust = {**trust, "Statement": [{**s, "Resource": "*"} for s in trust["Statement"]]}
    ok = Request("sts:AssumeRole", ROLE, {"aws:SourceAccount": ACCOUNT}, service="lambda.amazonaws.com")
    assert decide_service(trust, ok) == "Allow"
    assert decide_service(trust, Request("sts:AssumeRole", ROLE, {"aws:SourceAccount": OTHER_ACCOUNT},
                                         service="lambda.amazonaws.com")) != "Allow"
    assert decide_service(trust, Request("sts:AssumeRole", ROLE, {"aws:SourceAccount": ACCOUNT},
                                         service="ec2.amazonaws.com")) != "Allow"


# --- who may invoke the function

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
INVOKE = rp.invoke_statement(FUNCTION_ARN, rp.invoke_permission(account_id=ACCOUNT, region=REGION))


def invoke(service="secretsmanager.amazonaws.com", account=ACCOUNT, source=TARO_SECRET):
    return Request("lambda:InvokeFunction", FUNCTION_ARN, {"aws:SourceAccount": account, "aws:SourceArn": source},
                   service=service)


def test_secrets_manager_invokes_it_for_this_stacks_secrets():
    assert decide_service(INVOKE, invoke()) == "Allow"


@pytest.mark.parametrize("request_", [
    invoke(service="events.amazonaws.com"),
    invoke(service="s3.amazonaws.com"),
    invoke(account=OTHER_ACCOUNT, source=secret_arn("ses-smtp/x@y.com", account=OTHER_ACCOUNT)),
    invoke(source=secret_arn("prod/database")),
    invoke(source=secret_arn(secret_name("taro@test1.com"), region="us-east-1")),
])
def test_nobody_else_invokes_it(request_):
    assert decide_service(INVOKE, request_) != "Allow"


def test_no_principal_of_the_account_invokes_it_through_this_policy():
    assert decide([INVOKE], Request("lambda:InvokeFunction", FUNCTION_ARN, {},
                                    principal=f"arn:aws:iam::{ACCOUNT}:user/someone")) == "ImplicitDeny"


# --- the secret's resource policy in this mode

READER = f"arn:aws:iam::{ACCOUNT}:role/relay"
ADMINS = default_secret_admins(ACCOUNT)
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deploy"
ADMIN_ANYWHERE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SECRET_POLICY = rp.rotation_secret_policy([READER], ADMINS, ROLE)
ROLE_IDENTITY = [ROLE_POLICY]


def on_secret(action: str, principal: str, identity) -> str:
    return decide_access(identity, SECRET_POLICY,
                         Request(action, TARO_SECRET, {"aws:PrincipalArn": principal, **OWN_TAG}, principal),
                         resource_account=ACCOUNT)


def test_the_reader_and_the_function_read_the_value():
    assert on_secret("secretsmanager:GetSecretValue", READER, []) == "Allow"
    assert on_secret("secretsmanager:GetSecretValue", ROLE, ROLE_IDENTITY) == "Allow"


def test_the_deployers_manage_but_never_read_the_value():
    for action in ("secretsmanager:RotateSecret", "secretsmanager:PutResourcePolicy", "secretsmanager:TagResource",
                   "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret"):
        assert on_secret(action, DEPLOYER, [ADMIN_ANYWHERE]) == "Allow", action
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                   "secretsmanager:UpdateSecretVersionStage"):
        assert on_secret(action, DEPLOYER, [ADMIN_ANYWHERE]) == "ExplicitDeny", action


def test_an_administrator_outside_the_admins_neither_reads_nor_manages():
    admin = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                   "secretsmanager:RotateSecret", "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteSecret"):
        assert on_secret(action, admin, [ADMIN_ANYWHERE]) == "ExplicitDeny", action


def test_the_reader_cannot_write_or_manage():
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
                   "secretsmanager:RotateSecret", "secretsmanager:PutResourcePolicy"):
        assert on_secret(action, READER, [ADMIN_ANYWHERE]) == "ExplicitDeny", action


def test_only_the_function_writes_versions():
    assert on_secret("secretsmanager:PutSecretValue", ROLE, ROLE_IDENTITY) == "Allow"
    assert on_secret("secretsmanager:UpdateSecretVersionStage", ROLE, ROLE_IDENTITY) == "Allow"
    assert on_secret("secretsmanager:RotateSecret", ROLE, [ADMIN_ANYWHERE]) == "ExplicitDeny"


def test_a_rotated_secret_needs_readers_and_admins():
    with pytest.raises(ValueError):
        rp.rotation_secret_policy([], ADMINS, ROLE)
    with pytest.raises(ValueError):
        rp.rotation_secret_policy([READER], [], ROLE)


# --- schedule, names, tags


@pytest.mark.parametrize("days,hours", [(30, 24), (1, 23), (1000, 24)])
def test_a_schedule_after_the_grace_period_is_accepted(days, hours):
    rp.check_schedule(days, hours)


@pytest.mark.parametrize("days,hours", [(1, 24), (0, 1), (1001, 24), (30, 0), (2, 72)])
def test_a_schedule_that_could_need_a_third_key_is_refused(days, hours):
    with pytest.raises(ValueError):
        rp.check_schedule(days, hours)


def test_function_names_fit_lambda():
    assert rp.function_name("ses-mail", "prod") == "ses-mail-prod-smtp-rotation"
    long = rp.function_name("ses-mail", "a-very-long-stack-name-for-the-organisation-production-eu")
    assert len(long) <= 64 and long != rp.function_name("ses-mail", "a-very-long-stack-name-for-the-organisation-production-e")
    odd = rp.function_name("ses-mail", "prod.eu")
    assert all(c.isalnum() or c in "-_" for c in odd) and odd != rp.function_name("ses-mail", "prod-eu")


@given(project=st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True),
       stack=st.from_regex(r"[A-Za-z0-9_.-]{1,60}", fullmatch=True))
def test_every_function_name_is_one_the_deploy_role_may_create(project, stack):
    """policies/deploy-role.json allows functions and log groups named `ses-mail-*` only: a
    component in another project gets `ses-mail-<project>-…`, still within Lambda's 64 characters."""
    name = rp.function_name(project, stack)
    assert name.startswith("ses-mail-") and len(name) <= 64
    assert rp.function_name("acme", "prod") == "ses-mail-acme-prod-smtp-rotation"


def test_tags_name_the_person_and_the_stack():
    tags = rp.rotation_secret_tags("o'brien@test1.com", iam_user_name("o'brien@test1.com"), REGION, STACK,
                                   suspended=True, legacy_key="AKIAOLD")
    assert tags[rp.TAG_ADDRESS] == "o=27brien@test1.com" and tags[rp.TAG_STACK] == STACK
    assert tags[rp.TAG_STATUS] == "suspended" and tags[rp.TAG_LEGACY_KEY] == "AKIAOLD"
    assert rp.TAG_STATUS not in rp.rotation_secret_tags("a@b.c", "smtp-a@b.c", REGION, STACK)
