"""Canonical forms of domains, addresses and DNS labels, checked by real libraries.

Domains and addresses are case-insensitive here: both are lowercased, and internationalised
domains become their IDNA A-label (punycode) form, which is what DNS and SES see.
"""
from __future__ import annotations

import re
from functools import lru_cache

import idna
from email_validator import EmailNotValidError, validate_email

from ses_mail.roster.lookalikes import check_look_alike
from ses_mail.specs.limits import SMTP_LOCAL_PART

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_DOMAIN_LENGTH = 253


# Every address names one of a few domains: IDNA checks each once (errors are not cached).
@lru_cache(maxsize=4096)
def normalize_domain(value: str) -> str:
    """Return the lowercase A-label form of a host name, or raise ValueError saying why."""
    text = value.strip().lower()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("is not a domain name")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as err:
        raise ValueError(f"is not a valid domain name ({err})") from None
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValueError("is not a fully qualified domain name (it needs a dot, e.g. example.com)")
    if labels[-1].isdigit():
        raise ValueError("is an IP address, not a domain name")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"has an invalid DNS label {label!r}")
    if len(ascii_name) > MAX_DOMAIN_LENGTH:
        raise ValueError(f"is longer than {MAX_DOMAIN_LENGTH} characters")
    if "xn--" in ascii_name:
        u_label = unicode_form(ascii_name)
        why = check_look_alike(u_label)
        if why:
            raise ValueError(f"is a look-alike domain: {u_label} ({ascii_name}) {why}")
    return ascii_name


def unicode_form(ascii_name: str) -> str:
    """The U-label form of a domain (what a reader sees), for showing beside the A-label."""
    try:
        return idna.decode(ascii_name)
    except idna.IDNAError:
        return ascii_name


def both_forms(ascii_name: str) -> str:
    """`münchen.de (xn--mnchen-3ya.de)` for an IDN, the name alone otherwise."""
    u_label = unicode_form(ascii_name)
    return ascii_name if u_label == ascii_name else f"{u_label} ({ascii_name})"


def normalize_address(value: str) -> str:
    """Return the lowercase ASCII form of an email address, or raise ValueError saying why.

    SES SMTP does not accept internationalised local parts (SMTPUTF8), so they are refused;
    an internationalised domain is converted to its A-label form.
    """
    try:
        checked = validate_email(
            value.strip(),
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_display_name=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as err:
        raise ValueError(f"is not a valid email address ({err})") from None
    # email-validator leaves the local part's length to the caller; SMTP servers may refuse more.
    over = SMTP_LOCAL_PART.check(len(checked.local_part.encode("utf-8")))
    if over:
        raise ValueError(f"has a local part (before the @) that {over}")
    domain = normalize_domain(checked.ascii_domain)
    return f"{checked.local_part.lower()}@{domain}"


def is_dns_label(value: str) -> bool:
    """True for one lowercase LDH label (letters, digits, inner hyphens, 1 to 63 characters)."""
    return bool(_LABEL.match(value))


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def is_within(name: str, zone: str) -> bool:
    """True when `name` is `zone` itself or a subdomain of it."""
    return name == zone or name.endswith("." + zone)


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def is_aws_region(value: str) -> bool:
    """True for a region code such as eu-central-1 or us-gov-west-1."""
    return bool(_REGION.match(value))
