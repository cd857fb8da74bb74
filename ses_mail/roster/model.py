"""The roster's fields: pydantic models with a documented default on every field.

Each field validates itself (and normalises: domains to A-labels, addresses to lower case);
rules that span fields live in `ses_mail.roster.checks`, reading YAML in `ses_mail.roster.loader`.
"""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ses_mail.roster.restrictions import (
    normalize_cidr,
    normalize_subscriber,
    normalize_display_name,
    normalize_pgp_key,
    normalize_principal_arn,
    normalize_recipient_pattern,
)
from ses_mail.roster.identifiers import domain_of, is_dns_label, normalize_address, normalize_domain
from ses_mail.specs.key_slots import MAX_KEYS_PER_USER
from ses_mail.specs.limits import SES_VERIFICATION_WINDOW

if TYPE_CHECKING:
    from ses_mail.roster.settings import Settings

DmarcPolicy = Literal["none", "quarantine", "reject"]
Alignment = Literal["relaxed", "strict"]
Status = Literal["active", "suspended"]
Delivery = Literal["output", "pgp", "secrets_manager"]
DnsHost = Literal["route53", "external"]
TlsPolicy = Literal["optional", "require"]
MxFailure = Literal["use_default", "reject"]
Existing = Literal["adopt", "reference"]
#: `any`: no restriction (and, on a person, no stack default either).
ANY = "any"


class ItemErrors(ValueError):
    """Problems with items of one list, each reported at `field[index]` with that item's value,
    all of them at once (a validator can raise only one error per field)."""

    def __init__(self, items: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"[{i}] {m}" for i, m in items))
        self.items = items


def _list_of(value: Any, normalize: Any, what: str, *, allow_any: bool, allow_empty: bool = False) -> Any:
    """Shared shape of list fields: `any`, one string, or a list of strings, each normalised.

    Duplicates (after normalisation) are refused rather than folded, so that what is reviewed
    in a diff is what the policy says.
    """
    if value is None:
        return None
    if allow_any and isinstance(value, str) and value.strip().lower() == ANY:
        return ANY
    if isinstance(value, str):  # one item written without brackets
        try:
            return (normalize(value),)
        except ValueError as err:
            raise ValueError(str(err)) from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"should be a list of {what}" + (" or `any`" if allow_any else ""))
    if not value and not allow_empty:
        raise ValueError("is empty" + (": write `any` for no restriction" if allow_any else ""))
    out: list[str] = []
    bad: list[tuple[int, str]] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            bad.append((index, f"is not {what[:-1] if what.endswith('s') else what}"))
            continue
        try:
            normal = normalize(item)
        except ValueError as err:
            bad.append((index, str(err)))
            continue
        if normal in out:
            bad.append((index, f"is listed twice (as {normal!r})"))
            continue
        out.append(normal)
    if bad:
        raise ItemErrors(bad)
    return tuple(out)


