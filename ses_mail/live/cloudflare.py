"""Reading Cloudflare zones, read-only, with the official `cloudflare` client: for `ses-mail
adopt` (ses_mail.adoption.cloudflare compares the records with the program's) and `ses-mail
doctor` (the zone's name servers, for the delegation check).

The calls made, and the permission each needs (a token lacking one gets `CloudflareAccessError`,
naming the call): GET /zones?name= (Zone Read; only for zones found by name), GET
/zones/{zone_id} (Zone Read; also the name servers), GET /zones/{zone_id}/dns_records (DNS
Read). Nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

#: What each read call needs, as Cloudflare's token editor names the permission.
PERMISSION = {"zones.list": "Zone > Zone > Read", "zones.get": "Zone > Zone > Read",
              "dns.records.list": "Zone > DNS > Read (DNS Edit includes it)"}


class CloudflareAccessError(Exception):
    """The API token cannot make a read call adopt needs (or the API cannot be reached)."""


@dataclass(frozen=True)
class ZoneRecord:
    id: str
    name: str
    type: str
    content: str
    ttl: int
    proxied: bool
    priority: int | None = None


@dataclass(frozen=True)
class CloudflareZone:
    id: str
    name: str
    name_servers: tuple[str, ...]


class CloudflareReader:
    """Read-only access to zones through the official client (`cloudflare.Cloudflare`)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._records: dict[str, list[ZoneRecord]] = {}

    @classmethod
    def from_environment(cls, *, api_token: str | None = None, base_url: str | None = None) -> "CloudflareReader":
        """A client from CLOUDFLARE_API_TOKEN (and CLOUDFLARE_BASE_URL), as the client reads them."""
        import os

        import cloudflare

        if not (api_token or os.environ.get("CLOUDFLARE_API_TOKEN")):
            raise CloudflareAccessError("domains with dns: cloudflare are read with a Cloudflare API token: set "
                                        "CLOUDFLARE_API_TOKEN (Zone Read and DNS Read on the zones are enough)")
        try:
            return cls(cloudflare.Cloudflare(api_token=api_token, base_url=base_url, max_retries=4))
        except cloudflare.CloudflareError as err:
            raise CloudflareAccessError(f"no Cloudflare API token: set CLOUDFLARE_API_TOKEN ({err})") from None

    def _call(self, what: str, target: str, fn: Callable[[], Any]) -> Any:
        import cloudflare

        try:
            return fn()
        except (cloudflare.PermissionDeniedError, cloudflare.AuthenticationError) as err:
            raise CloudflareAccessError(
                f"the Cloudflare API token may not {what} {target} (HTTP {err.status_code}: {_errors(err)}): "
                f"it needs {PERMISSION[what]} on that zone") from None
        except cloudflare.NotFoundError as err:
            raise CloudflareAccessError(f"Cloudflare has no {target} ({what}: {_errors(err)})") from None
        except cloudflare.RateLimitError as err:
            raise CloudflareAccessError(f"Cloudflare kept refusing {what} for {target} as rate-limited "
                                        f"after retries ({_errors(err)}): run again later") from None
        except cloudflare.APIConnectionError as err:
            raise CloudflareAccessError(f"the Cloudflare API could not be reached ({what} {target}): {err}") from None

    def zone_by_name(self, name: str) -> list[CloudflareZone]:
        found = self._call("zones.list", f"the zone named {name}",
                           lambda: list(self.client.zones.list(name=name, per_page=50)))
        return [_zone(z) for z in found if z.name == name]

    def zone(self, zone_id: str) -> CloudflareZone:
        return _zone(self._call("zones.get", f"zone {zone_id}", lambda: self.client.zones.get(zone_id=zone_id)))

    def records(self, zone_id: str) -> list[ZoneRecord]:
        if zone_id not in self._records:
            found = self._call("dns.records.list", f"the DNS records of zone {zone_id}",
                               lambda: list(self.client.dns.records.list(zone_id=zone_id, per_page=500)))
            self._records[zone_id] = [ZoneRecord(r.id, r.name.lower(), r.type, r.content or "", int(r.ttl),
                                                 bool(r.proxied), int(r.priority) if getattr(r, "priority", None)
                                                 is not None else None) for r in found]
        return self._records[zone_id]


def _errors(err: Any) -> str:
    body = getattr(err, "body", None)
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if errors:
        return "; ".join(f"{e.get('code')} {e.get('message')}" for e in errors if isinstance(e, Mapping))
    return str(err)


def _zone(z: Any) -> CloudflareZone:
    return CloudflareZone(z.id, z.name, tuple(z.name_servers or ()))
