"""The deploy role's policy (policies/deploy-role.json), the boundaries and the OIDC trust policies,
evaluated with tests/iam_eval.py.

What `pulumi up` must be allowed to do is derived from what the program registers under the mock
engine for the example rosters (and a roster using Secrets Manager delivery), with the boundary
configured as the docs require: each registered resource type maps to the API calls the AWS
provider makes to create, read, update and delete it (REQUESTS below), with the resource's ARN and
the condition keys built from the registration's own inputs. A type the program registers but
REQUESTS does not know fails the test, so the policy cannot silently fall behind the program.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.conftest import PROJECT_DIR
from tests.iam_eval import Request, allows, decide

ACCOUNT = "123456789012"  # the mock engine's account (ses_mail.review.emulation.ACCOUNT_ID)
POLICIES = PROJECT_DIR / "policies"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/ses-mail-boundary/ses-smtp-boundary"
ROTATION_BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/ses-mail-boundary/ses-mail-rotation-boundary"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def policy(name: str, **values: str) -> dict:
    text = (POLICIES / name).read_text(encoding="utf-8").replace("ACCOUNT_ID", ACCOUNT)
    for key, value in values.items():
        text = text.replace(key, value)
    return json.loads(text)


DEPLOY = policy("deploy-role.json")

# --- what pulumi up does, per registered resource type ------------------------------------------

Req = Callable[[dict, str], Iterator[Request]]


def _ses(kind: str, name: str, region: str) -> str:
    return f"arn:aws:ses:{region}:{ACCOUNT}:{kind}/{name}"


def _user(name: str, path: str = "/ses-smtp/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


def identity(i: dict, region: str) -> Iterator[Request]:
    arn = _ses("identity", i["emailIdentity"], region)
    for action in ("CreateEmailIdentity", "GetEmailIdentity", "DeleteEmailIdentity", "TagResource", "UntagResource",
                   "PutEmailIdentityConfigurationSetAttributes", "PutEmailIdentityDkimSigningAttributes"):
        yield Request(f"ses:{action}", arn)
    if i.get("configurationSetName"):
        yield Request("ses:CreateEmailIdentity", _ses("configuration-set", i["configurationSetName"], region))


def mail_from(i: dict, region: str) -> Iterator[Request]:
    arn = _ses("identity", i["emailIdentity"], region)
    yield Request("ses:PutEmailIdentityMailFromAttributes", arn)
    yield Request("ses:GetEmailIdentity", arn)


def configuration_set(i: dict, region: str) -> Iterator[Request]:
    arn = _ses("configuration-set", i["configurationSetName"], region)
    for action in ("CreateConfigurationSet", "GetConfigurationSet", "DeleteConfigurationSet", "TagResource",
                   "PutConfigurationSetDeliveryOptions", "PutConfigurationSetReputationOptions",
                   "PutConfigurationSetSendingOptions", "PutConfigurationSetSuppressionOptions"):
        yield Request(f"ses:{action}", arn)


def event_destination(i: dict, region: str) -> Iterator[Request]:
    arn = _ses("configuration-set", i["configurationSetName"], region)
    for action in ("CreateConfigurationSetEventDestination", "GetConfigurationSetEventDestinations",
                   "UpdateConfigurationSetEventDestination", "DeleteConfigurationSetEventDestination"):
        yield Request(f"ses:{action}", arn)


def record(i: dict, region: str) -> Iterator[Request]:
    zone = f"arn:aws:route53:::hostedzone/{i['zoneId']}"
    for verb in ("CREATE", "UPSERT", "DELETE"):
        yield Request("route53:ChangeResourceRecordSets", zone,
                      {"route53:ChangeResourceRecordSetsRecordTypes": [i["type"]],
                       "route53:ChangeResourceRecordSetsActions": [verb]})
    yield Request("route53:ListResourceRecordSets", zone)
    yield Request("route53:GetChange", "arn:aws:route53:::change/C123")


def user(i: dict, region: str) -> Iterator[Request]:
    arn = _user(i["name"], i.get("path", "/"))
    context = {"iam:PermissionsBoundary": i["permissionsBoundary"]} if i.get("permissionsBoundary") else {}
    yield Request("iam:CreateUser", arn, context)
    if context:
        yield Request("iam:PutUserPermissionsBoundary", arn, context)
    for action in ("GetUser", "DeleteUser", "TagUser", "UntagUser", "ListAccessKeys", "ListAttachedUserPolicies",
                   "ListGroupsForUser", "ListMFADevices", "ListSSHPublicKeys", "ListServiceSpecificCredentials",
                   "ListSigningCertificates", "GetLoginProfile", "DeleteLoginProfile", "ListUserPolicies"):
        yield Request(f"iam:{action}", arn)


def user_policy(i: dict, region: str) -> Iterator[Request]:
    arn = _user(i["user"])
    for action in ("PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy"):
        yield Request(f"iam:{action}", arn)


def access_key(i: dict, region: str) -> Iterator[Request]:
    arn = _user(i["user"])
    for action in ("CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey", "ListAccessKeys"):
        yield Request(f"iam:{action}", arn)


def topic(i: dict, region: str) -> Iterator[Request]:
    arn = f"arn:aws:sns:{region}:{ACCOUNT}:{i['name']}"
    for action in ("CreateTopic", "DeleteTopic", "GetTopicAttributes", "SetTopicAttributes", "TagResource",
                   "ListTagsForResource"):
        yield Request(f"sns:{action}", arn)


def topic_policy(i: dict, region: str) -> Iterator[Request]:
    yield Request("sns:SetTopicAttributes", i["arn"])
    yield Request("sns:GetTopicAttributes", i["arn"])


def subscription(i: dict, region: str) -> Iterator[Request]:
    yield Request("sns:Subscribe", i["topic"])
    yield Request("sns:Unsubscribe", i["topic"])
    yield Request("sns:GetSubscriptionAttributes", i["topic"])


def alarm(i: dict, region: str) -> Iterator[Request]:
    arn = f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{i['name']}"
    for action in ("PutMetricAlarm", "DeleteAlarms", "TagResource", "ListTagsForResource"):
        yield Request(f"cloudwatch:{action}", arn)
    yield Request("cloudwatch:DescribeAlarms", "*")


def _secret(name: str, region: str) -> str:
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-AbCdEf"


def secret(i: dict, region: str) -> Iterator[Request]:
    arn = _secret(i["name"], region)
    for action in ("CreateSecret", "DescribeSecret", "DeleteSecret", "TagResource", "GetResourcePolicy",
                   "UpdateSecret"):
        yield Request(f"secretsmanager:{action}", arn)


def secret_child(i: dict, region: str) -> Iterator[Request]:
    arn = i["secretArn"] if str(i.get("secretArn", "")).startswith("arn:") else _secret("ses-smtp/x", region)
    for action in ("PutSecretValue", "GetSecretValue", "DescribeSecret", "ListSecretVersionIds",
                   "PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"):
        yield Request(f"secretsmanager:{action}", arn)


def suppression(i: dict, region: str) -> Iterator[Request]:
    yield Request("ses:PutAccountSuppressionAttributes", "*")
    yield Request("ses:GetAccount", "*")


REQUESTS: dict[str, Req] = {
    "aws:sesv2/emailIdentity:EmailIdentity": identity,
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": mail_from,
    "aws:sesv2/configurationSet:ConfigurationSet": configuration_set,
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": event_destination,
    "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes": suppression,
    "aws:route53/record:Record": record,
    "aws:iam/user:User": user,
    "aws:iam/userPolicy:UserPolicy": user_policy,
    "aws:iam/accessKey:AccessKey": access_key,
    "aws:sns/topic:Topic": topic,
    "aws:sns/topicPolicy:TopicPolicy": topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": subscription,
    "aws:cloudwatch/metricAlarm:MetricAlarm": alarm,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:secretsmanager/secretPolicy:SecretPolicy": secret_child,
    "aws:secretsmanager/secretVersion:SecretVersion": secret_child,
}
#: The program's invokes (zones, caller, session context) and `wait_for_verification`.
INVOKES = [Request("route53:ListHostedZones", "*"), Request("route53:ListHostedZonesByName", "*"),
           Request("route53:GetHostedZone", "arn:aws:route53:::hostedzone/Z1"),
           Request("ses:GetIdentityVerificationAttributes", "*")]

SECRETS_ROSTER = """
domains:
  - name: shop.example