class _Model(BaseModel):
    # Unknown keys are typos: refuse them rather than silently ignore them.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Dmarc(_Model):
    """The `_dmarc.<domain>` TXT record (RFC 9989). `dmarc: false` publishes none."""

    enabled: bool = Field(True, description="Publish a DMARC record. Default: true; write `dmarc: false` to leave DMARC to someone else.")
    policy: DmarcPolicy = Field("none", description="p=: what receivers do with mail failing DMARC. Default: none (monitor only), so mail from other senders of the domain is never lost while reports are gathered.")
    subdomain_policy: DmarcPolicy | None = Field(None, description="sp=: policy for subdomains. Default: unset (receivers use `policy`).")
    nonexistent_subdomain_policy: DmarcPolicy | None = Field(None, description="np=: policy for non-existent subdomains. Default: unset (receivers use sp, then p).")
    dkim_alignment: Alignment | None = Field(None, description="adkim=: relaxed or strict DKIM alignment. Default: unset (relaxed).")
    spf_alignment: Alignment | None = Field(None, description="aspf=: relaxed or strict SPF alignment. Default: unset (relaxed); relaxed is needed for the MAIL FROM subdomain to align.")
    rua: tuple[str, ...] = Field((), description="Addresses for aggregate reports (mailto: is added). Default: none.")
    ruf: tuple[str, ...] = Field((), description="Addresses for failure reports (mailto: is added). Default: none.")
    testing: bool = Field(False, description="t=y: ask receivers to apply the policy one level less strictly while testing. Default: false.")

    @model_validator(mode="before")
    @classmethod
    def _boolean_shorthand(cls, value: Any) -> Any:
        if value is False:
            return {"enabled": False}
        if value is True or value is None:
            return {}
        return value

    @field_validator("rua", "ruf", mode="before")
    @classmethod
    def _report_addresses(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return value
        out = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not an address")
            address = item[len("mailto:"):] if item.lower().startswith("mailto:") else item
            try:
                out.append(normalize_address(address))
            except ValueError as err:
                raise ValueError(f"{item!r} {err}") from None
        return tuple(out)


class Domain(_Model):
    """A domain the organisation sends from: an SES identity with DKIM, MAIL FROM and DMARC."""

    name: str = Field(min_length=1, description="The sending domain, e.g. example.com. Required. Case-insensitive; IDNs become punycode.")
    dns: DnsHost = Field("route53", description="Where the domain's DNS records are kept: route53 (created here, in `zone`) or external (kept elsewhere: no hosted zone is looked up and no record is created; publish the records listed in the stack output `dns_records` and the offline plan yourself). Default: route53.")
    zone: str | None = Field(None, description="Route53 public hosted zone holding the records (with dns route53). Default: the domain itself. Must be the domain or a parent of it.")
    mail_from: str = Field("mail", description="Label of the custom MAIL FROM subdomain (<mail_from>.<domain>). Default: mail.")
    dmarc: Dmarc = Field(default_factory=Dmarc, description="DMARC record settings, or false. Default: p=none with no reports.")
    ttl: int = Field(600, ge=60, le=86400, description="TTL in seconds of every record. Default: 600.")
    protect: bool = Field(True, description="Protect the SES identity from deletion by `pulumi up`/`destroy`. Default: true; set false and apply before removing a domain.")
    mail_from_mx_failure: MxFailure = Field("use_default", description="What SES does when the MAIL FROM subdomain's MX record is missing: use_default (send with amazonses.com as MAIL FROM: mail still goes out, but SPF no longer aligns for DMARC) or reject (refuse to send: nothing leaves unaligned). Default: use_default.")
    wait_for_verification: bool | int | None = Field(None, description="Make `pulumi up` wait until SES has verified this domain: true (45 minutes at most), a number of minutes (1-4320), or false. Default: deliverability.wait_for_verification.")

    @field_validator("wait_for_verification")
    @classmethod
    def _wait(cls, value: bool | int | None) -> bool | int | None:
        return _wait_minutes(value)
    existing: Existing | None = Field(None, description="The domain is already set up in this account: `adopt` brings its SES identity, MAIL FROM setting and DNS records under the stack as they are (import them with `ses-mail adopt`; the roster's values then apply as updates, and removing the domain later releases them instead of deleting them); `reference` leaves the identity to whoever manages it, and only people's credentials and send policies are created against it. Default: unset (the program creates the domain).")

    @field_validator("name", "zone")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else normalize_domain(value)

    @field_validator("mail_from")
    @classmethod
    def _label(cls, value: str) -> str:
        label = value.lower()
        if not is_dns_label(label):
            raise ValueError("is not a DNS label (1-63 letters, digits or inner hyphens, no dots)")
        return label

    @property
    def hosted_zone(self) -> str:
        return self.zone or self.name

    @property
    def mail_from_domain(self) -> str:
        return f"{self.mail_from}.{self.name}"


def _wait_minutes(value: bool | int | None) -> bool | int | None:
    if isinstance(value, bool) or value is None:
        return value
    if not 1 <= value <= SES_VERIFICATION_WINDOW.maximum:
        raise ValueError(f"must be true, false or 1-{SES_VERIFICATION_WINDOW.maximum} minutes: "
                         "SES stops looking for the records after 72 hours")
    return value


class Deliverability(_Model):
    """Stack-wide deliverability: configuration set, feedback subscribers, suppression, verification."""

    configuration_set: bool = Field(True, description="Create the stack's configuration set (ses-mail-<stack>) with reputation metrics, make it the default of every identity, send its bounce, complaint, reject, delivery-delay and rendering-failure events to the feedback topic and per-person counts to CloudWatch, and allow it in every send policy. false: no set and no event destinations (the feedback topic and alarms stay); every send to which some other configuration set applies is then refused with AccessDenied. Default: true.")
    tls: TlsPolicy = Field("optional", description="TLS policy of the configuration set for delivery to receivers: optional (STARTTLS when the receiver offers it, else plain) or require (bounce mail to receivers without TLS). Default: optional.")
    notify: tuple[str, ...] = Field((), description="Subscribers of the feedback topic (bounces, complaints, rejects, delays, rendering failures and the reputation alarms): email addresses (confirmed by the link SNS mails), https:// URLs, or SQS queue ARNs (whose queue policy must let this topic send). Default: none.")
    account_suppression: bool = Field(False, description="Manage the account-level suppression list as code: addresses that bounced hard or complained are not sent to again. Account-wide (every stack and application of the account in this region). Default: false (left as the account has it).")
    wait_for_verification: bool | int = Field(False, description="Default for domains[].wait_for_verification: true (45 minutes at most), minutes (1-4320) or false. Default: false (`pulumi up` does not wait).")

    @field_validator("notify", mode="before")
    @classmethod
    def _notify(cls, value: Any) -> Any:
        return _list_of(value, normalize_subscriber, "email addresses, https:// URLs or SQS queue ARNs",
                        allow_any=False, allow_empty=True)

    @field_validator("wait_for_verification")
    @classmethod
    def _wait(cls, value: bool | int) -> bool | int:
        return _wait_minutes(value)


_CIDRS = "CIDRs such as 203.0.113.0/24"
_PATTERNS = "recipient patterns such as '*@example.com'"
_ARNS = "IAM role or user ARNs"


def _display_name(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError("should be the display name as text, `true` (use `name`) or `false`")
    return normalize_display_name(value)


def _cidrs(value: Any) -> Any:
    return _list_of(value, normalize_cidr, _CIDRS, allow_any=True)


def _patterns(value: Any) -> Any:
    return _list_of(value, normalize_recipient_pattern, _PATTERNS, allow_any=True)


def _readers(value: Any, *, allow_empty: bool) -> Any:
    return _list_of(value, normalize_principal_arn, _ARNS, allow_any=False, allow_empty=allow_empty)


class _Restricted(_Model):
    """The restriction fields Defaults and Person share, checked the same way in both."""

    @field_validator("allowed_ips", mode="before", check_fields=False)
    @classmethod
    def _allowed_ips(cls, value: Any) -> Any:
        return _cidrs(value)

    @field_validator("recipients", mode="before", check_fields=False)
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        return _patterns(value)


class Defaults(_Restricted):
    """Stack-wide defaults for every person; a person's own setting replaces the default."""

    display_name: bool = Field(False, description="true: pin every person's From display name to their `name` (ses:FromDisplayName), so nobody sends as \"CEO <own address>\"; people then need a `name`. Default: false (any display name).")
    allowed_ips: tuple[str, ...] | Literal["any"] = Field(ANY, description="CIDRs from which SMTP sending is allowed (aws:SourceIp), e.g. [203.0.113.0/24]; a bare address means /32. Public addresses only: SES sees your NAT/egress address. Default: any.")
    recipients: tuple[str, ...] | Literal["any"] = Field(ANY, description="Patterns every To/Cc/Bcc address must match (ses:Recipients, IAM StringLike: * and ? are wildcards, case-sensitive, so lowercase), e.g. ['*@example.com']. Default: any.")
    delivery: Delivery = Field("output", description="How credentials are handed over: output (the stack's secret output `smtp_credentials`), pgp (only PGP-encrypted secrets, needs `pgp_key` per person) or secrets_manager (one AWS Secrets Manager secret per person, read by `secret_readers`). Default: output.")
    secret_readers: tuple[str, ...] = Field((), description="IAM role or user ARNs that may read the Secrets Manager secrets of people with delivery secrets_manager, unless a person lists their own. Default: none.")

    @field_validator("display_name", mode="before")
    @classmethod
    def _display_name_flag(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("is true or false here (a display name text belongs on a person)")
        return value

    @field_validator("secret_readers", mode="before")
    @classmethod
    def _secret_readers(cls, value: Any) -> Any:
        return _readers(value, allow_empty=True)


class Person(_Restricted):
    """Someone allowed to send, as exactly one address."""

    email: str = Field(min_length=1, description="The one address this person sends as. Required; its domain must be listed under domains.")
    name: str | None = Field(None, min_length=1, description="Display name, kept in the IAM user's tags. Default: none.")
    status: Status = Field("active", description="active, or suspended: the access keys become Inactive at once (SMTP logins fail) while user, policy and keys are kept, so `active` restores the same credential. Default: active.")
    key: int = Field(1, ge=1, strict=True, description="Generation of the current access key. Rotate by raising it by one and setting previous_key to the old value; a raise without previous_key replaces the key at once. Default: 1.")
    previous_key: int | None = Field(None, ge=1, strict=True, description="Generation kept working next to `key` during a rotation (must be key - 1); remove it to retire the old key. IAM allows two keys per user, so there is at most one. Default: none.")
    display_name: str | bool | None = Field(None, description="The exact From display name this person must send with (ses:FromDisplayName, case-sensitive); true: their `name`; false: any. Default: the stack default (defaults.display_name).")
    allowed_ips: tuple[str, ...] | Literal["any"] | None = Field(None, description="CIDRs this person may send from (aws:SourceIp), or `any`. Default: the stack default (defaults.allowed_ips).")
    recipients: tuple[str, ...] | Literal["any"] | None = Field(None, description="Patterns every recipient must match (ses:Recipients), or `any`. Default: the stack default (defaults.recipients).")
    delivery: Delivery | None = Field(None, description="output, pgp or secrets_manager: see defaults.delivery. Default: the stack default (defaults.delivery).")
    pgp_key: str | None = Field(None, description="With delivery pgp: the person's PGP public key, base64 of `gpg --export` (not armored), or keybase:<user>. Only the encrypted secret and SMTP password are stored. Changing it re-issues the keys. Default: none.")
    secret_readers: tuple[str, ...] | None = Field(None, description="With delivery secrets_manager: IAM role or user ARNs that may read this person's secret (replacing defaults.secret_readers). Default: the stack default.")

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        address = normalize_address(value)
        if "${" in address:
            raise ValueError("contains `${`, which IAM policies read as the start of a variable")
        return address

    @field_validator("previous_key", mode="before")
    @classmethod
    def _one_previous_key(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            raise ValueError(f"is a list, but IAM allows {MAX_KEYS_PER_USER} access keys per user: "
                             "keep one previous key at most (key - 1)")
        return value

    @field_validator("display_name", mode="before")
    @classmethod
    def _display_name(cls, value: Any) -> Any:
        return _display_name(value)

    @field_validator("pgp_key", mode="before")
    @classmethod
    def _pgp_key(cls, value: Any) -> Any:
        return None if value is None else normalize_pgp_key(value)

    @field_validator("secret_readers", mode="before")
    @classmethod
    def _secret_readers(cls, value: Any) -> Any:
        return _readers(value, allow_empty=False)

    @property
    def domain(self) -> str:
        return domain_of(self.email)


class Roster(_Model):
    """One stack's roster: its sending domains and the people who may send."""

    domains: tuple[Domain, ...] = Field(min_length=1, description="Sending domains. Required, at least one.")
    people: tuple[Person, ...] = Field((), description="People allowed to send. Default: none.")
    defaults: Defaults = Field(default_factory=Defaults, description="Stack-wide defaults for display_name, allowed_ips, recipients, delivery and secret_readers. Default: no restrictions, delivery output.")
    deliverability: Deliverability = Field(default_factory=Deliverability, description="Configuration set, feedback topic subscribers, account suppression list and verification waiting. Default: a configuration set with TLS optional, no subscribers, suppression list untouched, no waiting.")

    def domain(self, name: str) -> Domain:
        return next(d for d in self.domains if d.name == name)

    def settings(self, person: Person) -> Settings:
        """`person`'s effective settings (a roster that passed validation resolves fully)."""
        defaults, resolved = self._resolved
        found = resolved.get(id(person))
        if found is not None and found[0] is person and defaults is self.defaults:
            return found[1]
        from ses_mail.roster.settings import resolve

        return resolve(person, self.defaults)

    @cached_property
    def _resolved(self) -> tuple[Defaults, dict[int, tuple[Person, Settings]]]:
        """Every person's settings, resolved once: the limit checks, the component's checks and
        each sender all ask for them. Keyed by identity (two people may be equal) and checked
        against the objects themselves, so a copy with other people or defaults resolves afresh."""
        from ses_mail.roster.settings import resolve

        return self.defaults, {id(p): (p, resolve(p, self.defaults)) for p in self.people}
