"""What already exists in the AWS account, read through boto3 and nothing but read calls.

Every client this module hands out carries the live commands' botocore `before-call` guard
(`ses_mail.live.clients.guard`), which refuses any operation whose name does not start with Get,
List or Describe, so a bug here can never change the account. Clients honour the usual configuration, `AWS_ENDPOINT_URL` (and the per-service
`AWS_ENDPOINT_URL_<SERVICE>`) included: botocore reads it, and nothing here overrides it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ses_mail.live.clients import guard


@dataclass(frozen=True)
class RecordSet:
    """A Route 53 record set as `ListResourceRecordSets` returns it (name without the final dot)."""

    name: str
    type: str
    ttl: int | None
    values: tuple[str, ...]
    routing: str = ""        # alias target, set identifier...: what a plain record cannot express

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> "RecordSet":
        routing = []
        if item.get("AliasTarget"):
            routing.append(f"alias to {item['AliasTarget'].get('DNSName', '?')}")
        if item.get("SetIdentifier"):
            routing.append(f"routing policy (set identifier {item['SetIdentifier']!r})")
        return cls(name=dns_name(item["Name"]), type=item["Type"], ttl=item.get("TTL"),
                   values=tuple(r["Value"] for r in item.get("ResourceRecords") or ()),
                   routing="; ".join(routing))


def dns_name(name: str) -> str:
    """A name as Route 53 lists it (`_dmarc.example.com.`, `\\052` for `*`) in the program's form."""
    return name.rstrip(".").replace("\\052", "*").lower()


@dataclass(frozen=True)
class Zone:
    name: str
    ids: tuple[str, ...]     # public hosted zones of that name (more than one is ambiguous)


@dataclass
class Account:
    """Read-only access to one account; `clients` (service, region) -> client may be given
    (tests pass botocore-stubbed clients), every other client comes from `session`."""

    session: Any
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    default_region: str = "us-east-1"

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.default_region)
        if key not in self.clients:
            self.clients[key] = self.session.client(service, region_name=key[1])
        return guard(self.clients[key])

    # --- STS ---------------------------------------------------------------------------
    def caller(self) -> dict[str, str]:
        """GetCallerIdentity: the account and principal the credentials belong to."""
        answer = self.client("sts").get_caller_identity()
        return {"account": answer["Account"], "arn": answer["Arn"]}

    # --- SES v2 ------------------------------------------------------------------------
    def identity(self, name: str, region: str) -> dict[str, Any] | None:
        """GetEmailIdentity, or None when the identity does not exist in `region`."""
        ses = self.client("sesv2", region)
        try:
            return ses.get_email_identity(EmailIdentity=name)
        except ses.exceptions.NotFoundException:
            return None

    def identity_names(self, region: str) -> set[str]:
        """Every identity of the region (ListEmailIdentities, all pages), lower-cased."""
        ses = self.client("sesv2", region)
        names: set[str] = set()
        token: str | None = None
        while True:
            page = ses.list_email_identities(PageSize=1000, **({"NextToken": token} if token else {}))
            names.update(i["IdentityName"].lower() for i in page.get("EmailIdentities") or ())
            token = page.get("NextToken")
            if not token:
                return names

    # --- Route 53 ----------------------------------------------------------------------
    def zone(self, name: str) -> Zone:
        """The public hosted zones named `name` (ListHostedZonesByName from that name on)."""
        route53 = self.client("route53")
        wanted = name.rstrip(".").lower() + "."
        ids: list[str] = []
        start: dict[str, str] = {"DNSName": wanted}
        while True:
            page = route53.list_hosted_zones_by_name(MaxItems="100", **start)
            for zone in page.get("HostedZones") or ():
                if zone["Name"].lower() != wanted:
                    return Zone(name, tuple(ids))
                if not (zone.get("Config") or {}).get("PrivateZone"):
                    ids.append(zone["Id"].split("/")[-1])
            if not page.get("IsTruncated"):
                return Zone(name, tuple(ids))
            start = {"DNSName": page["NextDNSName"], "HostedZoneId": page["NextHostedZoneId"]}

    def record_sets(self, zone_id: str, name: str) -> list[RecordSet]:
        """Every record set at exactly `name`, whatever its type (ListResourceRecordSets from
        that name on, which Route 53 orders by name, then type)."""
        route53 = self.client("route53")
        wanted = name.rstrip(".").lower()
        found: list[RecordSet] = []
        start: dict[str, str] = {"StartRecordName": wanted + "."}
        while True:
            page = route53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="100", **start)
            for item in page.get("ResourceRecordSets") or ():
                record = RecordSet.from_api(item)
                if record.name != wanted:
                    return found
                found.append(record)
            if not page.get("IsTruncated"):
                return found
            start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}
            if page.get("NextRecordIdentifier"):
                start["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def ses_regions(session: Any, home: str) -> list[str]:
    """The regions SES v2 is offered in, in the partition of `home`, other than `home`."""
    partition = session.get_partition_for_region(home) if hasattr(session, "get_partition_for_region") else "aws"
    return [r for r in session.get_available_regions("sesv2", partition_name=partition) if r != home]

