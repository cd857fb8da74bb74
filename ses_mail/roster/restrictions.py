"""Canonical forms of the roster's access and delivery values, checked with real parsers.

Each function returns the normalised value or raises ValueError with a message that reads
after the offending value (`'10.0.0.0/8' is a private network: ...`), as the roster's other
checks do. Nothing here imports Pulumi.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re

from ses_mail.roster.identifiers import normalize_address, normalize_domain
from ses_mail.specs.iam_policy import check_not_admin_path

# --- allowed_ips (aws:SourceIp) -------------------------------------------------------------

#: Networks SES never sees as a source address: traffic reaches the public SMTP endpoint from
#: a public (NAT/egress) address, and through a VPC endpoint aws:SourceIp is absent altogether.
_NEVER_SOURCE = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",                                 # carrier-grade NAT
    "127.0.0.0/8", "169.254.0.0/16",                 # loopback, link-local
    "fc00::/7", "fe80::/10", "::1/128",              # unique-local, link-local, loopback
)]


def normalize_cidr(value: str) -> str:
    """`203.0.113.0/24` stays; a bare address becomes /32 (or /128); refuse host bits and LANs."""
    if not isinstance(value, str):
        raise ValueError("is not a CIDR such as 203.0.113.0/24")
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as err:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"is not an IP address or CIDR such as 203.0.113.0/24 ({err})") from None
        host = text.split("/")[0]
        raise ValueError(f"has host bits set: write {loose} for the network or "
                         f"{host}/{loose.max_prefixlen} for the one address") from None
    # Only networks of the same version are compared; typeshed's subnet_of cannot see that.
    if network.prefixlen and any(network.subnet_of(n) for n in _NEVER_SOURCE if n.version == network.version):  # type: ignore[arg-type]
        raise ValueError("is a private network, which SES never sees: list the public address your mail "
                         "server or office connects from (its NAT or egress IP)")
    return str(network)


# --- recipients (ses:Recipients) ------------------------------------------------------------

_PATTERN_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_WILDCARDS = set("*?")


def normalize_recipient_pattern(value: str) -> str:
    """A lowercase `local@domain` pattern in which `*` and `?` are IAM StringLike wildcards.

    IAM compares ses:Recipients case-sensitively, so patterns are lowercased (write recipients
    in lowercase); a literal domain becomes its IDNA form. `${` is refused: IAM would read
    `${...}` as a policy variable.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is not a recipient pattern such as '*@example.com'")
    text = value.strip().lower()
    if text == "*":
        raise ValueError("allows every recipient: write `recipients: any` (or leave it out) instead")
    if "${" in text:
        raise ValueError("contains `${`, which IAM policies read as the start of a variable")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("is not a recipient pattern: write local@domain, with * or ? as wildcards "
                         "(e.g. '*@example.com' or 'alice@partner.example')")
    if not _PATTERN_LOCAL.match(local) or "@" in local:
        raise ValueError("has characters that cannot be in an address before the @")
    if _WILDCARDS & set(domain):
        labels = domain.split(".")
        if any(not label or not re.fullmatch(r"[a-z0-9*?-]+", label) for label in labels):
            raise ValueError("has a domain part that is not a domain name or wildcard pattern")
        return f"{local}@{domain}"
    return f"{local}@{normalize_domain(domain)}"


# --- display names (ses:FromDisplayName) ----------------------------------------------------

DISPLAY_NAME_MAX = 256


def normalize_display_name(value: str) -> str:
    """The exact From display name a person must use; no control characters, no `${`."""
    text = value.strip()
    if not text:
        raise ValueError("is empty: give the display name, `true` (exactly `name`), `false` (`name` or none) or `any`")
    if len(text) > DISPLAY_NAME_MAX:
        raise ValueError(f"is longer than {DISPLAY_NAME_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("contains a control character (a line break?)")
    if "${" in text:
        raise ValueError("contains `${`, which IAM policies read as the start of a variable")
    if any(c in text for c in '<>"'):
        raise ValueError('contains < > or ": give the name only, as the mail client shows it')
    if any(c in text for c in ADDRESS_SIGNS):
        raise ValueError("contains an @: a display name that reads as an address is always refused")
    return text


#: `@` and the look-alikes mail clients render like it (full-width U+FF20, small U+FE6B): the
#: send policy denies display names containing any of them (specs.iam_policy).
ADDRESS_SIGNS = ("@", "\uff20", "\ufe6b")


# --- principals (Secrets Manager readers, stack admins) -------------------------------------

_PRINCIPAL = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):"
    r"(?P<kind>user|role)(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]{1,128})$")


