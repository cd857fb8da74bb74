"""DNS providers: where a domain's records are published. One class per provider.

A provider says whether the domain names a zone in it (`uses_zone`: the roster's `zone:` and a
look-up before anything is registered), how that zone is found (`find_zone`), and creates the
records (`publish`). Adding a provider: one subclass of `DnsProvider` decorated with
`@register_dns` (docs/architecture.md).
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

from ses_mail.modes.cloudflare import publish_cloudflare_records
from ses_mail.modes.registry import Registry
from ses_mail.specs.cloudflare import cloudflare_records, record_problems
from ses_mail.specs.dns_records import DKIM_RECORD_TYPE, DKIM_TOKEN_COUNT, DnsRecord, route53_values

_REGISTRY: Registry["DnsProvider"] = Registry("dns", default="route53")


class DnsProvider:
    name: ClassVar[str]
    #: The records are created by this stack in a zone the roster names (`zone:`, else the domain).
    uses_zone: ClassVar[bool] = False
    #: The roster may give the zone's id (`zone_id:`) instead of having it looked up by name.
    zone_by_id: ClassVar[bool] = False
    #: The zone is a Cloudflare zone: `ses-mail adopt` and `doctor` read it with the Cloudflare API.
    cloudflare_zone: ClassVar[bool] = False
    #: The provider as messages name it.
    host: ClassVar[str] = ""
    #: The Pulumi package whose provider the zone look-up uses (from the component's `providers`).
    package: ClassVar[str] = "aws"

    def describe_zone(self, zone: str) -> str:
        """The zone as errors name it."""
        return f"zone {zone!r}"

    def find_zone(self, sdk: Any, zone: str, invoke: Any, zone_id: Optional[str] = None) -> str:
        """The zone's id (looked up before anything is registered); any exception: not found.
        `zone_id`: the roster's `zone_id:` (only for providers with `zone_by_id`)."""
        raise NotImplementedError

    def record_problems(self, specs: Sequence[DnsRecord]) -> Optional[list[tuple[DnsRecord, str, str]]]:
        """Every limit of this provider a record breaks, as (record, what: ttl, name or content,
        message); None: the records are measured by the DNS limits every host shares
        (ses_mail.roster.limit_checks)."""
        return None

    def publish(self, component: Any, domain: Any, zone_id: Optional[Any], dkim: Any,
                static: Sequence[DnsRecord], opts: Any) -> tuple[list[Any], list[Any]]:
        """Create the domain's records as children of `component` (a `SendingDomain`): `dkim` is an
        Output of the three DKIM `DnsRecord`s, `static` the records known before anything exists.
        Returns (every record resource, the DKIM record resources)."""
        return [], []


def register_dns(cls: type[DnsProvider]) -> type[DnsProvider]:
    return _REGISTRY.register(cls)


def dns_provider(name: str | None) -> DnsProvider:
    """The registered provider called `name` (None: the default, `route53`)."""
    return _REGISTRY.get(name)


def dns_providers() -> tuple[str, ...]:
    return _REGISTRY.names()


def providers_where(flag: str) -> list[str]:
    return [p.name for p in _REGISTRY.all() if getattr(p, flag)]


@register_dns
class Route53Dns(DnsProvider):
    """Records created in the Route 53 public hosted zone, without `allow_overwrite`: an existing
    record of the same name and type makes `pulumi up` fail instead of replacing someone else's."""

    name = "route53"
    host = "Route 53"
    uses_zone = True

    def describe_zone(self, zone: str) -> str:
        return f"Route53 public hosted zone {zone!r}"

    def find_zone(self, sdk: Any, zone: str, invoke: Any, zone_id: Optional[str] = None) -> str:
        found: str = sdk("pulumi_aws").route53.get_zone(name=zone, private_zone=False, opts=invoke).zone_id
        return found

    def publish(self, component: Any, domain: Any, zone_id: Optional[Any], dkim: Any,
                static: Sequence[DnsRecord], opts: Any) -> tuple[list[Any], list[Any]]:
        if zone_id is None:
            raise ValueError(f"{domain.name}: dns {self.name} needs the hosted zone's id")
        aws = component.sdk("pulumi_aws")

        def record(purpose: str, *, name: Any, type_: str, values: Any) -> Any:
            return aws.route53.Record(component.resource_name(purpose), zone_id=zone_id, name=name, type=type_,
                                      ttl=domain.ttl, records=values, opts=opts)

        # Selector slots 1..3 of SES's token list, not positions in the roster. Only name and
        # value wait for SES's tokens: type and TTL stay plain, so a preview shows them.
        dkim_resources = []
        for slot in range(DKIM_TOKEN_COUNT):
            spec = dkim.apply(lambda records, i=slot: records[i])
            dkim_resources.append(record(f"dkim-{slot + 1}", name=spec.apply(lambda r: r.name),
                                         type_=DKIM_RECORD_TYPE, values=spec.apply(route53_values)))
        records = [record(spec.purpose, name=spec.name, type_=spec.type, values=route53_values(spec))
                   for spec in static]
        return records, dkim_resources


@register_dns
class ExternalDns(DnsProvider):
    """Kept elsewhere: no zone is looked up and no record created; whoever keeps the domain's DNS
    publishes the records of the `dns_records` output."""

    name = "external"


@register_dns
class CloudflareDns(DnsProvider):
    """Records created as Cloudflare DNS records, never proxied, in the zone `zone_id:` or the
    zone named `zone:` (else the domain); the records' inputs are ses_mail.specs.cloudflare's,
    created by ses_mail.modes.cloudflare."""

    name = "cloudflare"
    host = "Cloudflare"
    uses_zone = True
    zone_by_id = True
    cloudflare_zone = True
    package = "cloudflare"

    def describe_zone(self, zone: str) -> str:
        return f"Cloudflare zone {zone!r}"

    def find_zone(self, sdk: Any, zone: str, invoke: Any, zone_id: Optional[str] = None) -> str:
        # A given id needs no look-up (nor the token's Zone Read permission).
        if zone_id is not None:
            return zone_id
        found: str = sdk("pulumi_cloudflare").get_zone(filter={"name": zone}, opts=invoke).zone_id
        return found

    def publish(self, component: Any, domain: Any, zone_id: Optional[Any], dkim: Any,
                static: Sequence[DnsRecord], opts: Any) -> tuple[list[Any], list[Any]]:
        if zone_id is None:
            raise ValueError(f"{domain.name}: dns {self.name} needs the Cloudflare zone's id")
        return publish_cloudflare_records(component, domain, zone_id=zone_id, static=static, dkim=dkim, opts=opts)

    def record_problems(self, specs: Sequence[DnsRecord]) -> Optional[list[tuple[DnsRecord, str, str]]]:
        return [(spec, what, message) for spec, record in zip(specs, cloudflare_records(specs), strict=True)
                for what, message in record_problems(record)]
