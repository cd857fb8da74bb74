"""CredentialRotation under the Pulumi mocks, standalone: what it registers, and that nothing it
registers or exports is a key or a secret value."""
from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from ses_mail.review.emulation import ACCOUNT_ID, AwsMocks
from ses_mail.review.engine import install_mocks
from ses_mail.specs.iam_policy import default_secret_admins
from ses_mail.specs.naming import iam_user_name, secret_name
from ses_mail.specs import rotation_policy as rp

REGION = "eu-west-1"
STACK = "unit"
READER = f"arn:aws:iam::{ACCOUNT_ID}:role/relay"
SECRET_KEYS = {"secretString", "secretBinary", "secret", "sesSmtpPasswordV4", "password", "encryptedSecret",
               "encryptedSesSmtpPasswordV4"}


def run_component(people, **args) -> tuple[list, dict, dict[str, Any]]:
    """Register a CredentialRotation; (registrations, options by (type, name), {output: (value, secret)})."""
    mocks = AwsMocks(region=REGION)
    monitor = install_mocks({"aws:region": REGION}, STACK, mocks)
    from ses_mail.components.rotation import CredentialRotation, CredentialRotationArgs
    seen: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        rotation = CredentialRotation("smtp-rotation", CredentialRotationArgs(region=REGION, people=people, **args))
        exposed = {"function_arn": rotation.function_arn, "role_arn": rotation.role_arn,
                   **{f"secret:{a}": p.secret.arn for a, p in rotation.people.items()}}

        async def secrecy():
            return {k: await v.is_secret() for k, v in exposed.items()}

        def record(values):
            *plain, secret_flags = values
            seen.update({k: (v, secret_flags[k]) for k, v in zip(exposed, plain, strict=True)})
        return pulumi.Output.all(*exposed.values(), pulumi.Output.from_input(secrecy())).apply(record)

    program()
    return mocks.registrations, dict(monitor.options), seen



def people():
    from ses_mail.components.rotation import RotatedPerson
    return [RotatedPerson("taro@test1.com", (READER,)),
            RotatedPerson("hanako@test1.com", (READER,), suspended=True),
            RotatedPerson("jiro@test1.com", (READER,), legacy_key="AKIAFAKELEGACY000001")]


@pytest.fixture(scope="module")
def registered():
    return run_component(people())


def by_type(registrations, type_):
    return [r for r in registrations if r.type == type_]


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
            yield path + "." + k, k, v
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def test_no_key_no_secret_value_and_no_secret_output(registered):
    registrations, _, exposed = registered
    types = {r.type for r in registrations}
    assert "aws:iam/accessKey:AccessKey" not in types
    assert "aws:secretsmanager/secretVersion:SecretVersion" not in types
    for r in registrations:
        for where in (r.inputs, r.outputs):
            leaked = [p for p, key, _ in _walk(where) if key in SECRET_KEYS]
            assert leaked == [], f"{r.type} {r.name}: {leaked}"
    assert exposed and not any(secret for _, secret in exposed.values())


