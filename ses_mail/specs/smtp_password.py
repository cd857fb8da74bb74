"""SES SMTP password from an IAM secret access key (AWS's documented SigV4 derivation).

Derived here, for the SES region, rather than read from the provider's
`ses_smtp_password_v4`, which silently uses the provider's own region.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

# Fixed inputs of the algorithm, as AWS documents them.
_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = 0x04


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SMTP password for `secret_access_key` in SES region `region`."""
    if not secret_access_key:
        raise ValueError("an SMTP password needs a secret access key")
    if not region:
        raise ValueError("an SMTP password is region-specific: give the SES region")
    signature = _sign(("AWS4" + secret_access_key).encode("utf-8"), _DATE)
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([_VERSION]) + signature).decode("ascii")


def smtp_endpoint(region: str) -> str:
    return f"email-smtp.{region}.amazonaws.com"


SMTP_PORT = 587  # STARTTLS; 465 (TLS wrapper) and 2587 also work


def secret_value(address: str, region: str, username: str, password: str | None, *,
                 status: str, key: int) -> str:
    """What a Secrets Manager secret holds for one person (JSON); `password` None while suspended."""
    return json.dumps({
        "address": address,
        "host": smtp_endpoint(region),
        "port": SMTP_PORT,
        "starttls": True,
        "username": username,
        "password": password,
        "status": status,
        "key": key,
    }, sort_keys=True)
