"""Credentials issued, tested and rotated inside the account: the rotation function and, per person,
the secret it rotates. No access key and no secret value passes through Pulumi.

The function's code is ses_mail/rotation/handler.py, shipped alone as the asset. Per person this
registers the secret (tagged with whom the function rotates), its resource policy and its rotation
schedule; the person's IAM user and send policy stay where they are (SmtpSender), and no
`AccessKey` or `SecretVersion` is registered: the function makes both.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

import ses_mail.rotation
from ses_mail.specs.boundary import ROTATION_ROLE_PATH
from ses_mail.specs.iam_policy import default_secret_admins
from ses_mail.specs.naming import (IAM_USER_PATH, SECRET_NAME_PREFIX, iam_user_name, person_resource,
                                   secret_description, secret_name)
from ses_mail.specs.rotation_policy import (DEFAULT_GRACE_HOURS, DEFAULT_ROTATION_DAYS, assume_role_policy,
                                            check_schedule, function_name, function_role_policy, invoke_permission,
                                            log_group_name, rotation_secret_policy, rotation_secret_tags,
                                            stack_tag_value)

#: The newest Python runtime pulumi-aws 7 knows; the handler needs only its stdlib and boto3.
RUNTIME = aws.lambda_.Runtime.PYTHON3D14
HANDLER_FILE = Path(ses_mail.rotation.__file__).with_name("handler.py")
#: How long testSecret keeps trying while a new key propagates to SES SMTP.
DEFAULT_SMTP_TEST_SECONDS = 240
DEFAULT_LOG_RETENTION_DAYS = 30
#: As the secrets_manager mode: the credential dies with the person's keys anyway.
SECRET_RECOVERY_DAYS = 0


@dataclass(frozen=True)
class RotatedPerson:
    """One person whose credential the function rotates.

    `readers`: principals that read the value (at least one, as in the secrets_manager mode).
    `suspended`: the function makes no key and deactivates any active one (default False).
    `iam_user`: the user whose keys it rotates (default `iam_user_name(address)`, as SmtpSender names it).
    `legacy_key`: id of a key Pulumi made before the person moved to this mode (default None): kept
    working until the function's first version is current, then retired after the grace period
    (an Output while the key is still registered in the same program).
    `rotation_days`: this person's schedule (default None: the component's `rotation_days`).
    """

    address: str
    readers: tuple[str, ...]
    suspended: bool = False
    iam_user: Optional[str] = None
    legacy_key: Optional[pulumi.Input[str]] = None
    rotation_days: Optional[int] = None


@dataclass(frozen=True)
class CredentialRotationArgs:
    """`region`: the SES region (the function, the secrets and the SMTP password's region); no default.
    `people`: whose secrets to create now (default none; `add_person` adds more).
    `secret_admins`: principals that manage the secrets (default: every role and user under
    `/ses-mail-admin/` of the account, `default_secret_admins`).
    `iam_path`: where the SMTP users are, the only users whose keys the function may touch (default `/ses-smtp/`).
    `rotation_days`: days between scheduled rotations (default 30).
    `grace_hours`: how long a previous key keeps working after a rotation, at least (default 24;
    shorter than the rotation interval).
    `kms_key`: customer managed key ARN of the secrets (default None: `aws/secretsmanager`).
    `log_retention_days`: of the function's log group (default 30).
    `smtp_test_seconds`: testSecret's bound for the new key to work (default 240).
    `account_id`: the account (default: the caller's, from getCallerIdentity).
    `partition`: (default `aws`).
    `stack_tag`: value of the `ses-mail:stack` tag that scopes the function's role (default `<project>/<stack>`).
    `permissions_boundary`: managed policy ARN set as the role's permissions boundary (default None:
    none; `SesMail` passes the stack's, by default the account's `ses-mail-rotation-boundary`).
    """

    region: str
    people: Sequence[RotatedPerson] = ()
    secret_admins: Sequence[str] = ()
    iam_path: str = IAM_USER_PATH
    rotation_days: int = DEFAULT_ROTATION_DAYS
    grace_hours: int = DEFAULT_GRACE_HOURS
    kms_key: Optional[str] = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    smtp_test_seconds: int = DEFAULT_SMTP_TEST_SECONDS
    account_id: Optional[str] = None
    partition: str = "aws"
    stack_tag: Optional[str] = None
    permissions_boundary: Optional[str] = None


@dataclass(frozen=True)
class PersonRotation:
    secret: aws.secretsmanager.Secret
    policy: aws.secretsmanager.SecretPolicy
    rotation: aws.secretsmanager.SecretRotation


class CredentialRotation(pulumi.ComponentResource):
    """The rotation function (role, policy, log group, invoke permission) and the rotated secrets.

    `function_arn`, `role_arn`: plain Outputs; `people`: address -> PersonRotation."""

    def __init__(self, name: str, args: CredentialRotationArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        check_schedule(args.rotation_days, args.grace_hours)  # before anything is registered
        super().__init__("ses-mail:index:CredentialRotation", name, None, opts)
        self.args = args
        region, partition = args.region, args.partition
        project, stack = pulumi.get_project(), pulumi.get_stack()
        self.stack_tag = args.stack_tag or stack_tag_value(project, stack)
        self.function_name = function_name(project, stack)
        account = (pulumi.Output.from_input(args.account_id) if args.account_id
                   else aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id)
        self.account_id = account
        child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=log_group_name(self.function_name), retention_in_days=args.log_retention_days,
            region=region, opts=child)
        self.role = aws.iam.Role(
            # The path is the only one the deploy role may create and pass roles under.
            f"{name}-role", name=f"{self.function_name}-role"[:64], path=ROTATION_ROLE_PATH,
            permissions_boundary=args.permissions_boundary,
            assume_role_policy=account.apply(lambda a: json.dumps(assume_role_policy(a), sort_keys=True)),
            description="ses-mail rotation function: SMTP users' access keys and this stack's secrets only",
            opts=child)
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy", role=self.role.id, name="ses-mail-rotation",
            policy=account.apply(lambda a: json.dumps(function_role_policy(
                account_id=a, region=region, stack=self.stack_tag, function=self.function_name,
                iam_path=args.iam_path, kms_key_arn=args.kms_key, partition=partition), sort_keys=True)),
            opts=child)
        self.function = aws.lambda_.Function(
            f"{name}-function", name=self.function_name, runtime=RUNTIME, handler="handler.lambda_handler",
            code=pulumi.AssetArchive({"handler.py": pulumi.FileAsset(str(HANDLER_FILE))}),
            role=self.role.arn, architectures=["arm64"], memory_size=128,
            timeout=args.smtp_test_seconds + 60,
            environment={"variables": {"SES_MAIL_GRACE_HOURS": str(args.grace_hours),
                                       "SES_MAIL_SMTP_TEST_SECONDS": str(args.smtp_test_seconds)}},
            description="ses-mail: creates, tests and rotates SES SMTP credentials in Secrets Manager",
            region=region,
            # Its logs go to the group made above (with its retention), and it runs only with its policy.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy]))
        self.permission = aws.lambda_.Permission(
            f"{name}-invoke", function=self.function.name, region=region,
            **_permission_args(account, region, partition),
            opts=child)
        self.function_arn = self.function.arn
        self.role_arn = self.role.arn
        self.people: dict[str, PersonRotation] = {}
        for person in args.people:
            self.add_person(person)
        self.register_outputs({"function_arn": self.function_arn, "role_arn": self.role_arn,
                               "secrets": {a: p.secret.arn for a, p in self.people.items()}})

    def add_person(self, person: RotatedPerson, opts: Optional[pulumi.ResourceOptions] = None) -> PersonRotation:
        """The person's secret, its policy and its schedule (children of `opts.parent`, default this)."""
        args, address = self.args, person.address
        child = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), opts)
        user = person.iam_user or iam_user_name(address)
        rotation_days = person.rotation_days or args.rotation_days
        check_schedule(rotation_days, args.grace_hours)
        tags = pulumi.Output.from_input(person.legacy_key).apply(lambda legacy: rotation_secret_tags(
            address, user, args.region, self.stack_tag, suspended=person.suspended, legacy_key=legacy))
        secret = aws.secretsmanager.Secret(
            person_resource(address, "secret"), name=secret_name(address),
            description=secret_description(address).replace("managed by Pulumi", "rotated by the ses-mail function"),
            kms_key_id=args.kms_key, recovery_window_in_days=SECRET_RECOVERY_DAYS, region=args.region,
            tags=tags, opts=child)
        admins = (pulumi.Output.from_input(list(args.secret_admins)) if args.secret_admins
                  else self.account_id.apply(lambda a: list(default_secret_admins(a, args.partition))))
        policy = aws.secretsmanager.SecretPolicy(
            person_resource(address, "secret-policy"), secret_arn=secret.arn,
            policy=pulumi.Output.all(admins, self.role.arn).apply(lambda v: json.dumps(
                rotation_secret_policy(person.readers, v[0], v[1]), sort_keys=True)),
            block_public_policy=True, region=args.region, opts=child)
        # The first rotation runs at once (the secret has no value until then), and only once the
        # policy keeps everyone else out and Secrets Manager may invoke the function.
        rotation = aws.secretsmanager.SecretRotation(
            person_resource(address, "rotation"), secret_id=secret.arn, rotation_lambda_arn=self.function.arn,
            rotation_rules={"automatically_after_days": rotation_days}, rotate_immediately=True,
            region=args.region,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy, self.permission])))
        self.people[address] = PersonRotation(secret, policy, rotation)
        return self.people[address]


def _permission_args(account: pulumi.Output[str], region: str, partition: str) -> dict:
    spec = account.apply(lambda a: invoke_permission(account_id=a, region=region, secret_prefix=SECRET_NAME_PREFIX,
                                                     partition=partition))
    return {"action": "lambda:InvokeFunction", "principal": "secretsmanager.amazonaws.com",
            "source_account": account, "source_arn": spec.apply(lambda s: s["source_arn"])}