def test_the_function_runs_the_packaged_handler_on_a_current_python(registered):
    registrations, options, _ = registered
    (function,) = by_type(registrations, "aws:lambda/function:Function")
    assert function.inputs["runtime"] == "python3.14" and function.inputs["handler"] == "handler.lambda_handler"
    assert function.inputs["name"] == rp.function_name("ses-mail", STACK)
    assert function.inputs["timeout"] > 240 and function.inputs["environment"]["variables"] == {
        "SES_MAIL_GRACE_HOURS": "24", "SES_MAIL_SMTP_TEST_SECONDS": "240"}
    # The asset is the package's handler file, alone.
    from ses_mail.components.rotation import HANDLER_FILE
    assets = function.inputs["code"].assets
    assert list(assets) == ["handler.py"] and assets["handler.py"].path == str(HANDLER_FILE)
    assert HANDLER_FILE.read_text(encoding="utf-8").startswith('"""Secrets Manager rotation function')
    (log_group,) = by_type(registrations, "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"
    deps = options[("aws:lambda/function:Function", function.name)].dependencies
    assert any(d.endswith("::smtp-rotation-logs") for d in deps)
    assert any(d.endswith("::smtp-rotation-role-policy") for d in deps)


def test_the_deployed_policies_are_the_evaluated_ones(registered):
    registrations, _, _ = registered
    (role,) = by_type(registrations, "aws:iam/role:Role")
    (policy,) = by_type(registrations, "aws:iam/rolePolicy:RolePolicy")
    stack = rp.stack_tag_value("ses-mail", STACK)
    assert json.loads(policy.inputs["policy"]) == rp.function_role_policy(
        account_id=ACCOUNT_ID, region=REGION, stack=stack, function=rp.function_name("ses-mail", STACK))
    assert json.loads(role.inputs["assumeRolePolicy"]) == rp.assume_role_policy(ACCOUNT_ID)
    (permission,) = by_type(registrations, "aws:lambda/permission:Permission")
    expected = rp.invoke_permission(account_id=ACCOUNT_ID, region=REGION)
    assert {k: permission.inputs[k] for k in ("action", "principal", "sourceAccount", "sourceArn")} == {
        "action": expected["action"], "principal": expected["principal"],
        "sourceAccount": expected["source_account"], "sourceArn": expected["source_arn"]}
    # The only path the deploy role may create and pass roles under (policies/deploy-role.json).
    assert role.inputs["path"] == "/ses-mail-rotation/"
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/ses-mail-rotation/{role.inputs['name']}"
    for secret_policy in by_type(registrations, "aws:secretsmanager/secretPolicy:SecretPolicy"):
        assert json.loads(secret_policy.inputs["policy"]) == rp.rotation_secret_policy(
            [READER], default_secret_admins(ACCOUNT_ID), role_arn)
        assert secret_policy.inputs["blockPublicPolicy"] is True


def test_each_person_has_a_tagged_secret_and_a_schedule_after_its_policy(registered):
    registrations, options, _ = registered
    secrets = {r.inputs["name"]: r for r in by_type(registrations, "aws:secretsmanager/secret:Secret")}
    assert set(secrets) == {secret_name(a) for a in ("taro@test1.com", "hanako@test1.com", "jiro@test1.com")}
    taro = secrets[secret_name("taro@test1.com")].inputs["tags"]
    assert taro[rp.TAG_USER] == iam_user_name("taro@test1.com") and taro[rp.TAG_REGION] == REGION
    assert taro[rp.TAG_STACK] == rp.stack_tag_value("ses-mail", STACK) and rp.TAG_STATUS not in taro
    assert secrets[secret_name("hanako@test1.com")].inputs["tags"][rp.TAG_STATUS] == "suspended"
    assert secrets[secret_name("jiro@test1.com")].inputs["tags"][rp.TAG_LEGACY_KEY] == "AKIAFAKELEGACY000001"
    rotations = by_type(registrations, "aws:secretsmanager/secretRotation:SecretRotation")
    assert len(rotations) == 3
    (function,) = by_type(registrations, "aws:lambda/function:Function")
    for rotation in rotations:
        assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
        assert rotation.inputs["rotateImmediately"] is True
        assert rotation.inputs["rotationLambdaArn"] == function.outputs["arn"]
        deps = options[(rotation.type, rotation.name)].dependencies
        address = rotation.name.removesuffix("-rotation")
        assert any(d.endswith(f"::{address}-secret-policy") for d in deps)
        assert any(d.endswith("::smtp-rotation-invoke") for d in deps)


def test_settings_reach_the_schedule_and_the_function():
    from ses_mail.components.rotation import RotatedPerson
    registrations, _, _ = run_component([RotatedPerson("taro@test1.com", (READER,))], rotation_days=7, grace_hours=12,
                                        secret_admins=("arn:aws:iam::123456789012:role/deployer",))
    (rotation,) = by_type(registrations, "aws:secretsmanager/secretRotation:SecretRotation")
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 7}
    (function,) = by_type(registrations, "aws:lambda/function:Function")
    assert function.inputs["environment"]["variables"]["SES_MAIL_GRACE_HOURS"] == "12"
    (policy,) = by_type(registrations, "aws:secretsmanager/secretPolicy:SecretPolicy")
    manage = next(s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "OnlyAdminsManage")
    assert manage["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == ["arn:aws:iam::123456789012:role/deployer"]


def test_a_schedule_that_could_need_a_third_key_is_refused():
    from ses_mail.components.rotation import RotatedPerson
    with pytest.raises(Exception, match="grace_hours 48"):
        run_component([RotatedPerson("taro@test1.com", (READER,))], rotation_days=2, grace_hours=48)
