"""DNS providers: where a domain's records are published. One class per provider.

A provider says whether the domain names a zone in it (`uses_zone`: the roster's `zone:` and a
look-up before anything is registered), how that zone is found (`find_zone`), and creates the
records (`publish`). Adding a provider: one subclass of `DnsProvider` decorated with
`@register_dns` (docs/architecture.md).
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

from ses_mail.modes.registry import Registry
from ses_mail.specs.dns_records import DKIM_RECORD_TYPE, DKIM_TOKEN_COUNT, DnsRecord, route53_values

_REGISTRY: Registry["DnsProvider"] = Registry("dns", default="route53")


class DnsProvider:
    name: ClassVar[str]
    #: The records are created by this stack in a zone the roster names (`zone:`, else the domain).
    uses_zone: ClassVar[bool] = False

    def describe_zone(self, zone: str) -> str:
        """The zone as errors name it."""
        return f"zone {zone!r}"

    def find_zone(self, sdk: Any, zone: str, invoke: Any) -> str:
        """The zone's id (looked up before anything is registered); any exception: not found."""
        raise NotImplementedError

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
    uses_zone = True

    def describe_zone(self, zone: str) -> str:
        return f"Route53 public hosted zone {zone!r}"

    def find_zone(self, sdk: Any, zone: str, invoke: Any) -> str:
        return sdk("pulumi_aws").route53.get_zone(name=zone, private_zone=False, opts=invoke).zone_id

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
