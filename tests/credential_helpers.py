"""Helpers for the credential lifecycle tests: rosters, raw registration requests, secrets."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import json_format

from ses_mail.review import engine
from ses_mail.review.emulation import fake_secret_key
from ses_mail.specs.smtp_password import smtp_password

KEY = "aws:iam/accessKey:AccessKey"
USER = "aws:iam/user:User"
POLICY = "aws:iam/userPolicy:UserPolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker of a secret value

ACCOUNT = "123456789012"
IDENTITY = f"arn:aws:ses:eu-west-1:{ACCOUNT}:identity/test1.com"
READER = f"arn:aws:iam::{ACCOUNT}:role/mail-relay"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:user/ses-mail-admin/fake"  # the emulated caller (AwsMocks.caller_arn)
#: The secrets' admins when ses-mail:secretAdmins is unset: every role and user under /ses-mail-admin/.
DEFAULT_ADMINS = [f"arn:aws:iam::{ACCOUNT}:role/ses-mail-admin/*", f"arn:aws:iam::{ACCOUNT}:user/ses-mail-admin/*"]


def roster(people: str, defaults: str = "") -> str:
    """A one-domain roster (test1.com) with the given people (and defaults) YAML blocks."""
    text = "domains:\n  - name: test1.com\n"
    if defaults:
        text += "defaults:\n" + defaults
    return text + "people:\n" + people


@dataclass
class Raw:
    """What the engine received for one resource, beyond the inputs the mocks see."""

    delete_before_replace: bool
    replacement_trigger: Any
    dependencies: tuple[str, ...]
    secret_inputs: set[str]


@pytest.fixture
def raw_requests(monkeypatch) -> dict[str, Raw]:
    """Record every RegisterResource request by resource name (options and secret inputs)."""
    seen: dict[str, Raw] = {}
    original = engine.RecordingMonitor.RegisterResource

    def record(self, request):
        trigger = (json_format.MessageToDict(request.replacement_trigger)
                   if request.HasField("replacement_trigger") else None)
        obj = json_format.MessageToDict(request.object)
        secret = {k for k, v in obj.items() if isinstance(v, dict) and SECRET_SIG in v}
        seen[request.name] = Raw(bool(request.deleteBeforeReplace), trigger, tuple(request.dependencies), secret)
        return original(self, request)

    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", record)
    return seen


def derived_password(key_resource: str, region: str = "eu-west-1") -> str:
    """The SMTP password the program derives from the emulated secret of one key resource."""
    return smtp_password(fake_secret_key(key_resource), region)


def everything_plain(result) -> str:
    """Every registered input and output plus every non-secret stack output, as one text."""
    parts = [json.dumps(r.inputs, default=str) + json.dumps(r.outputs, default=str) for r in result.registrations]
    parts.append(json.dumps({k: v for k, v in result.outputs.items() if k not in result.secret_outputs}))
    return "\n".join(parts)


def by_name(result, token: str) -> dict[str, Any]:
    return {r.name: r for r in result.of_type(token)}
