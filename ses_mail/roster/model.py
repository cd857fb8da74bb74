"""The roster's fields: pydantic models with a documented default on every field.

Each field validates itself (and normalises: domains to A-labels, addresses to lower case);
rules that span fields live in `ses_mail.roster.checks`, reading YAML in `ses_mail.roster.loader`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypeVar

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
from ses_mail.modes.delivery import delivery_mode, delivery_modes
from ses_mail.modes.dns import dns_providers
from ses_mail.modes.existing import existing_mode, roster_values as existing_roster_values
from ses_mail.specs.iam_policy import DisplayNames
from ses_mail.specs.key_slots import MAX_KEYS_PER_USER
from ses_mail.specs.limits import SES_VERIFICATION_WINDOW
from ses_mail.specs.rotation_policy import DEFAULT_GRACE_HOURS, DEFAULT_ROTATION_DAYS


DmarcPolicy = Literal["none", "quarantine", "reject"]
Alignment = Literal["relaxed", "strict"]
Status = Literal["active", "suspended"]
# The modes are registered in ses_mail.modes (one class each); the roster accepts their names.
# A Literal built at run time is no static type: the type checker sees plain names, pydantic the choices.
if TYPE_CHECKING:
    Delivery: TypeAlias = str
    DnsHost: TypeAlias = str
    Existing: TypeAlias = str
else:
    Delivery = Literal[delivery_modes()]
    DnsHost = Literal[dns_providers()]
    Existing = Literal[existing_roster_values()]
TlsPolicy = Literal["optional", "require"]
MxFailure = Literal["use_default", "reject"]
#: `any`: no restriction (and, on a person, no stack default either).
ANY: Final = "any"


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
    dns: DnsHost = Field("route53", description="Where the domain's DNS records are kept: route53 (created here, in `zone`), cloudflare (created here as Cloudflare DNS records, never proxied, in the zone `zone_id` or the zone named `zone`; the API token is the secret stack config cloudflare:apiToken) or external (kept elsewhere: no hosted zone is looked up and no record is created; publish the records listed in the stack output `dns_records` and the offline plan yourself). Default: route53.")
    zone: str | None = Field(None, description="Route53 public hosted zone (dns route53), or name of the Cloudflare zone (dns cloudflare without zone_id), holding the records. Default: the domain itself. Must be the domain or a parent of it.")
    zone_id: str | None = Field(None, description="With dns cloudflare: the id of the Cloudflare zone holding the records (32 hexadecimal characters, shown on the zone's Overview page). Default: the zone is found by name (`zone`, else the domain), which needs the token's Zone Read permission.")

    @field_validator("zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9a-f]{32}", value.strip().lower()):
            raise ValueError("is not a Cloudflare zone id (32 hexadecimal characters)")
        return None if value is None else value.strip().lower()
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
    def managed(self) -> bool:
        """This stack creates (or takes over) the domain's identity and records (ses_mail.modes.existing)."""
        return existing_mode(self.existing).manages

    @property
    def hosted_zone(self) -> str:
        return self.zone or self.name

    @property
    def mail_from_domain(self) -> str:
        return f"{self.mail_from}.{self.name}"


_Wait = TypeVar("_Wait", bool, int, "bool | int", "bool | int | None")


