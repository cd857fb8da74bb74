"""Names derived from domains and addresses, never from list positions.

Pulumi resource names key a resource's identity in the stack: reordering the roster must not
rename anything, so each name is a pure function of the domain or address it belongs to.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

#: IAM user names allow at most 64 of these characters and are unique case-insensitively.
IAM_NAME_MAX = 64
_IAM_NAME_CHAR = re.compile(r"[A-Za-z0-9+=,.@_-]")
_IAM_NAME_CHARS = re.compile(r"[A-Za-z0-9+=,.@_-]*")
#: Prefix so that SMTP users never collide with people's own IAM users named by address.
IAM_USER_PREFIX = "smtp-"
#: IAM path grouping every user this program manages.
IAM_USER_PATH = "/ses-smtp/"
SEND_POLICY_NAME = "ses-send-as-own-address"
_HASH_CHARS = 10


def iam_user_name(address: str) -> str:
    """`smtp-<address>` when that is a valid IAM name, else a readable prefix plus a hash.

    The hashed form always contains `=` after the last `@`, which no plain name can (domains
    never contain `=`), so the two forms never collide; addresses are unique lowercased,
    so plain names are unique too.
    """
    plain = IAM_USER_PREFIX + address.lower()
    if len(plain) <= IAM_NAME_MAX and _IAM_NAME_CHARS.fullmatch(plain):
        return plain
    digest = hashlib.sha256(address.lower().encode("utf-8")).hexdigest()[:_HASH_CHARS]
    readable = "".join(c if _IAM_NAME_CHAR.match(c) else "_" for c in plain)
    return readable[: IAM_NAME_MAX - _HASH_CHARS - 1] + "=" + digest


def is_valid_iam_user_name(name: str) -> bool:
    return 1 <= len(name) <= IAM_NAME_MAX and bool(_IAM_NAME_CHARS.fullmatch(name))


_TAG_PUNCTUATION = set("_.:/=+-@ ")
#: The ASCII part of the tag alphabet (in ASCII only letters, digits and space are in L, N or Z):
#: text made only of these needs no per-character look-up.
_TAG_ASCII = re.compile(r"[A-Za-z0-9_.:/=+@ -]*")
TAG_VALUE_MAX = 256


def tag_value(text: str) -> str:
    """Fit free text into IAM's tag alphabet (letters, digits, spaces, `_.:/=+-@`)."""
    if _TAG_ASCII.fullmatch(text):
        return text[:TAG_VALUE_MAX]

    def allowed(c: str) -> bool:
        return c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LNZ"
    return "".join(c if allowed(c) else "_" for c in text)[:TAG_VALUE_MAX]


def user_tags(address: str, name: str | None, suspended: bool) -> dict[str, str]:
    """Tags of a person's IAM user (tag values allow fewer characters than addresses: fitted)."""
    tags = {"ses-mail:address": tag_value(address)}
    if name:
        tags["ses-mail:name"] = tag_value(name)
    if suspended:
        tags["ses-mail:status"] = "suspended"
    return tags


def domain_resource(domain: str, role: str) -> str:
    return f"{domain}-{role}"


def person_resource(address: str, role: str) -> str:
    return f"{address}-{role}"


#: Stack-level resources (configuration sets, the rotation function and its log group, report
#: buckets and rule sets) are named so: the deploy role's policy allows no other names.
STACK_RESOURCE_PREFIX = "ses-mail-"

#: Secrets Manager names: letters, digits and `/_+=.@-`, at most 512 characters.
SECRET_NAME_PREFIX = "ses-smtp/"
_SECRET_NAME_CHAR = re.compile(r"[A-Za-z0-9/_+=.@-]")
_SECRET_NAME_CHARS = re.compile(r"[A-Za-z0-9/_+=.@-]*")
SECRET_NAME_MAX = 512


def secret_name(address: str) -> str:
    """`ses-smtp/<address>` (mirroring the IAM path), hashed like IAM names when it cannot be.

    Addresses may hold characters Secrets Manager names cannot (`!#$%&'*?^`{|}~`): those
    become `_` and a hash of the address follows after `=`, which a plain name never contains
    after its `@` (domains have no `=`), so the two forms never collide.
    """
    plain = SECRET_NAME_PREFIX + address.lower()
    if _SECRET_NAME_CHARS.fullmatch(plain) and len(plain) <= SECRET_NAME_MAX:
        return plain
    digest = hashlib.sha256(address.lower().encode("utf-8")).hexdigest()[:_HASH_CHARS]
    readable = "".join(c if _SECRET_NAME_CHAR.match(c) else "_" for c in plain)
    return readable[: SECRET_NAME_MAX - _HASH_CHARS - 1] + "=" + digest


def secret_tags(address: str) -> dict[str, str]:
    return {"ses-mail:address": tag_value(address)}


def secret_description(address: str) -> str:
    return f"SES SMTP credential of {address} (host, port, username, password); managed by Pulumi"
