"""Adopting a domain's records at Cloudflare: read the zone (read-only, official `cloudflare`
client) and compare it with the `cloudflare.DnsRecord`s the program registers.

Each `DnsRecord` is one record (not a record set as in Route 53): the program's record is
matched with the zone's record of the same name and type (for TXT, the one that starts as the
program's value does: `v=spf1`, `v=DMARC1`), and imported with the provider's documented id
`<zone_id>/<dns_record_id>`. Other TXT records at the same name stay as they are. What cannot
be adopted safely is a finding, with the same codes as for Route 53 (ses_mail.adoption.assess):
a CNAME where a TXT or MX is needed, a DKIM CNAME pointing at another identity's key, a second
SPF or DMARC record, other records at a DKIM selector name; and, Cloudflare's own, a proxied
record.

The zone is read by ses_mail.live.cloudflare (read-only; the calls and the permission each
needs are listed there). Nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ses_mail.findings import ERROR, Finding
from ses_mail.live.cloudflare import CloudflareAccessError, CloudflareReader, CloudflareZone, ZoneRecord
from ses_mail.resource_types import CLOUDFLARE_RECORD, TYPES
from ses_mail.specs.cloudflare import DNS_RECORD_TYPE, txt_value

@dataclass
class RecordAssessment:
    """One program record against the zone: `record_id` set when it exists and can be imported."""

    record_id: str | None = None
    changes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def action(self) -> str:
        return "import" if self.record_id else "create"


def _prefix(content: str) -> str | None:
    value = txt_value(content)
    return next((p for p in ("v=spf1", "v=DMARC1") if value.startswith(p)), None)


def _show(records: Iterable[ZoneRecord]) -> str:
    return ", ".join(f"{r.content!r}" for r in records)


def assess_record(domain: str, inputs: Mapping[str, Any], zone_records: Iterable[ZoneRecord]) -> RecordAssessment:
    """What the program's record (`inputs` of its DnsRecord) meets in the zone."""
    name, type_ = str(inputs["name"]).lower(), str(inputs["type"])
    content = str(inputs.get("content", ""))
    at_name = [r for r in zone_records if r.name == name]
    out = RecordAssessment()

    def find(code: str, message: str, fix: str) -> None:
        out.findings.append(Finding(code, ERROR, domain, message, fix))

    cname = next((r for r in at_name if r.type == "CNAME"), None)
    if type_ != "CNAME" and cname is not None:
        find("cname-conflict", f"{name} is a CNAME (to {cname.content}), but the program needs a {type_} record "
                               "there, and DNS allows no other record beside a CNAME",
             f"replace the CNAME by the {type_} record yourself (or, for DMARC kept by a provider, set "
             "`dmarc: false` on the domain), then run `ses-mail adopt` again")
        return out
    same_type = [r for r in at_name if r.type == type_]
    if type_ == "CNAME":
        others = sorted({r.type for r in at_name if r.type != "CNAME"})
        if others:
            find("dkim-name-taken", f"{name} holds {', '.join(others)} records, so the DKIM CNAME cannot be published there",
                 "remove those records (nothing but the DKIM CNAME belongs at a DKIM selector name)")
        token = name.split(".")[0]
        for r in same_type:
            if r.content.rstrip(".").lower().split(".")[0] != token:
                find("dkim-foreign-token",
                     f"the DKIM record {name} points at {r.content}, not at the identity's key {token}: it was "
                     "published for another SES identity (deleted, in another region or another account)",
                     f"find who signs with that key; if nobody, point the CNAME at {content} (or delete it) and "
                     "run `ses-mail adopt` again")
    match: ZoneRecord | None = None
    if type_ == "TXT":
        prefix = _prefix(content)
        candidates = [r for r in same_type if prefix and txt_value(r.content).lower().startswith(prefix.lower())]
        if len(candidates) > 1:
            what = "SPF" if prefix == "v=spf1" else "DMARC"
            find(f"duplicate-{what.lower()}",
                 f"{name} holds {len(candidates)} {what} records ({_show(candidates)}); receivers treat more than "
                 "one as an error, and it is not clear which one is meant",
                 f"keep one {what} record (or none) and run `ses-mail adopt` again; the roster's value then "
                 "replaces it on the first `pulumi up`")
            return out
        if prefix is None:
            candidates = [r for r in same_type if txt_value(r.content) == txt_value(content)]
        match = candidates[0] if candidates else None
    elif type_ == "MX":
        match = next((r for r in same_type if r.content.rstrip(".").lower() == content.lower()), None)
        foreign = [r for r in same_type if r is not match]
        if foreign:
            find("mail-from-mx-in-use",
                 f"{name} MX already routes mail elsewhere ({_show(foreign)}); as the MAIL FROM domain its MX must "
                 "point at SES's feedback endpoint, which would take that mail away",
                 "choose another `mail_from` label for the domain (one no mail is received at)")
    else:
        match = same_type[0] if same_type else None
    if match is None:
        return out
    if match.proxied:
        find("record-proxied", f"{name} {type_} is proxied by Cloudflare: mail records must never be proxied",
             "turn the proxy off (DNS only) on that record, or let the first `pulumi up` do so after import")
    out.record_id = match.id
    if match.content != content:
        out.changes.append(f"content: {match.content!r} → {content!r}")
    ttl = inputs.get("ttl")
    if ttl is not None and int(ttl) != match.ttl:
        out.changes.append(f"ttl: {'automatic' if match.ttl == 1 else match.ttl} → {int(ttl)}")
    priority = inputs.get("priority")
    if priority is not None and match.priority is not None and int(priority) != match.priority:
        out.changes.append(f"priority: {match.priority} → {int(priority)}")
    return out


def record_import_id(inputs: Mapping[str, Any], record_id: str) -> str:
    """`<zone_id>/<dns_record_id>` (ses_mail.resource_types), for the record found in the zone."""
    import_id = TYPES[CLOUDFLARE_RECORD].import_id
    assert import_id is not None
    return import_id({**inputs, "id": record_id}, "")


__all__ = ["DNS_RECORD_TYPE", "CloudflareAccessError", "CloudflareReader", "CloudflareZone", "ZoneRecord",
           "RecordAssessment", "Finding", "assess_record", "record_import_id"]
