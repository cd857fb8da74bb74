"""Secrets Manager rotation function for ses-mail SMTP credentials (delivery mode `rotation`).

Shipped to AWS Lambda as this one file: standard library and the runtime's boto3 only, nothing
from the ses-mail package (tests/test_rotation_handler.py::test_the_handler_runs_alone).

The secret names its person in tags Pulumi writes (`ses_mail.specs.rotation_policy.rotation_secret_tags`):
`ses-mail:iam-user` (the IAM user whose keys this secret holds), `ses-mail:smtp-address` (the
address, escaped into the tag alphabet), `ses-mail:ses-region` (the SES region whose SMTP
password is derived), `ses-mail:status` (`suspended` or absent) and, for a person migrating from
another delivery mode, `ses-mail:legacy-key` (the id of the key Pulumi made, retired like a
previous key). The value holds exactly the fields the `secrets_manager` mode's secret holds:
address, host, port, starttls, username (the access key id), password, status, key.

Keys, and why there are never three (IAM allows two per user):
- The keys the function may keep are the current one (the AWSCURRENT version's username) and a
  retiring one (the AWSPREVIOUS version's username, or the legacy key). Any other key of the user
  is stored in no version that can become current (a key made by a createSecret that failed, or a
  pending version whose testSecret failed): nobody can be using it, so createSecret deletes it.
- The retiring key is deleted by the next createSecret once the grace period has passed since the
  current version was created: until then both keys work, so relays have time to read the new one.
  An inactive retiring key (deactivated by a suspension) works for nobody and is deleted at once.
- createSecret makes a key only when at most one key is left. If two are left (the current key and a
  retiring one still in its grace period, e.g. `ses-mail rotate` run again within the grace period),
  it raises `TwoKeysInUse`, changes nothing else, and the rotation fails: it never needs a third key.
  A scheduled rotation (days apart) always finds the grace period over.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

logger = logging.getLogger()
logger.setLevel(logging.INFO)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
TAG_USER = "ses-mail:iam-user"
TAG_ADDRESS = "ses-mail:smtp-address"
TAG_REGION = "ses-mail:ses-region"
TAG_STATUS = "ses-mail:status"
TAG_LEGACY_KEY = "ses-mail:legacy-key"
SUSPENDED = "suspended"
ACTIVE = "active"
SMTP_PORT = 587
DEFAULT_GRACE_HOURS = 24
#: How long testSecret keeps trying while a new key propagates to SES SMTP (the function's timeout
#: is set above it by the component).
DEFAULT_SMTP_TEST_SECONDS = 240
DEFAULT_SMTP_RETRY_SECONDS = 10

# --- The SMTP password: AWS's documented SigV4 derivation, the same as ses_mail/specs/smtp_password.py
# (duplicated, since this file ships alone; tests/test_rotation_handler.py proves both agree).
_DATE, _SERVICE, _TERMINAL, _MESSAGE, _VERSION = "11111111", "ses", "aws4_request", "SendRawEmail", 0x04


def smtp_password(secret_access_key: str, region: str) -> str:
    if not secret_access_key or not region:
        raise ValueError("an SMTP password needs a secret access key and the SES region")
    signature = hmac.new(("AWS4" + secret_access_key).encode(), _DATE.encode(), hashlib.sha256).digest()
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = hmac.new(signature, part.encode(), hashlib.sha256).digest()
    return base64.b64encode(bytes([_VERSION]) + signature).decode("ascii")


def secret_value(address: str, region: str, username: Optional[str], password: Optional[str], *,
                 status: str, key: int) -> str:
    """The same JSON as ses_mail.specs.smtp_password.secret_value (a test proves it)."""
    return json.dumps({"address": address, "host": f"email-smtp.{region}.amazonaws.com", "port": SMTP_PORT,
                       "starttls": True, "username": username, "password": password, "status": status,
                       "key": key}, sort_keys=True)


def decode_tag(value: str) -> str:
    """Inverse of ses_mail.specs.rotation_policy.encode_tag: `=XX` is one UTF-8 byte in hex."""
    raw = re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), value.encode("utf-8"))
    return raw.decode("utf-8")


class RotationError(Exception):
    """The rotation cannot go on; Secrets Manager records the failure and retries later."""


class TwoKeysInUse(RotationError):
    """The user holds the current key and a retiring one still in its grace period."""


@dataclass(frozen=True)
class Config:
    grace: timedelta = timedelta(hours=DEFAULT_GRACE_HOURS)
    smtp_test_seconds: float = DEFAULT_SMTP_TEST_SECONDS
    smtp_retry_seconds: float = DEFAULT_SMTP_RETRY_SECONDS
    #: Where testSecret logs in instead of the value's host/port (tests: a local server).
    smtp_host: Optional[str] = None
    smtp_port: Optional[int] = None
    ssl_context: Optional[ssl.SSLContext] = field(default=None, compare=False)

    @classmethod
    def from_environment(cls, env: Optional[dict[str, str]] = None) -> "Config":
        env = os.environ if env is None else env
        return cls(grace=timedelta(hours=float(env.get("SES_MAIL_GRACE_HOURS", DEFAULT_GRACE_HOURS))),
                   smtp_test_seconds=float(env.get("SES_MAIL_SMTP_TEST_SECONDS", DEFAULT_SMTP_TEST_SECONDS)))


@dataclass(frozen=True)
class Person:
    user: str
    address: str
    region: str
    suspended: bool
    legacy_key: Optional[str]

    @classmethod
    def from_tags(cls, tags: list[dict[str, str]], secret: str) -> "Person":
        found = {t["Key"]: t["Value"] for t in tags or []}
        missing = [t for t in (TAG_USER, TAG_ADDRESS, TAG_REGION) if not found.get(t)]
        if missing:
            raise RotationError(f"secret {secret} lacks the tag(s) {', '.join(missing)} that ses-mail writes")
        return cls(user=decode_tag(found[TAG_USER]), address=decode_tag(found[TAG_ADDRESS]),
                   region=found[TAG_REGION], suspended=found.get(TAG_STATUS) == SUSPENDED,
                   legacy_key=found.get(TAG_LEGACY_KEY) or None)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Rotation:
    """The four steps for one event. `secrets` and `iam` are boto3 clients."""

    def __init__(self, secrets: Any, iam: Any, config: Config = Config(), *,
                 now: Callable[[], datetime] = _utcnow, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.secrets, self.iam, self.config = secrets, iam, config
        self.now, self.sleep, self.clock = now, sleep, clock

    def run(self, event: dict[str, Any]) -> None:
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        steps = {"createSecret": self.create_secret, "setSecret": self.set_secret,
                 "testSecret": self.test_secret, "finishSecret": self.finish_secret}
        if step not in steps:
            raise ValueError(f"unknown rotation step {step!r}")
        meta = self.secrets.describe_secret(SecretId=arn)
        if not meta.get("RotationEnabled"):
            raise RotationError(f"secret {arn} is not enabled for rotation")
        stages = meta.get("VersionIdsToStages", {})
        if token not in stages:
            raise RotationError(f"secret {arn} has no version {token} to rotate")
        if CURRENT in stages[token] and step == "createSecret":
            logger.info("createSecret: version %s of %s is already current", token, arn)
            return
        if CURRENT not in stages[token] and PENDING not in stages[token]:
            raise RotationError(f"version {token} of {arn} is not pending rotation")
        logger.info("%s for %s, version %s", step, arn, token)
        steps[step](arn, token, meta)

    # -- helpers

    def _value(self, arn: str, *, stage: Optional[str] = None, version: Optional[str] = None) -> Optional[dict]:
        args: dict[str, str] = {"SecretId": arn}
        if stage:
            args["VersionStage"] = stage
        if version:
            args["VersionId"] = version
        try:
            response = self.secrets.get_secret_value(**args)
        except self.secrets.exceptions.ResourceNotFoundException:
            return None
        return json.loads(response["SecretString"]) if response.get("SecretString") else None

    def _current_created(self, arn: str) -> Optional[datetime]:
        args: dict[str, Any] = {"SecretId": arn}
        while True:  # boto3 has no paginator for it
            page = self.secrets.list_secret_version_ids(**args)
            for version in page["Versions"]:
                if CURRENT in version.get("VersionStages", []):
                    created = version["CreatedDate"]
                    return created if created.tzinfo else created.replace(tzinfo=timezone.utc)
            if not page.get("NextToken"):
                return None
            args["NextToken"] = page["NextToken"]

    def _keys(self, user: str) -> list[dict[str, Any]]:
        return self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]

    # -- the four steps

    def create_secret(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        """Make the pending version: a new key (after retiring what may go) and its SMTP password.

        Retried with a pending value already stored: it reuses that version and its key, and does
        nothing else. If storing the value fails, the key just made is deleted before the error
        is raised, so no key exists that no version holds."""
        if self._value(arn, version=token, stage=PENDING) is not None:
            logger.info("createSecret: version %s already holds its key; reusing it", token)
            return
        person = Person.from_tags(meta.get("Tags", []), arn)
        current = self._value(arn, stage=CURRENT)
        previous = self._value(arn, stage=PREVIOUS)
        current_id = (current or {}).get("username")
        retiring = {(previous or {}).get("username"), person.legacy_key} - {current_id, None}
        retired_at = self._current_created(arn) if current is not None else None
        remaining = []
        for key in self._keys(person.user):
            key_id = key["AccessKeyId"]
            if key_id == current_id:
                remaining.append(key)
            elif key_id in retiring and key["Status"] == "Active" and (
                    retired_at is None or self.now() - retired_at < self.config.grace):
                remaining.append(key)  # still in its grace period (or still the one in use: no version yet)
            else:
                # An inactive retiring key works for nobody (a suspension deactivated it): it goes at once.
                logger.info("createSecret: deleting key %s of %s (%s)", key_id, person.user,
                            ("retired" if key_id in retiring else "held by no version that can become current"))
                self.iam.delete_access_key(UserName=person.user, AccessKeyId=key_id)
        generation = int((current or {}).get("key") or 0)
        if person.suspended:
            # No key is made for a suspended person: the version records the suspension.
            value = secret_value(person.address, person.region, current_id, None, status=SUSPENDED, key=generation)
            self._put_pending(arn, token, value)
            return
        if len(remaining) >= 2:
            until = (retired_at + self.config.grace).isoformat() if retired_at else "the first version is current"
            raise TwoKeysInUse(f"{person.user} holds the current key and a retiring one in its grace period "
                               f"(until {until}): no third key is made; rotate again after that")
        made = self.iam.create_access_key(UserName=person.user)["AccessKey"]
        try:
            value = secret_value(person.address, person.region, made["AccessKeyId"],
                                 smtp_password(made["SecretAccessKey"], person.region),
                                 status=ACTIVE, key=generation + 1)
            self._put_pending(arn, token, value)
        except Exception:
            self.iam.delete_access_key(UserName=person.user, AccessKeyId=made["AccessKeyId"])
            raise
        logger.info("createSecret: key %s of %s stored in version %s", made["AccessKeyId"], person.user, token)

    def _put_pending(self, arn: str, token: str, value: str) -> None:
        self.secrets.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value,
                                      VersionStages=[PENDING])

    def set_secret(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        """Nothing to set: an IAM access key is live in IAM from the moment createSecret makes it
        (there is no separate service whose password must be changed to match the secret)."""
        logger.info("setSecret: nothing to set for an IAM access key")

    def test_secret(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        """Log in to the SES SMTP endpoint with STARTTLS and AUTH LOGIN as the pending version;
        retried until the bound while the new key propagates. Sends no mail."""
        pending = self._value(arn, version=token)
        if pending is None:
            raise RotationError(f"version {token} of {arn} holds no value to test")
        if pending.get("status") == SUSPENDED:
            if pending.get("password") is not None:
                raise RotationError(f"version {token} of {arn} is suspended but holds a password")
            logger.info("testSecret: suspended, no key to test")
            return
        host = self.config.smtp_host or pending["host"]
        port = self.config.smtp_port or int(pending["port"])
        deadline = self.clock() + self.config.smtp_test_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                smtp_login(host, port, pending["username"], pending["password"], context=self.config.ssl_context)
                logger.info("testSecret: logged in to %s:%s as %s (attempt %d)", host, port, pending["username"], attempt)
                return
            except (smtplib.SMTPException, OSError) as err:
                if self.clock() + self.config.smtp_retry_seconds > deadline:
                    raise RotationError(f"SMTP login to {host}:{port} as {pending['username']} still fails after "
                                        f"{attempt} attempts: {err}") from err
                logger.info("testSecret: attempt %d failed (%s); retrying", attempt, err)
                self.sleep(self.config.smtp_retry_seconds)

    def finish_secret(self, arn: str, token: str, meta: dict[str, Any]) -> None:
        """Make the tested version current (the old one becomes AWSPREVIOUS and its key retiring);
        for a suspended person, also deactivate any key left active. Retried, it does the rest."""
        stages = meta.get("VersionIdsToStages", {})
        current = next((v for v, s in stages.items() if CURRENT in s), None)
        if current != token:
            args = {"RemoveFromVersionId": current} if current else {}
            self.secrets.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token, **args)
            logger.info("finishSecret: version %s of %s is current", token, arn)
        if PENDING in stages.get(token, []):
            # Done: no version is left pending, so the next RotateSecret starts afresh.
            self.secrets.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
        person = Person.from_tags(meta.get("Tags", []), arn)
        if person.suspended:
            for key in self._keys(person.user):
                if key["Status"] == "Active":
                    self.iam.update_access_key(UserName=person.user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
                    logger.info("finishSecret: deactivated key %s of suspended %s", key["AccessKeyId"], person.user)


def smtp_login(host: str, port: int, username: str, password: str, *,
               context: Optional[ssl.SSLContext] = None, timeout: float = 15) -> None:
    """EHLO, STARTTLS (certificate verified), EHLO, AUTH LOGIN, QUIT: no MAIL command is sent."""
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.ehlo()
        smtp.starttls(context=context or ssl.create_default_context())
        smtp.ehlo()
        if "LOGIN" not in smtp.esmtp_features.get("auth", "").upper().split():
            raise smtplib.SMTPException(f"{host}:{port} does not offer AUTH LOGIN after STARTTLS")
        smtp.user, smtp.password = username, password
        smtp.auth("LOGIN", smtp.auth_login)


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    import boto3  # the Lambda runtime's

    Rotation(boto3.client("secretsmanager"), boto3.client("iam"), Config.from_environment()).run(event)
