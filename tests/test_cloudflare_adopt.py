"""`ses-mail adopt` for `dns: cloudflare` domains: the zone read through the official `cloudflare`
client against an emulated v4 API on 127.0.0.1 (tests/support/cloudflare_api.py: envelopes,
pagination, 403 and 429 answers), SES as in tests/test_adopt.py."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import pytest

from ses_mail.specs.cloudflare import DNS_RECORD_TYPE, txt_content
from tests import test_adopt as base
from tests.support.cloudflare_api import (DNS_READ, TOKEN, ZONE_READ, CloudflareState, Zone, serve_cloudflare)

REGION = base.REGION
TOKENS = base.TOKENS

ADOPT_CF = """
domains:
  - name: cf.example
    dns: cloudflare
    existing: adopt
    dmarc:
      policy: quarantine
people:
  - email: ann@cf.example
"""


def full_zone() -> Zone:
    zone = Zone("cf.example")
    for token in TOKENS:
        zone.add(f"{token}._domainkey.cf.example", "CNAME", f"{token}.dkim.amazonses.com", ttl=1)
    zone.add("mail", "MX", f"feedback-smtp.{REGION}.amazonses.com", priority=10)
    zone.add("mail.cf.example", "TXT", '"v=spf1 include:amazonses.com ~all"')
    zone.add("mail.cf.example", "TXT", '"google-site-verification=abc"')   # someone else's: stays
    zone.add("_dmarc", "TXT", "v=DMARC1; p=none")                          # unquoted, made by hand
    zone.add("www", "A", "192.0.2.1", proxied=True)
    return zone


@pytest.fixture
def fake(aws):
    return base.Fake()


project = pytest.fixture(base.project.__wrapped__ if hasattr(base.project, "__wrapped__") else base.project)


@pytest.fixture
def cloudflare_api(monkeypatch):
    """(state, run) where run(directory, fake) runs the command with the token and base URL of
    the emulation in the environment, as a user's shell would have them."""
    state = CloudflareState([full_zone(), Zone("other.example")], max_per_page=3)

    def run(directory, fake, *extra, fmt="json"):
        with serve_cloudflare(state) as url:
            monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
            monkeypatch.setenv("CLOUDFLARE_BASE_URL", url)
            err = io.StringIO()
            with redirect_stderr(err):
                code, report, out = base.adopt(directory, fake, *extra, fmt=fmt)
            return code, report, out, err.getvalue()
    return state, run


def identity(fake):
    fake.identity("cf.example", mail_from="mail.cf.example")
    fake.expect(["cf.example"], searched=False)


def test_records_at_cloudflare_are_imported_by_zone_and_record_id(project, fake, cloudflare_api):
    state, run = cloudflare_api
    state.throttle = {"/client/v4/zones/" + state.zones[0].id + "/dns_records": 1}   # one 429 first
    directory = project(ADOPT_CF)
    identity(fake)
    code, report, out, err = run(directory, fake)
    assert code == 0, (report, err)
    zone = state.zones[0]
    ids = {(r["name"], r["type"]): r["id"] for r in zone.records}
    entries = {e["name"]: e for e in json.loads(out.read_text())["resources"]
               if e["type"] == DNS_RECORD_TYPE}
    assert set(entries) == {"cf.example-dkim-1", "cf.example-dkim-2", "cf.example-dkim-3", "cf.example-mail-from-mx",
                            "cf.example-mail-from-spf", "cf.example-dmarc"}
    spf = next(r for r in zone.records if r["content"].startswith('"v=spf1'))
    assert entries["cf.example-mail-from-spf"]["id"] == f"{zone.id}/{spf['id']}"
    assert entries["cf.example-dmarc"]["id"] == f"{zone.id}/{ids[('_dmarc.cf.example', 'TXT')]}"
    assert entries["cf.example-mail-from-mx"]["id"] == f"{zone.id}/{ids[('mail.cf.example', 'MX')]}"
    # Every entry hangs under the domain's component, as the program registers it.
    assert all(e["parent"] == "cf.example" for e in entries.values())
    resources = base.by_name(report)
    assert resources["cf.example-dmarc"]["changes"] == [
        f"content: 'v=DMARC1; p=none' → '{txt_content('v=DMARC1; p=quarantine')}'", "ttl: 300 → 600"]
    assert resources["cf.example-dkim-1"]["changes"] == ["ttl: automatic → 600"]
    assert resources["cf.example-mail-from-spf"]["changes"] == ["ttl: 300 → 600"]
    # Read-only, paged (3 records a page), throttled once and retried.
    assert {m for m, _ in state.requests} == {"GET"}
    listed = [p for m, p in state.requests if "/dns_records" in p]
    assert len(listed) >= 4 and state.throttle == {"/client/v4/zones/" + zone.id + "/dns_records": 0}