deliverability:
  account_suppression: true
defaults:
  delivery: secrets_manager
  secret_readers: ["arn:aws:iam::123456789012:role/ses-mail-admin/reader"]
people:
  - email: ann@shop.example
  - email: ben@shop.example
    delivery: output
"""


def runs(tmp_path: Path):
    from ses_mail.project import Project
    from ses_mail.review.engine import run_program

    extra = {"ses-mail:permissionsBoundary": BOUNDARY}
    yield run_program(project=Project(PROJECT_DIR), stack="dev", config=extra)
    yield run_program(project=Project(PROJECT_DIR / "examples" / "component"), stack="dev", config=extra)
    roster = tmp_path / "roster.yaml"
    roster.write_text(textwrap.dedent(SECRETS_ROSTER), encoding="utf-8")
    yield run_program(project=Project(PROJECT_DIR), stack="dev", roster=roster,
                      config={**extra, "ses-mail:secretAdmins": f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deployer"})


@pytest.fixture(scope="module")
def pulumi_up_requests(tmp_path_factory) -> list[tuple[str, Request]]:
    requests: list[tuple[str, Request]] = [("invoke", r) for r in INVOKES]
    types: set[str] = set()
    for run in runs(tmp_path_factory.mktemp("deploy-policy")):
        for registration in run.registrations:
            if registration.type.startswith("ses-mail:"):
                continue  # components: no API call
            types.add(registration.type)
            assert registration.type in REQUESTS, \
                f"the program registers {registration.type}: add the API calls it needs to REQUESTS and the policy"
            requests += [(registration.name, r) for r in REQUESTS[registration.type](registration.inputs, run.region)]
    # The secrets roster really exercised Secrets Manager delivery and account suppression.
    assert {"aws:secretsmanager/secret:Secret", "aws:iam/user:User", "aws:route53/record:Record"} <= types
    return requests


def test_the_deploy_policy_allows_everything_pulumi_up_does_for_the_example_rosters(pulumi_up_requests):
    refused = [f"{name}: {r.action} on {r.resource} {r.context or ''}: {decide([DEPLOY], r)}"
               for name, r in pulumi_up_requests if not allows(DEPLOY, r)]
    assert refused == [], "\n".join(refused)
    assert len(pulumi_up_requests) > 100


# What issue 18 (in-account credentials: a rotation Lambda) and issue 20 (DMARC reports received
# into S3 by an SES receipt rule, with an MX record) add.
ROTATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-rotation/ses-mail-dev-rotation"
ROTATION_FUNCTION = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:ses-mail-dev-rotation"
PLANNED = [
    Request("iam:CreateRole", ROTATION_ROLE, {"iam:PermissionsBoundary": ROTATION_BOUNDARY}),
    *[Request(f"iam:{a}", ROTATION_ROLE) for a in ("GetRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy",
                                                   "DeleteRolePolicy", "ListRolePolicies", "ListAttachedRolePolicies",
                                                   "ListInstanceProfilesForRole", "TagRole")],
    Request("iam:PassRole", ROTATION_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
    *[Request(f"lambda:{a}", ROTATION_FUNCTION) for a in ("CreateFunction", "GetFunction", "DeleteFunction",
                                                          "UpdateFunctionCode", "UpdateFunctionConfiguration",
                                                          "AddPermission", "RemovePermission", "GetPolicy",
                                                          "ListVersionsByFunction", "GetFunctionCodeSigningConfig")],
    Request("secretsmanager:RotateSecret", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:ses-smtp/ann@shop.example-AbCdEf"),
    *[Request(f"s3:{a}", "arn:aws:s3:::ses-mail-dev-dmarc-reports") for a in (
        "CreateBucket", "DeleteBucket", "PutBucketPolicy", "GetBucketPolicy", "PutBucketPublicAccessBlock",
        "PutEncryptionConfiguration", "PutLifecycleConfiguration", "PutBucketOwnershipControls", "ListBucket",
        "PutBucketVersioning", "GetBucketTagging", "PutBucketTagging")],
    *[Request(f"ses:{a}", f"arn:aws:ses:eu-west-1:{ACCOUNT}:receipt-rule-set/ses-mail-dev") for a in (
        "CreateReceiptRuleSet", "DeleteReceiptRuleSet", "DescribeReceiptRuleSet", "CreateReceiptRule",
        "UpdateReceiptRule", "DeleteReceiptRule", "DescribeReceiptRule")],
    Request("ses:SetActiveReceiptRuleSet", "*"),
    Request("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z1",
            {"route53:ChangeResourceRecordSetsRecordTypes": ["MX"]}),
]


@pytest.mark.parametrize("request_", PLANNED, ids=lambda r: f"{r.action}")
def test_the_deploy_policy_covers_the_rotation_function_and_dmarc_receiving(request_):
    assert allows(DEPLOY, request_), decide([DEPLOY], request_)


ADMIN_USER = _user("alice", "/ses-mail-admin/")
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/deployer"
SMTP_USER = _user("smtp-ann@shop.example")
DENIED = {
    "create a user outside the SMTP path": Request("iam:CreateUser", _user("eve", "/"), {"iam:PermissionsBoundary": BOUNDARY}),
    "create a user without the boundary": Request("iam:CreateUser", SMTP_USER),
    "create a user with another boundary": Request("iam:CreateUser", SMTP_USER, {
        "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    "attach AdministratorAccess to an SMTP user": Request("iam:AttachUserPolicy", SMTP_USER, {
        "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    "attach AdministratorAccess to the rotation role": Request("iam:AttachRolePolicy", ROTATION_ROLE, {
        "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    "remove a user's boundary": Request("iam:DeleteUserPermissionsBoundary", SMTP_USER),
    "replace a user's boundary": Request("iam:PutUserPermissionsBoundary", SMTP_USER, {
        "iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/wide-open"}),
    "a new version of the boundary policy": Request("iam:CreatePolicyVersion", BOUNDARY),
    "make another version of the boundary the default": Request("iam:SetDefaultPolicyVersion", BOUNDARY),
    "delete the boundary policy": Request("iam:DeletePolicy", BOUNDARY),
    "create a user on the admin path": Request("iam:CreateUser", ADMIN_USER, {"iam:PermissionsBoundary": BOUNDARY}),
    "a key for an admin user": Request("iam:CreateAccessKey", ADMIN_USER),
    "an inline policy on an admin role": Request("iam:PutRolePolicy", ADMIN_ROLE),
    "pass an admin role": Request("iam:PassRole", ADMIN_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
    "pass the rotation role to EC2": Request("iam:PassRole", ROTATION_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
    "create a role outside the rotation path": Request("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/eve",
                                                       {"iam:PermissionsBoundary": ROTATION_BOUNDARY}),
    "create the rotation role without its boundary": Request("iam:CreateRole", ROTATION_ROLE),
    "remove the rotation role's boundary": Request("iam:DeleteRolePermissionsBoundary", ROTATION_ROLE),
    "an NS record (delegate a zone away)": Request("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z1",
                                                   {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT", "NS"]}),
    "add an SMTP user to a group": Request("iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/admins"),
    "a Lambda function of another name": Request("lambda:CreateFunction", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:eve"),
    "read any other secret": Request("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:prod/db-AbCdEf"),
}


@pytest.mark.parametrize("what", sorted(DENIED))
def test_the_deploy_policy_refuses(what):
    assert not allows(DEPLOY, DENIED[what]), what


def test_the_boundaries_allow_at_most_what_their_principals_need():
    smtp = policy("smtp-user-boundary.json")
    assert allows(smtp, Request("ses:SendRawEmail", f"arn:aws:ses:eu-west-1:{ACCOUNT}:identity/shop.example"))
    for action in ("iam:CreateUser", "iam:CreateAccessKey", "s3:GetObject", "secretsmanager:GetSecretValue", "sts:AssumeRole"):
        assert not allows(smtp, Request(action, "*")), action
    rotation = policy("rotation-role-boundary.json")
    assert allows(rotation, Request("iam:CreateAccessKey", SMTP_USER))
    assert not allows(rotation, Request("iam:CreateAccessKey", ADMIN_USER))
    assert not allows(rotation, Request("iam:CreateUser", SMTP_USER))
    assert not allows(rotation, Request("iam:PutUserPolicy", SMTP_USER))


def web_identity(sub: str, aud: str = "sts.amazonaws.com", provider: str = PROVIDER) -> Request:
    return Request("sts:AssumeRoleWithWebIdentity", f"arn:aws:iam::{ACCOUNT}:role/ses-mail-deploy-prod", {
        "token.actions.githubusercontent.com:sub": sub, "token.actions.githubusercontent.com:aud": aud},
        federated=provider)


def test_each_deploy_role_trusts_only_its_own_environment_of_this_repository():
    prod = policy("trust-deploy.json", OWNER="acme", REPO="mail", ENVIRONMENT="prod")
    assert allows(prod, web_identity("repo:acme/mail:environment:prod"))
    for sub in ("repo:acme/mail:environment:dev", "repo:acme/mail:environment:preview",
                "repo:acme/mail:pull_request", "repo:acme/mail:ref:refs/heads/main",
                "repo:acme/mail:ref:refs/heads/feature", "repo:eve/mail:environment:prod",
                "repo:acme/mail:environment:prod-old"):
        assert not allows(prod, web_identity(sub)), sub
    assert not allows(prod, web_identity("repo:acme/mail:environment:prod", aud="other"))
    assert not allows(prod, web_identity("repo:acme/mail:environment:prod",
                                         provider=f"arn:aws:iam::{ACCOUNT}:oidc-provider/evil.example"))
    preview = policy("trust-preview.json", OWNER="acme", REPO="mail")
    assert allows(preview, web_identity("repo:acme/mail:environment:preview"))
    assert not allows(preview, web_identity("repo:acme/mail:pull_request"))
    # The preview role can change nothing.
    readonly = policy("preview-role.json")
    for r in (Request("iam:CreateUser", SMTP_USER, {"iam:PermissionsBoundary": BOUNDARY}),
              Request("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z1"),
              Request("secretsmanager:GetSecretValue", "*")):
        assert not allows(readonly, r), r.action
