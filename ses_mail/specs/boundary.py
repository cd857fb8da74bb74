"""Permissions boundaries: the two managed policies an administrator creates once per account,
their conventional ARNs, and what a stack's boundary setting resolves to (pure, no Pulumi).

Every SMTP user gets the SMTP boundary and the rotation function's role the rotation boundary, by
default the conventional ones under BOUNDARY_PATH; the deploy role of policies/deploy-role.json
creates users and roles only with exactly these attached, and can neither change nor add versions
to anything under that path. The documents here are the ones policies/smtp-user-boundary.json and
policies/rotation-role-boundary.json ship (tests/test_deploy_policy.py holds them equal).
"""
from __future__ import annotations

import json
import shlex
from typing import Any, Optional

from ses_mail.specs.iam_policy import POLICY_VERSION, SEND_ACTION
from ses_mail.specs.naming import IAM_USER_PATH, SECRET_NAME_PREFIX, STACK_RESOURCE_PREFIX
from ses_mail.specs.rotation_policy import KEY_ACTIONS, KMS_ACTIONS, LOG_ACTIONS, ROTATION_SECRET_ACTIONS

#: Where both boundaries live; the deploy role may not touch any policy under it.
BOUNDARY_PATH = "/ses-mail-boundary/"
SMTP_BOUNDARY = "ses-smtp-boundary"
ROTATION_BOUNDARY = "ses-mail-rotation-boundary"
#: The setting's value that turns a boundary off (the shipped deploy role then refuses the deploy).
NO_BOUNDARY = "none"
#: IAM path of the rotation function's role: the only roles the deploy role may create or pass.
ROTATION_ROLE_PATH = "/ses-mail-rotation/"


def boundary_arn(account_id: str, name: str = SMTP_BOUNDARY, partition: str = "aws") -> str:
    """The conventional ARN of a boundary the docs tell administrators to create."""
    return f"arn:{partition}:iam::{account_id}:policy{BOUNDARY_PATH}{name}"


def is_opt_out(setting: Optional[str]) -> bool:
    return setting is not None and setting.strip().lower() == NO_BOUNDARY


def resolve_boundary(setting: Optional[str], account_id: str, partition: str = "aws",
                     name: str = SMTP_BOUNDARY) -> Optional[str]:
    """The boundary ARN a stack sets: unset (None) is the conventional `name` of the account,
    `none` is no boundary, anything else is the ARN given."""
    if setting is None:
        return boundary_arn(account_id, name, partition)
    if is_opt_out(setting):
        return None
    return setting


def smtp_boundary_policy() -> dict[str, Any]:
    """The SMTP users' boundary: at most sending mail, whatever is later attached to a user."""
    return {"Version": POLICY_VERSION, "Statement": [
        {"Sid": "AtMostSendMail", "Effect": "Allow", "Action": [SEND_ACTION, "ses:SendEmail"], "Resource": "*"}]}


def rotation_boundary_policy(account_id: str, partition: str = "aws", iam_path: str = IAM_USER_PATH,
                             secret_prefix: str = SECRET_NAME_PREFIX) -> dict[str, Any]:
    """The rotation role's boundary: access keys of SMTP users, the credential secrets, its own
    logs, and a secrets' customer managed key only through Secrets Manager. The role's own policy
    (ses_mail.specs.rotation_policy.function_role_policy) narrows each to its stack."""
    return {"Version": POLICY_VERSION, "Statement": [
        {"Sid": "RotateSmtpKeysOnly", "Effect": "Allow", "Action": list(KEY_ACTIONS),
         "Resource": f"arn:{partition}:iam::{account_id}:user{iam_path}*"},
        {"Sid": "WriteTheCredentialSecrets", "Effect": "Allow", "Action": list(ROTATION_SECRET_ACTIONS),
         "Resource": f"arn:{partition}:secretsmanager:*:{account_id}:secret:{secret_prefix}*"},
        {"Sid": "OwnLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS),
         "Resource": f"arn:{partition}:logs:*:{account_id}:log-group:/aws/lambda/{STACK_RESOURCE_PREFIX}*"},
        {"Sid": "SecretsKeyThroughSecretsManagerOnly", "Effect": "Allow", "Action": list(KMS_ACTIONS),
         "Resource": "*",
         "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}},
    ]}


def boundary_document(name: str, account_id: str, partition: str = "aws") -> dict[str, Any]:
    if name == SMTP_BOUNDARY:
        return smtp_boundary_policy()
    if name == ROTATION_BOUNDARY:
        return rotation_boundary_policy(account_id, partition)
    raise ValueError(f"{name!r} is not one of ses-mail's boundaries ({SMTP_BOUNDARY}, {ROTATION_BOUNDARY})")


def create_command(name: str, account_id: str, partition: str = "aws") -> str:
    """The one AWS CLI command that creates the conventional boundary `name` in the account."""
    document = json.dumps(boundary_document(name, account_id, partition), separators=(",", ":"))
    return (f"aws iam create-policy --path {BOUNDARY_PATH} --policy-name {name} "
            f"--policy-document {shlex.quote(document)}")