@pytest.mark.parametrize("change, code", [
    (lambda z: z.add("_dmarc", "TXT", '"v=DMARC1; p=reject"'), "duplicate-dmarc"),
    (lambda z: z.add("mail", "TXT", '"v=spf1 -all"'), "duplicate-spf"),
    (lambda z: (z.records.remove(next(r for r in z.records if r["name"] == "_dmarc.cf.example")),
                z.add("_dmarc", "CNAME", "dmarc.provider.example")), "cname-conflict"),
    (lambda z: (z.records.remove(next(r for r in z.records if r["name"].startswith(TOKENS[0]))),
                z.add(f"{TOKENS[0]}._domainkey", "CNAME", "zzzz.dkim.amazonses.com")), "dkim-foreign-token"),
    (lambda z: z.add(f"{TOKENS[1]}._domainkey", "TXT", '"v=DKIM1; p=abc"'), "dkim-name-taken"),
    (lambda z: z.add("mail", "MX", "mx.mailhost.example", priority=5), "mail-from-mx-in-use"),
])
def test_unsafe_zones_are_refused(project, fake, cloudflare_api, change, code):
    state, run = cloudflare_api
    change(state.zones[0])
    directory = project(ADOPT_CF)
    identity(fake)
    exit_code, report, out, _ = run(directory, fake)
    assert exit_code == 1 and code in base.codes(report)
    assert not out.exists()


def test_zone_id_needs_no_zone_read(project, fake, cloudflare_api):
    state, run = cloudflare_api
    state.permissions = {DNS_READ}
    directory = project(ADOPT_CF.replace("    existing: adopt\n", f"    existing: adopt\n    zone_id: {state.zones[0].id}\n"))
    identity(fake)
    code, report, _, err = run(directory, fake)
    assert code == 0, (report, err)
    assert not any(p.split("?")[0].endswith("/zones") for _, p in state.requests)


@pytest.mark.parametrize("permissions, zone_scope, call, permission", [
    ({DNS_READ}, None, "zones.list", "Zone > Zone > Read"),
    ({ZONE_READ}, None, "dns.records.list", "Zone > DNS > Read"),
])
def test_a_token_lacking_a_permission_is_a_clear_error(project, fake, cloudflare_api, permissions, zone_scope,
                                                       call, permission):
    state, run = cloudflare_api
    state.permissions = permissions
    directory = project(ADOPT_CF)
    identity(fake)
    code, report, _, err = run(directory, fake, fmt="text")
    assert code == 2
    assert f"may not {call}" in err and permission in err and "HTTP 403: 10000 Authentication error" in err
    assert TOKEN not in err


def test_no_token_is_a_clear_error(project, fake, monkeypatch):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    directory = project(ADOPT_CF)
    fake.identity("cf.example", mail_from="mail.cf.example")
    err = io.StringIO()
    with redirect_stderr(err):
        code, _, _ = base.adopt(directory, fake, fmt="text")
    assert code == 2 and "CLOUDFLARE_API_TOKEN" in err.getvalue()
