"""The DNS records that authenticate an SES sending domain, as plain data.

Record values are what Route53 is given (TXT without the surrounding quotes, which the
provider adds); names are fully qualified without the trailing dot.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

from ses_mail.specs.limits import TXT_STRING, dmarc_uri



class Dmarc(Protocol):
    """What the records read of a domain's DMARC settings (ses_mail.roster.model.Dmarc has it):
    the roster depends on the specs, never the other way."""

    @property
    def enabled(self) -> bool: ...
    policy: str
    subdomain_policy: Optional[str]
    nonexistent_subdomain_policy: Optional[str]
    rua: Sequence[str]
    ruf: Sequence[str]
    dkim_alignment: str
    spf_alignment: str


class Domain(Protocol):
    """What the records read of a roster domain (ses_mail.roster.model.Domain has it)."""

    name: str
    ttl: int
    dmarc: Dmarc

    @property
    def mail_from_domain(self) -> str: ...

SPF_FOR_SES = "v=spf1 include:amazonses.com ~all"
DKIM_TOKEN_COUNT = 3  # SES Easy DKIM always publishes three selectors
#: Characters of one Easy DKIM token (SES Developer Guide, Easy DKIM: the CNAME names are
#: `<token>._domainkey.<domain>` with 32-character tokens); names are measured with it before
#: SES has issued the real tokens.
DKIM_TOKEN_LENGTH = 32
DKIM_RECORD_TYPE = "CNAME"


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    ttl: int
    value: str
    purpose: str  # a stable role within its domain: dkim-1, mail-from-mx, dmarc...

    def as_row(self) -> dict[str, object]:
        return {"name": self.name, "type": self.type, "value": self.value, "ttl": self.ttl}


#: Regions whose Easy DKIM CNAMEs point at a regional zone instead of dkim.amazonses.com
#: (AWS General Reference, "Amazon SES endpoints and quotas", DKIM domains).
REGIONAL_DKIM_DOMAINS = {
    region: f"dkim.{region}.amazonses.com"
    for region in ("af-south-1", "ap-northeast-3", "ap-south-2", "ap-southeast-3", "ap-southeast-5",
                   "ca-west-1", "eu-central-2", "eu-south-1", "il-central-1", "me-central-1",
                   "us-gov-east-1")
}
DEFAULT_DKIM_DOMAIN = "dkim.amazonses.com"


def dkim_domain(region: str) -> str:
    """The zone SES publishes Easy DKIM public keys under, for identities in `region`."""
    return REGIONAL_DKIM_DOMAINS.get(region, DEFAULT_DKIM_DOMAIN)


def dkim_records(domain: Domain, tokens: Sequence[str], region: str) -> list[DnsRecord]:
    """Easy DKIM: `<token>._domainkey.<domain>` CNAME `<token>.<region's DKIM domain>`."""
    if len(tokens) != DKIM_TOKEN_COUNT:
        raise ValueError(f"SES returned {len(tokens)} DKIM tokens for {domain.name}, expected {DKIM_TOKEN_COUNT}")
    target = dkim_domain(region)
    return [
        DnsRecord(f"{token}._domainkey.{domain.name}", DKIM_RECORD_TYPE, domain.ttl,
                  f"{token}.{target}", f"dkim-{i + 1}")
        for i, token in enumerate(tokens)
    ]


def feedback_mx_host(region: str) -> str:
    """SES's bounce and complaint endpoint for the region the identity lives in."""
    return f"feedback-smtp.{region}.amazonses.com"


def mail_from_records(domain: Domain, region: str) -> list[DnsRecord]:
    """Custom MAIL FROM: an MX to SES's feedback endpoint and an SPF TXT on the subdomain.

    The apex SPF is never touched: SPF is checked against the MAIL FROM domain, which is this
    subdomain, and DMARC's relaxed alignment accepts it for the header From domain.
    """
    host = domain.mail_from_domain
    return [
        DnsRecord(host, "MX", domain.ttl, f"10 {feedback_mx_host(region)}", "mail-from-mx"),
        DnsRecord(host, "TXT", domain.ttl, SPF_FOR_SES, "mail-from-spf"),
    ]


_POLICY_TAG = {"none": "none", "quarantine": "quarantine", "reject": "reject"}
_ALIGNMENT_TAG = {"relaxed": "r", "strict": "s"}


def dmarc_value(dmarc: Dmarc) -> str:
    """The DMARC tag list (RFC 9989: no pct; t=y for testing mode), v and p first."""
    tags = [("v", "DMARC1"), ("p", _POLICY_TAG[dmarc.policy])]
    if dmarc.subdomain_policy:
        tags.append(("sp", _POLICY_TAG[dmarc.subdomain_policy]))
    if dmarc.nonexistent_subdomain_policy:
        tags.append(("np", _POLICY_TAG[dmarc.nonexistent_subdomain_policy]))
    if dmarc.dkim_alignment:
        tags.append(("adkim", _ALIGNMENT_TAG[dmarc.dkim_alignment]))
    if dmarc.spf_alignment:
        tags.append(("aspf", _ALIGNMENT_TAG[dmarc.spf_alignment]))
    # Each URI percent-encoded (',' and '!' as DMARC requires, and what mailto: requires).
    if dmarc.rua:
        tags.append(("rua", ",".join(dmarc_uri(a) for a in dmarc.rua)))
    if dmarc.ruf:
        tags.append(("ruf", ",".join(dmarc_uri(a) for a in dmarc.ruf)))
    if dmarc.testing:
        tags.append(("t", "y"))
    return "; ".join(f"{k}={v}" for k, v in tags)


def dmarc_record(domain: Domain) -> DnsRecord | None:
    if not domain.dmarc.enabled:
        return None
    return DnsRecord(f"_dmarc.{domain.name}", "TXT", domain.ttl, dmarc_value(domain.dmarc), "dmarc")


TXT_STRING_MAX = TXT_STRING.maximum  # one character-string of a TXT record (RFC 1035)


def txt_strings(record: DnsRecord) -> list[str]:
    """The character-strings a TXT record's value is split into, at most 255 characters each
    (record values are ASCII: addresses are, and DMARC URIs are percent-encoded)."""
    value = record.value
    if len(value) <= TXT_STRING_MAX:
        return [value]
    return [value[i:i + TXT_STRING_MAX] for i in range(0, len(value), TXT_STRING_MAX)]


def route53_values(record: DnsRecord) -> list[str]:
    """The record's value as Route53 takes it: a TXT value over 255 characters is split into
    several character-strings (`a""b`, which the provider wraps in quotes), which receivers
    join back together; other values pass unchanged."""
    if record.type != "TXT":
        return [record.value]
    return ['""'.join(txt_strings(record))]


def static_records(domain: Domain, region: str) -> list[DnsRecord]:
    """Every record of a domain that does not wait for SES (all but the DKIM CNAMEs)."""
    dmarc = dmarc_record(domain)
    return mail_from_records(domain, region) + ([dmarc] if dmarc else [])
