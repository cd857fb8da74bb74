"""boto3 clients for the live commands: the standard credential chain, one region, read-only.

Credentials, profile and endpoint come from the standard places (environment, shared config,
instance roles; `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` as boto3 reads them), never
from Pulumi. Every client refuses, before anything is sent, any operation that is not a read
(`Get*`, `List*`, `Describe*`): the commands cannot change the account even by a bug. `guard`
is that refusal, for `doctor` and `audit` here and for `adopt` (ses_mail/adoption/account.py).

`ClientFactory` is the seam tests use: `factory(service)` returns a client; tests pass one that
hands out stubbed clients (botocore's Stubber) for services the emulator lacks.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

READ_PREFIXES = ("Get", "List", "Describe")
_GUARD_ID = "ses-mail-read-only-guard"

ClientFactory = Callable[[str], Any]


class WriteRefused(RuntimeError):
    """A live command tried an operation that is not a read: a bug, stopped before the request."""


def is_read_operation(operation_name: str) -> bool:
    return operation_name.startswith(READ_PREFIXES)


def _refuse_writes(model: Any = None, **_: Any) -> None:
    """botocore `before-call` handler: fail before anything but Get/List/Describe is sent."""
    name = getattr(model, "name", "")
    if not is_read_operation(name):
        service = getattr(getattr(model, "service_model", None), "service_name", "?")
        raise WriteRefused(f"refused to call {service}:{name}: it is not a read operation, "
                           "and ses-mail's live commands (doctor, audit, adopt) are read-only")


def guard(client: Any) -> Any:
    """`client`, refusing every operation but reads (botocore `before-call` event); guarding a
    client again is harmless (the handler is registered once)."""
    client.meta.events.register("before-call.*.*", _refuse_writes, unique_id=_GUARD_ID)
    return client


def boto3_factory(region: Optional[str] = None, profile: Optional[str] = None) -> ClientFactory:
    """Clients from the standard chain for `region` (None: the configured default region)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile, region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 5}, user_agent_extra="ses-mail-live")
    cache: dict[str, Any] = {}

    def factory(service: str) -> Any:
        if service not in cache:
            cache[service] = guard(session.client(service, config=config))
        return cache[service]

    return factory

