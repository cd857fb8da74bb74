"""A domain's records as Cloudflare DNS records (`dns: cloudflare`): a thin shell over
`ses_mail.specs.cloudflare`, which decides every value.

- The zone is `zone_id:` from the roster, or found by name (`zone:`, else the domain) with one
  `cloudflare.get_zone` per zone before anything is registered (`lookup_cloudflare_zones`).
- The API token is the provider's own secret config, `cloudflare:apiToken` (or the
  CLOUDFLARE_API_TOKEN environment variable): no resource input holds it, so no plan, diff or
  log can show it.
- A record changing name or type is replaced, deleted first: the provider updates a name in
  place (which the API has been seen to ignore) and Cloudflare refuses a CNAME beside another
  record of its name, so the old record must go before the new one exists.

`pulumi_cloudflare` is imported only when a roster has a Cloudflare domain: its package imports
every module of the provider (about 4 seconds), which no Route 53 or external roster should pay.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import pulumi

from ses_mail.roster import Domain, Roster
from ses_mail.specs.cloudflare import CloudflareRecord, cloudflare_record
from ses_mail.specs.dns_records import DKIM_RECORD_TYPE, DKIM_TOKEN_COUNT, DnsRecord
from ses_mail.specs.naming import domain_resource

if TYPE_CHECKING:
    import pulumi_cloudflare as cloudflare


def _provider_sdk() -> Any:
    import pulumi_cloudflare

    return pulumi_cloudflare


#: Resource options of every record: what a name or type change does (module docstring).
REPLACE_ON_CHANGES = ["name", "type"]


def cloudflare_invoke_options(opts: Optional[pulumi.ResourceOptions]) -> Optional[pulumi.InvokeOptions]:
    """Look-ups use the Cloudflare provider the component is given (`providers`), if any."""
    providers = opts.providers if opts is not None else None
    if isinstance(providers, Mapping):
        provider = providers.get("cloudflare")
    else:
        provider = next((p for p in providers or () if getattr(p, "package", None) == "cloudflare"), None)
    return pulumi.InvokeOptions(provider=provider) if provider is not None else None


def zone_name(domain: Domain) -> str:
    """The Cloudflare zone a domain's records go in, when found by name."""
    return domain.hosted_zone


def lookup_cloudflare_zones(roster: Roster, file: Path, invoke: Optional[pulumi.InvokeOptions]) -> dict[str, str]:
    """Zone id of every Cloudflare domain the stack manages, by domain: `zone_id` as given, else
    one `get_zone` per zone name. Every failure is reported at once, before anything exists."""
    managed = [d for d in roster.domains if d.dns == "cloudflare" and d.existing != "reference"]
    if not managed:
        return {}
    cloudflare = _provider_sdk()
    by_name: dict[str, str] = {}
    missing: list[str] = []
    for name in sorted({zone_name(d) for d in managed if d.zone_id is None}):
        try:
            by_name[name] = cloudflare.get_zone(filter={"name": name}, opts=invoke).zone_id
        except Exception as err:  # noqa: BLE001 - the provider reports a missing zone as a failed invoke
            users = ", ".join(d.name for d in managed if d.zone_id is None and zone_name(d) == name)
            missing.append(f"  - Cloudflare zone {name!r} (for {users}) could not be looked up: {err}")
    if missing:
        raise pulumi.RunError(f"{file}: Cloudflare zones not found with this API token:\n" + "\n".join(missing)
                              + "\nCheck that the token (cloudflare:apiToken) has Zone Read on the zone, give the "
                              "zone's id as `zone_id:`, or set `zone:` to the zone that holds the domain.")
    return {d.name: d.zone_id or by_name[zone_name(d)] for d in managed}


@dataclass
class CloudflareDns:
    """The records created for one domain: `dkim` (selector slots 1..3) and the rest."""

    dkim: list["cloudflare.DnsRecord"]
    records: list["cloudflare.DnsRecord"]


def _record(domain: Domain, purpose: str, zone_id: pulumi.Input[str], opts: pulumi.ResourceOptions,
            spec: pulumi.Input[CloudflareRecord] | CloudflareRecord, type_: str) -> "cloudflare.DnsRecord":
    """One record named after the domain and its purpose (never a list position). Only name and
    content of a DKIM record wait for SES's tokens: type, TTL and proxied stay plain."""
    out = pulumi.Output.from_input(spec)
    plain = spec if isinstance(spec, CloudflareRecord) else None
    return _provider_sdk().DnsRecord(
        domain_resource(domain.name, purpose),
        zone_id=zone_id,
        name=plain.name if plain else out.apply(lambda r: r.name),
        type=type_,
        ttl=domain.ttl,
        content=plain.content if plain else out.apply(lambda r: r.content),
        priority=plain.priority if plain else None,
        proxied=False,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            replace_on_changes=REPLACE_ON_CHANGES, delete_before_replace=True)),
    )


def publish_cloudflare_records(domain: Domain, *, zone_id: pulumi.Input[str], static: Sequence[DnsRecord],
                               dkim: pulumi.Output[list[DnsRecord]], opts: pulumi.ResourceOptions) -> CloudflareDns:
    """Every record of `domain` in its Cloudflare zone, with `opts` (the caller's: `parent`,
    `retain_on_delete`). `static`: records known before anything exists (MAIL FROM, DMARC, report
    authorisations, a receiving MX ...); `dkim`: the three Easy DKIM CNAMEs, once SES issued them."""
    dkim_records = [
        _record(domain, f"dkim-{slot + 1}", zone_id, opts,
                dkim.apply(lambda records, i=slot: cloudflare_record(records[i])), DKIM_RECORD_TYPE)
        for slot in range(DKIM_TOKEN_COUNT)
    ]
    records = [_record(domain, spec.purpose, zone_id, opts, cloudflare_record(spec), spec.type) for spec in static]
    return CloudflareDns(dkim_records, records)
