"""`ses-mail doctor` for `dns: cloudflare` domains: the delegation is checked against the
Cloudflare zone's `name_servers`, read through the official client from the emulated API."""
from __future__ import annotations

from ses_mail.live.cloudflare import CloudflareReader
from ses_mail.live import doctor
from ses_mail.live.findings import Answer
from tests.support.cloudflare_api import DNS_READ, TOKEN, CloudflareState, Zone, serve_cloudflare


class Resolver:
    """Public answers by (name, type); the doctor asks nothing else of a resolver here."""

    def __init__(self, answers: dict[tuple[str, str], tuple[str, ...]]) -> None:
        self.answers = answers

    def lookup(self, name: str, type_: str) -> Answer:
        return Answer(self.answers.get((name, type_), ()))


def reader(url: str) -> CloudflareReader:
    import cloudflare

    return CloudflareReader(cloudflare.Cloudflare(api_token=TOKEN, base_url=url, max_retries=0))


def test_delegation_is_checked_against_the_cloudflare_zones_name_servers():
    zone = Zone("cf.example", name_servers=("ada.ns.cloudflare.com", "bob.ns.cloudflare.com"))
    zone.add("mail", "MX", "feedback-smtp.eu-west-1.amazonses.com", priority=10)
    with serve_cloudflare(CloudflareState([zone])) as url:
        found = doctor.cloudflare_zone(reader(url), "cf.example", None)
    assert found["name_servers"] == ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]
    assert ("mail.cf.example", "MX") in found["records"]
    delegated = Resolver({("cf.example", "NS"): ("ada.ns.cloudflare.com.", "BOB.ns.cloudflare.com.")})
    assert doctor.check_zone("cf.example", delegated, found, "Cloudflare") == []
    elsewhere = Resolver({("cf.example", "NS"): ("ns-1.awsdns-01.org.",)})
    [finding] = doctor.check_zone("cf.example", elsewhere, found, "Cloudflare")
    assert finding.code == "delegation-mismatch" and "its Cloudflare zone's name servers" in finding.message
    assert "ada.ns.cloudflare.com" in finding.fix and finding.details["provider"] == "Cloudflare"


def test_zone_id_is_read_directly_and_an_unreadable_zone_is_a_note():
    zone = Zone("cf.example")
    state = CloudflareState([zone])
    with serve_cloudflare(state) as url:
        assert doctor.cloudflare_zone(reader(url), "cf.example", zone.id)["id"] == zone.id
        state.permissions = {DNS_READ}   # no Zone Read: the zone cannot be read
        assert doctor.cloudflare_zone(reader(url), "cf.example", None) is None
    [note] = doctor.check_zone("cf.example", Resolver({("cf.example", "NS"): ("x.ns.cloudflare.com.",)}), None,
                               "Cloudflare")
    assert note.code == "zone-not-read" and note.severity == "info"
