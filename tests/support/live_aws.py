"""AWS for the live commands' tests: moto for IAM, STS, CloudWatch and Route 53; botocore's Stubber
for SES v2 (moto's has no GetAccount, no DKIM tokens, and never verifies an identity).

`Calls` records every operation a command's clients attempt, with its parameters (before botocore
sends it), and fails the test at once on anything that is not a read; the same record proves the
documented IAM policy (docs/operations.md) allows every call. `aws` is the fixture for moto's emulation with test
credentials and nothing from the machine's AWS configuration. Stubbed SES v2 answers are validated by the Stubber against AWS's API model,
both ways: a request or response shape AWS would not accept fails the test.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Optional

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ses_mail.live.clients import guard

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGION = "eu-west-1"
#: IAM action prefix of each boto3 service name (the SES v2 API's actions are `ses:`).
ACTION_PREFIX = {"sesv2": "ses", "ses": "ses", "s3": "s3", "iam": "iam", "sts": "sts", "cloudwatch": "cloudwatch",
                 "route53": "route53", "secretsmanager": "secretsmanager"}


class WriteAttempted(AssertionError):
    pass


@pytest.fixture
def aws(monkeypatch):
    """moto for every client the test makes, test credentials, region REGION; no profile, shared
    config or endpoint of the machine's leaks in."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


class Calls:
    """Every call the command's clients attempted, in order: `requests` as (IAM action prefix,
    operation, parameters), `made` as `service:Operation`. With `fail_on_writes` (the default)
    anything but a read fails the test before it is sent; without, the recorder only records
    (for tests of the runtime guard's own refusal)."""

    def __init__(self, *, fail_on_writes: bool = True) -> None:
        self.fail_on_writes = fail_on_writes
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, model=None, params=None, **_: Any) -> None:
        prefix = ACTION_PREFIX[model.service_model.service_name]
        self.requests.append((prefix, model.name, dict(params or {})))
        if self.fail_on_writes and not model.name.startswith(("Get", "List", "Describe")):
            raise WriteAttempted(f"{prefix}:{model.name} is not a read: the live commands must be read-only")

    def attach(self, client: Any) -> Any:
        """Record `client`'s calls."""
        client.meta.events.register_first("before-parameter-build.*.*", self._record)
        return client

    def watch(self, session: Any) -> Any:
        """Record the calls of every client `session` (boto3) makes from now on."""
        session.events.register_first("before-parameter-build.*.*", self._record)
        return session

    @property
    def made(self) -> list[str]:
        return [f"{prefix}:{operation}" for prefix, operation, _ in self.requests]

    @property
    def actions(self) -> set[str]:
        return set(self.made)


def ses_client(region: str = REGION) -> tuple[Any, Stubber]:
    client = boto3.client("sesv2", region_name=region, aws_access_key_id="testing",
                          aws_secret_access_key="testing", endpoint_url="http://127.0.0.1:9")
    return client, Stubber(client)


def factory(calls: Calls, *, region: str = REGION, stubbed: Optional[dict[str, Any]] = None) -> Callable[[str], Any]:
    """A ClientFactory: moto-backed boto3 clients (or `stubbed` ones), guarded and recorded."""
    cache: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in cache:
            client = (stubbed or {}).get(service) or boto3.client(service, region_name=region)
            cache[service] = calls.attach(guard(client))
        return cache[service]

    return make


# --- SES v2 answers, shaped as AWS documents them --------------------------------------------

TOKENS = ("tok1aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "tok2bbbbbbbbbbbbbbbbbbbbbbbbbbbb", "tok3cccccccccccccccccccccccccccc")


def identity(domain: str, *, verified: bool = True, dkim: str = "SUCCESS", tokens=TOKENS,
             mail_from: Optional[str] = None, mail_from_status: str = "SUCCESS",
             configuration_set: Optional[str] = "ses-mail", signing: bool = True,
             origin: str = "AWS_SES", key_length: str = "RSA_2048_BIT") -> dict[str, Any]:
    """A GetEmailIdentity answer for a domain; `mail_from` None is `mail.<domain>`, "" is none set."""
    answer: dict[str, Any] = {
        "IdentityType": "DOMAIN",
        "FeedbackForwardingStatus": True,
        "VerifiedForSendingStatus": verified,
        "VerificationStatus": "SUCCESS" if verified else "PENDING",
        "DkimAttributes": {"SigningEnabled": signing, "Status": dkim, "Tokens": list(tokens),
                           "SigningAttributesOrigin": origin, "NextSigningKeyLength": key_length,
                           "CurrentSigningKeyLength": key_length},
        "MailFromAttributes": {"MailFromDomain": f"mail.{domain}" if mail_from is None else mail_from,
                               "MailFromDomainStatus": mail_from_status,
                               "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
        "Policies": {},
        "Tags": [],
    }
    if configuration_set:
        answer["ConfigurationSetName"] = configuration_set
    return answer


def account(*, production: bool = True, sending: bool = True, enforcement: str = "HEALTHY",
            sent: float = 10.0, max_send: float = 50000.0) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": enforcement,
        "ProductionAccessEnabled": production,
        "SendQuota": {"Max24HourSend": max_send if production else 200.0, "MaxSendRate": 14.0 if production else 1.0,
                      "SentLast24Hours": sent},
        "SendingEnabled": sending,
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    }
    return answer


def not_found(stubber: Stubber, domain: str) -> None:
    stubber.add_client_error("get_email_identity", service_error_code="NotFoundException",
                             service_message=f"Email identity {domain} does not exist.", http_status_code=404,
                             expected_params={"EmailIdentity": domain})


# --- the documented policies ---------------------------------------------------------------

def documented_policy(page: str, heading: str) -> dict[str, Any]:
    """The first ```json block after the line `heading` in docs/`page`."""
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    block = re.search(r"```json\n(.*?)```", text[start:], re.S)
    assert block, f"no JSON policy after {heading!r} in docs/{page}"
    return json.loads(block.group(1))


def add_user_boundaries(iam: Any, boundaries: dict[str, str], default: Optional[str] = None) -> None:
    """moto keeps no permissions boundary on IAM users (it has them on roles only): add AWS's
    `User.PermissionsBoundary` to its GetUser answers for `boundaries` (user name: policy ARN; every
    other user `default`, when given), checked against the API model's output shape as the Stubber
    checks its answers."""
    from botocore.validate import ParamValidator

    def add(parsed=None, model=None, **_: Any) -> None:
        user = (parsed or {}).get("User") or {}
        arn = boundaries.get(user.get("UserName"), default) if user else None
        if arn:
            user["PermissionsBoundary"] = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                                           "PermissionsBoundaryArn": arn}
            report = ParamValidator().validate({k: v for k, v in parsed.items() if k != "ResponseMetadata"},
                                               model.output_shape)
            assert not report.has_errors(), report.generate_report()

    iam.meta.events.register("after-call.iam.GetUser", add)
