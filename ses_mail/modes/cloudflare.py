"""A domain's records as Cloudflare DNS records (`dns: cloudflare`): the records of
`ses_mail.specs.cloudflare`, which decides every value, created by `CloudflareDns`
(ses_mail.modes.dns).

- The API token is the provider's own secret config, `cloudflare:apiToken` (or the
  CLOUDFLARE_API_TOKEN environment variable): no resource input holds it, so no plan, diff or
  log can show it.
- A record changing name or type is replaced, deleted first (`replace_on_changes` and
  `delete_before_replace` of the type's description, ses_mail.resource_types).

Pulumi-free at import: the SDKs come from the component (`component.sdk(...)`), so
`pulumi_cloudflare` is imported only when a roster has a Cloudflare domain (its package imports
every module of the provider, about 4 seconds, which no Route 53 or external roster should pay).
"""
from __future__ import annotations

from typing import Any, Sequence

from ses_mail.resource_types import CLOUDFLARE_RECORD, TYPES
from ses_mail.specs.cloudflare import CloudflareRecord, cloudflare_record
from ses_mail.specs.dns_records import DKIM_RECORD_TYPE, DKIM_TOKEN_COUNT, DnsRecord

#: The provider package, imported only when a Cloudflare domain publishes its records.
SDK = "pulumi_cloudflare"


def publish_cloudflare_records(component: Any, domain: Any, *, zone_id: Any, static: Sequence[DnsRecord],
                               dkim: Any, opts: Any) -> tuple[list[Any], list[Any]]:
    """Every record of `domain` in its Cloudflare zone, as children of `component` (a
    `SendingDomain`), with `opts` (the caller's: `parent`, `retain_on_delete`). `static`: records
    known before anything exists (MAIL FROM, DMARC, report authorisations, a receiving MX ...);
    `dkim`: an Output of the three Easy DKIM CNAMEs, once SES issued them.
    Returns (the other records, the DKIM records in selector slots 1..3)."""
    pulumi = component.sdk("pulumi")
    cloudflare = component.sdk(SDK)
    described = TYPES[CLOUDFLARE_RECORD]
    options = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
        replace_on_changes=sorted(described.replace_on_changes),
        delete_before_replace=described.delete_before_replace))

    def record(purpose: str, spec: Any, type_: str) -> Any:
        """One record named after the domain and its purpose (never a list position). Only name
        and content of a DKIM record wait for SES's tokens: type, TTL and proxied stay plain."""
        plain = spec if isinstance(spec, CloudflareRecord) else None
        out = pulumi.Output.from_input(spec)
        return cloudflare.DnsRecord(
            component.resource_name(purpose),
            zone_id=zone_id,
            name=plain.name if plain else out.apply(lambda r: r.name),
            type=type_,
            ttl=domain.ttl,
            content=plain.content if plain else out.apply(lambda r: r.content),
            priority=plain.priority if plain else None,
            proxied=False,
            opts=options,
        )

    dkim_records = [record(f"dkim-{slot + 1}", dkim.apply(lambda records, i=slot: cloudflare_record(records[i])),
                           DKIM_RECORD_TYPE)
                    for slot in range(DKIM_TOKEN_COUNT)]
    records = [record(spec.purpose, cloudflare_record(spec), spec.type) for spec in static]
    return records, dkim_records