def normalize_principal_arn(value: str) -> str:
    """An IAM role or user ARN, as the condition key aws:PrincipalArn reports it."""
    if not isinstance(value, str):
        raise ValueError("is not an IAM role or user ARN")
    text = value.strip()
    if text.startswith("arn:") and ":sts::" in text and ":assumed-role/" in text:
        raise ValueError("is a role session: give the role's ARN, arn:aws:iam::<account>:role/<name>")
    if re.match(r"^arn:[^:]+:iam::\d{12}:root$", text) or re.fullmatch(r"\d{12}", text):
        raise ValueError("is a whole account: name the role or user that may read, "
                         "so nobody else in that account can")
    if re.match(r"^arn:[^:]+:iam::\d{12}:group/", text):
        raise ValueError("is an IAM group, which cannot be a principal: list its roles or users")
    if "*" in text or "?" in text:
        raise ValueError("contains a wildcard: list each role or user ARN exactly")
    if not _PRINCIPAL.match(text):
        raise ValueError("is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/mail-bot")
    return text


def account_of(arn: str) -> str:
    return arn.split(":")[4]


_POLICY_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}|aws):policy/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,128}$")


def normalize_policy_arn(value: str) -> str:
    """A managed policy ARN, as a permissions boundary needs."""
    text = value.strip()
    if not _POLICY_ARN.match(text):
        raise ValueError("is not a managed policy ARN such as arn:aws:iam::123456789012:policy/ses-smtp-boundary")
    return text


_IAM_PATH = re.compile(r"^/(?:[\x21-\x7e]*/)?$")


def normalize_iam_path(value: str) -> str:
    """An IAM path: `/`, or `/segments/` of printable ASCII, at most 512 characters."""
    text = value.strip()
    if not _IAM_PATH.match(text) or len(text) > 512 or "//" in text:
        raise ValueError("is not an IAM path: it starts and ends with / (e.g. /ses-smtp/)")
    # SMTP users under the secret admin path would all be exempt from the secrets' Deny.
    return check_not_admin_path(text)


_KMS_KEY = re.compile(
    r"^(arn:(aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:\d{12}:(key/[0-9a-f-]{36}|key/mrk-[0-9a-f]{32}|alias/[\w/-]+)"
    r"|alias/[\w/-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$")


def normalize_kms_key(value: str) -> str:
    text = value.strip()
    if not _KMS_KEY.match(text):
        raise ValueError("is not a KMS key id, key ARN, alias/<name> or alias ARN")
    return text


# --- PGP public keys (AccessKey.pgp_key) ----------------------------------------------------

_KEYBASE = re.compile(r"^keybase:[A-Za-z0-9_]{2,16}$")
_PUBLIC_KEY_TAG = 6  # RFC 9580 section 5.5: Public-Key Packet


def normalize_pgp_key(value: str) -> str:
    """`keybase:<user>` or a base64 binary OpenPGP public key (whitespace removed).

    The provider wants `gpg --export <key> | base64` output, not the ASCII-armored `-a` form:
    the first packet of the decoded bytes must be a public-key packet.
    """
    if not isinstance(value, str):
        raise ValueError("is not a PGP public key")
    text = "".join(value.split())
    if text.startswith("keybase:"):
        if not _KEYBASE.match(text):
            raise ValueError("is not a keybase user: write keybase:<username>")
        return text
    if "BEGINPGP" in text:
        raise ValueError("is ASCII-armored: give the binary key in base64, "
                         "e.g. `gpg --export <key id> | base64 -w0`")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is neither keybase:<username> nor a base64 PGP public key") from None
    if len(raw) < 10 or not raw[0] & 0x80:
        raise ValueError("does not decode to an OpenPGP packet (is it the base64 of `gpg --export`?)")
    tag = raw[0] & 0x3F if raw[0] & 0x40 else (raw[0] >> 2) & 0x0F
    if tag != _PUBLIC_KEY_TAG:
        raise ValueError(f"decodes to an OpenPGP packet of type {tag}, not a public key "
                         "(export the public key with `gpg --export`, never the secret key)")
    return text


_SQS_ARN = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?")
_HTTPS_URL = re.compile(r"https://[^\s/?#]+(/[^\s]*)?")


def normalize_subscriber(text: str) -> str:
    """An email address, an `https://` URL or an SQS queue ARN, as SNS subscribes it."""
    value = text.strip()
    if value.lower().startswith("arn:"):
        if not _SQS_ARN.fullmatch(value):
            raise ValueError("is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)")
        return value
    if value.lower().startswith("http://"):
        raise ValueError("is plain HTTP: SNS would post bounce details unencrypted; use https://")
    if value.lower().startswith("https://"):
        if not _HTTPS_URL.fullmatch(value):
            raise ValueError("is not an https:// URL")
        return value
    try:
        return normalize_address(value)
    except ValueError as err:
        raise ValueError(f"is not an email address, https:// URL or SQS queue ARN: {err}") from None