def _wait_minutes(value: _Wait) -> _Wait:
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
        raise ValueError("should be the display name as text, `true` (exactly `name`), `false` "
                         "(`name` or none) or `any`")
    if value.strip().lower() == ANY:
        return ANY
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

    display_name: bool | Literal["any"] = Field(False, description="Which From display names (ses:FromDisplayName) people may send with. false: their own roster `name` or none (no name: none), so nobody sends as \"CEO <own address>\". true: exactly their `name` (people then need a `name`; mail without a display name is refused). any: any display name (opt-out, marked in the plan). Whatever the setting, a display name containing an @ is refused. Default: false (own name or none).")
    allowed_ips: tuple[str, ...] | Literal["any"] = Field(ANY, description="CIDRs from which SMTP sending is allowed (aws:SourceIp), e.g. [203.0.113.0/24]; a bare address means /32. Public addresses only: SES sees your NAT/egress address. Default: any.")
    recipients: tuple[str, ...] | Literal["any"] = Field(ANY, description="Patterns every To/Cc/Bcc address must match (ses:Recipients, IAM StringLike: * and ? are wildcards, case-sensitive, so lowercase), e.g. ['*@example.com']. Default: any.")
    delivery: Delivery = Field("output", description="How credentials are handed over: output (the stack's secret output `smtp_credentials`), pgp (only PGP-encrypted secrets, needs `pgp_key` per person), secrets_manager (one AWS Secrets Manager secret per person, read by `secret_readers`) or rotation (the same secret, but its access key and password are made and rotated inside AWS by the stack's rotation function: no key or password ever reaches Pulumi; docs/in-account-credentials.md). Default: output.")
    secret_readers: tuple[str, ...] = Field((), description="IAM role or user ARNs that may read the Secrets Manager secrets of people with delivery secrets_manager or rotation, unless a person lists their own. Default: none.")
    rotation_days: int = Field(DEFAULT_ROTATION_DAYS, strict=True, description="With delivery rotation: days between scheduled rotations of a person's credential (1..1000), unless a person sets their own. Default: 30.")
    grace_hours: int = Field(DEFAULT_GRACE_HOURS, strict=True, description="With delivery rotation: hours the previous access key keeps working after a rotation, at least; shorter than every rotation_days x 24 so a scheduled rotation never needs a third key. One value for the stack (the rotation function's). Default: 24.")

    @field_validator("display_name", mode="before")
    @classmethod
    def _display_name_flag(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() == ANY:
                return ANY
            raise ValueError("is true, false or any here (a display name text belongs on a person)")
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
    display_name: str | bool | None = Field(None, description="Which From display names (ses:FromDisplayName, case-sensitive) this person may send with: a text: exactly that; true: exactly their `name`; false: their `name` or none; any: any (opt-out, marked in the plan). A display name containing an @ is refused whatever this says. Default: the stack default (defaults.display_name).")
    allowed_ips: tuple[str, ...] | Literal["any"] | None = Field(None, description="CIDRs this person may send from (aws:SourceIp), or `any`. Default: the stack default (defaults.allowed_ips).")
    recipients: tuple[str, ...] | Literal["any"] | None = Field(None, description="Patterns every recipient must match (ses:Recipients), or `any`. Default: the stack default (defaults.recipients).")
    delivery: Delivery | None = Field(None, description="output, pgp, secrets_manager or rotation: see defaults.delivery. Default: the stack default (defaults.delivery).")
    pgp_key: str | None = Field(None, description="With delivery pgp: the person's PGP public key, base64 of `gpg --export` (not armored), or keybase:<user>. Only the encrypted secret and SMTP password are stored. Changing it re-issues the keys. Default: none.")
    secret_readers: tuple[str, ...] | None = Field(None, description="With delivery secrets_manager or rotation: IAM role or user ARNs that may read this person's secret (replacing defaults.secret_readers). Default: the stack default.")
    rotation_days: int | None = Field(None, strict=True, description="With delivery rotation: days between this person's scheduled rotations (1..1000). Default: the stack default (defaults.rotation_days).")
    migrating_from: Literal["output", "secrets_manager"] | None = Field(None, description="With delivery rotation, for the first `pulumi up` after moving from output or secrets_manager: the old access key (and secret version) stay registered, marked retain_on_delete, and the rotation function keeps the old key working until its own first version is current. Remove it once the function has rotated: the old key then leaves the stack without being deleted, and the function retires it (docs/in-account-credentials.md). Default: none.")

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


class Reports(_Model):
    """`reports:` receives the domains' DMARC aggregate reports in this stack (docs/dmarc.md)."""

    address: str = Field(min_length=1, description="The mailbox the reports are sent to, at a dedicated subdomain of a roster domain (e.g. dmarc@reports.example.com): the stack points that subdomain's MX at SES receiving. Never a roster domain itself or a MAIL FROM subdomain. Required.")
    retention_days: int = Field(365, ge=1, le=3650, description="Days a report is kept in the bucket before S3 deletes it. Default: 365.")
    bucket: str | None = Field(None, description="Name of the S3 bucket the reports are stored in. Default: ses-mail-dmarc-<account>-<region>-<stack>.")
    kms_key: str | None = Field(None, description="ARN of a KMS key for the bucket's default encryption (SSE-KMS); its key policy must let ses.amazonaws.com use it (docs/dmarc.md). Default: none (SSE-S3).")
    join: str | None = Field(None, description="Name of the region's active receipt rule set, made elsewhere, to add the report rule to. Default: none (the stack creates and activates its own set, and refuses to replace another active one).")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalize_address(value)

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        from ses_mail.specs.report_receiving import normalize_bucket
        return None if value is None else normalize_bucket(value)

    @field_validator("kms_key")
    @classmethod
    def _kms_key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+", value):
            raise ValueError("is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
        return value

    @field_validator("join")
    @classmethod
    def _join(cls, value: str | None) -> str | None:
        from ses_mail.specs.report_receiving import check_ses_name
        return None if value is None else check_ses_name(value)


class Roster(_Model):
    """One stack's roster: its sending domains and the people who may send."""

    domains: tuple[Domain, ...] = Field(min_length=1, description="Sending domains. Required, at least one.")
    people: tuple[Person, ...] = Field((), description="People allowed to send. Default: none.")
    defaults: Defaults = Field(default_factory=Defaults, description="Stack-wide defaults for display_name, allowed_ips, recipients, delivery and secret_readers. Default: no restrictions, delivery output.")
    deliverability: Deliverability = Field(default_factory=Deliverability, description="Configuration set, feedback topic subscribers, account suppression list and verification waiting. Default: a configuration set with TLS optional, no subscribers, suppression list untouched, no waiting.")
    reports: Reports | None = Field(None, description="Receive the domains' DMARC aggregate reports in an S3 bucket of this stack; every domain's rua then includes the address. Default: none (no receiving).")

    def domain(self, name: str) -> Domain:
        return next(d for d in self.domains if d.name == name)

    def settings(self, person: Person) -> Settings:
        """`person`'s effective settings (a roster that passed validation resolves fully)."""
        defaults, resolved = self._resolved
        found = resolved.get(id(person))
        if found is not None and found[0] is person and defaults is self.defaults:
            return found[1]
        return resolve(person, self.defaults)

    @cached_property
    def _resolved(self) -> tuple[Defaults, dict[int, tuple[Person, Settings]]]:
        """Every person's settings, resolved once: the limit checks, the component's checks and
        each sender all ask for them. Keyed by identity (two people may be equal) and checked
        against the objects themselves, so a copy with other people or defaults resolves afresh."""
        return self.defaults, {id(p): (p, resolve(p, self.defaults)) for p in self.people}



# One person's effective settings: their own values, else the stack defaults, resolved.
@dataclass(frozen=True)
class Settings:
    """One person's effective settings: their own values, else the stack defaults, resolved."""

    status: Status
    key: int
    previous_key: int | None
    display_name: str | None  # the exact display name required (true or a text), else None
    allowed_ips: tuple[str, ...]
    recipients: tuple[str, ...]
    delivery: Delivery
    pgp_key: str | None
    secret_readers: tuple[str, ...]
    rotation_days: int = DEFAULT_ROTATION_DAYS
    grace_hours: int = DEFAULT_GRACE_HOURS
    migrating_from: str | None = None
    display_names: DisplayNames = DisplayNames()

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"


def resolve(person: Person, defaults: Defaults | None = None) -> Settings:
    """A person's own settings, else the stack defaults, with `any` and `true` spelled out.

    display_name: a text or `true` (their `name`) allows exactly that name, as it always did;
    `false` (the default) allows their own `name` or none; `any` allows any (but never an @)."""
    d = defaults or Defaults()
    display = person.display_name if person.display_name is not None else d.display_name
    shown: str | None = person.name if display is True else display if isinstance(display, str) else None
    if shown == ANY:
        names, shown = DisplayNames.unrestricted(), None
    elif shown:
        names = DisplayNames.exactly(shown)
    else:
        # false (the default): the person's own name, or none.
        names, shown = DisplayNames.own_or_none(person.name), None
    ips = person.allowed_ips if person.allowed_ips is not None else d.allowed_ips
    recipients = person.recipients if person.recipients is not None else d.recipients
    readers = person.secret_readers if person.secret_readers is not None else d.secret_readers
    delivery = person.delivery or d.delivery
    return Settings(
        status=person.status,
        key=person.key,
        previous_key=person.previous_key,
        display_name=shown or None,
        allowed_ips=() if ips == ANY else tuple(ips),
        recipients=() if recipients == ANY else tuple(recipients),
        delivery=delivery,
        pgp_key=person.pgp_key,
        secret_readers=tuple(readers) if delivery_mode(delivery).uses_secret else (),
        rotation_days=person.rotation_days if person.rotation_days is not None else d.rotation_days,
        grace_hours=d.grace_hours,
        migrating_from=person.migrating_from,
        display_names=names,
    )
