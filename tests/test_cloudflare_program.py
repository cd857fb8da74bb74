"""`dns: cloudflare` in the program, under mocks, mixed with Route 53 and external domains: every
record in its zone and never proxied, no drift on a second plan, replacement with delete first
on a name or type change, the plan and diff showing the records under Cloudflare, and the API
token nowhere in them."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pulumi
import pytest

from ses_mail.review.changes import REPLACE, diff_resources, diff_stack, resources
from ses_mail.review.emulation import AwsMocks, fake_cloudflare_zone_id
from ses_mail.review.engine import run_program
from ses_mail.review.render import destructive_lines, property_lines, replace_reason_text
from ses_mail.specs.cloudflare import DNS_RECORD_TYPE, txt_value
from tests.conftest import PROJECT_DIR
from tests.support.cloudflare_api import stored

ROUTE53 = "aws:route53/record:Record"
TOKEN = "cf-token-that-must-never-show-0123456789"
ZONE_ID = "0123456789abcdef0123456789abcdef"

MIXED = """
domains:
  - name: r53.example
    dmarc: {rua: [dmarc@cf.example]}
  - name: cf.example
    dns: cloudflare
    ttl: 3600
    dmarc: {policy: quarantine, rua: [dmarc@r53.example]}
  - name: sub.cf2.example
    dns: cloudflare
    zone: cf2.example
  - name: pinned.example
    dns: cloudflare
    zone_id: 0123456789abcdef0123456789abcdef
  - name: ext.example
    dns: external
people:
  - email: ann@cf.example
  - email: ben@r53.example
"""


def cloudflare_records(run):
    return run.of_type(DNS_RECORD_TYPE)


def by_name(regs):
    return {(r.inputs["name"], r.inputs["type"]): r for r in regs}


@pytest.fixture
def mixed(run):
    return run(MIXED, config={"cloudflare:apiToken": TOKEN})


def test_every_record_is_in_its_zone_and_never_proxied(mixed):
    cf = by_name(cloudflare_records(mixed))
    r53 = by_name(mixed.of_type(ROUTE53))
    zones = {"cf.example": fake_cloudflare_zone_id("cf.example"),
             "sub.cf2.example": fake_cloudflare_zone_id("cf2.example"), "pinned.example": ZONE_ID}
    # Each Cloudflare domain: 3 DKIM CNAMEs, MAIL FROM MX and SPF, DMARC, in its own zone.
    for domain, zone in zones.items():
        mine = {k: r for k, r in cf.items() if k[0].endswith(domain) and "._report." not in k[0]}
        assert sorted(t for _, t in mine) == ["CNAME", "CNAME", "CNAME", "MX", "TXT", "TXT"], domain
        assert {r.inputs["zoneId"] for r in mine.values()} == {zone}
        assert not any(k[0].endswith(domain) for k in r53)
    # r53.example sends its reports to cf.example: the authorisation is in cf.example's zone.
    auth = cf[("r53.example._report._dmarc.cf.example", "TXT")]
    assert auth.inputs["content"] == '"v=DMARC1"' and auth.inputs["zoneId"] == zones["cf.example"]
    assert ("cf.example._report._dmarc.r53.example", "TXT") in r53
    # Route 53 and external domains: nothing at Cloudflare.
    assert not any(k[0].endswith(("r53.example", "ext.example")) for k in cf)
    assert not any(k[0].endswith("ext.example") for k in r53)
    for reg in cf.values():
        assert reg.inputs["proxied"] is False
        options = mixed.options_of(reg)
        assert set(options.replace_on_changes) == {"name", "type"} and options.delete_before_replace
        assert options.parent.endswith("ses-mail:index:SendingDomain::" + next(d for d in zones if reg.inputs["name"].endswith(d)))
    assert cf[("mail.cf.example", "MX")].inputs["priority"] == 10
    assert cf[("mail.cf.example", "MX")].inputs["ttl"] == 3600
    assert txt_value(cf[("_dmarc.cf.example", "TXT")].inputs["content"]).startswith("v=DMARC1; p=quarantine;")


def test_the_zone_is_looked_up_by_name_once_and_zone_id_skips_the_look_up(write_roster):
    mocks = AwsMocks(region="eu-west-1")
    run_program(roster=write_roster(MIXED), region="eu-west-1", mocks=mocks)
    looked_up = [args["filter"]["name"] for token, args in mocks.calls if token == "cloudflare:index/getZone:getZone"]
    assert sorted(looked_up) == ["cf.example", "cf2.example"]


def test_a_missing_zone_is_reported_before_anything_is_registered(write_roster):
    mocks = AwsMocks(region="eu-west-1", cloudflare_zones={"cf.example"})
    with pytest.raises(pulumi.RunError) as caught:
        run_program(roster=write_roster(MIXED), region="eu-west-1", mocks=mocks)
    assert "Cloudflare zone 'cf2.example' (for sub.cf2.example) could not be looked up" in str(caught.value)
    assert mocks.registrations == []


def test_the_api_token_is_in_no_input_output_or_plan(mixed):
    for reg in mixed.registrations:
        assert TOKEN not in repr(reg.inputs) and TOKEN not in repr(reg.outputs)
    assert TOKEN not in repr(mixed.outputs)


def as_resources(run):
    return resources((r.type, r.name, r.inputs, run.options_of(r)) for r in run.registrations)


def test_a_second_plan_after_a_refresh_shows_no_change(run):
    """What a refresh reads back (the emulated API's stored form of each created record) against
    the next plan of the same roster: no Cloudflare record changes."""
    first = run(MIXED)
    refreshed = []
    for reg in first.registrations:
        inputs = dict(reg.inputs)
        if reg.type == DNS_RECORD_TYPE:
            zone = next(z for z in ("cf.example", "cf2.example") if inputs["name"].endswith(z)) \
                if not inputs["name"].endswith("pinned.example") else "pinned.example"
            back = stored(zone, inputs)
            inputs.update(name=back["name"], content=back["content"], proxied=back["proxied"])
        refreshed.append((reg.type, reg.name, inputs, first.options_of(reg)))
    changes, _ = diff_resources(resources(refreshed), as_resources(run(MIXED)))
    assert [c for c in changes if c.type == DNS_RECORD_TYPE] == []


def test_a_renamed_record_is_replaced_deleting_the_old_one_first(run):
    base = run(MIXED)
    head = run(MIXED.replace("    ttl: 3600\n", "    ttl: 3600\n    mail_from: bounce\n"))
    changes, _ = diff_resources(as_resources(base), as_resources(head))
    moved = {c.name: c for c in changes if c.type == DNS_RECORD_TYPE}
    assert set(moved) == {"cf.example-mail-from-mx", "cf.example-mail-from-spf"}
    for change in moved.values():
        assert change.op == REPLACE and "name" in change.replace_reasons
        assert "the old one is deleted before the new one is created" in replace_reason_text(change)
        assert "the name is briefly without the record" in change.consequence
        assert any(line.startswith("was: mail.cf.example ") for line in property_lines(change))
        assert any("bounce.cf.example" in line and "(Cloudflare, not proxied)" in line for line in property_lines(change))


def test_a_type_change_is_a_replacement_by_the_provider_itself():
    """The provider's own RequiresReplace on type (and zone_id), without the resource options."""
    def record(type_: str, content: str):
        return resources([(DNS_RECORD_TYPE, "d-x", {"zoneId": ZONE_ID, "name": "x.d.example", "type": type_,
                                                    "content": content, "ttl": 600, "proxied": False}, None)])
    [change], _ = diff_resources(record("TXT", '"a"'), record("CNAME", "a.example"))
    assert change.op == REPLACE and "type" in change.replace_reasons
    [change], _ = diff_resources(record("TXT", '"a"'), record("TXT", '"b"'))
    assert change.op != REPLACE


def test_moving_a_domain_from_route53_to_cloudflare_shows_both_sides(run):
    base = run(MIXED.replace("  - name: cf.example\n    dns: cloudflare\n", "  - name: cf.example\n"))
    head = run(MIXED)
    changes, _ = diff_resources(as_resources(base), as_resources(head))
    ops = {(c.op, c.type) for c in changes if c.name.startswith("cf.example-") and "report" not in c.name}
    assert ops == {("create", DNS_RECORD_TYPE), ("delete", ROUTE53)}
    lines = "\n".join(destructive_lines(diff_stack(as_resources(base), as_resources(head))))
    assert "DNS record removed" in lines


def test_plan_cli_lists_the_records_under_cloudflare(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "roster.yaml").write_text(textwrap.dedent(MIXED).lstrip())
    (tmp_path / "Pulumi.dev.yaml").write_text(
        f"config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n  cloudflare:apiToken: {TOKEN}\n")
    done = subprocess.run([sys.executable, "-m", "ses_mail.cli.plan", "--stack", "dev"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1", "CLOUDFLARE_API_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert TOKEN not in out + done.stderr
    assert "+ DnsRecord" in out and '_dmarc.cf.example TXT "v=DMARC1; p=quarantine;' in out
    assert "mail.cf.example MX 10 feedback-smtp.eu-west-1.amazonses.com (ttl 3600) (Cloudflare, not proxied)" in out
    table = {tuple(line.split()[:4]) for line in out.splitlines() if line.strip()}
    assert ("mail.cf.example", "MX", "3600", "cloudflare") in table
    assert ("mail.r53.example", "MX", "600", "route53") in table
    assert ("mail.ext.example", "MX", "600", "external") in table
    assert "PROXIED" not in out


def test_pulumi_cloudflare_is_imported_only_for_a_roster_with_a_cloudflare_domain(tmp_path):
    """The provider class reaches `pulumi_cloudflare` through the component: a Route 53 roster's
    run never imports it (about 4 seconds), a Cloudflare one does."""
    script = textwrap.dedent("""
        import sys
        from ses_mail.review.engine import run_program
        run = run_program(roster=sys.argv[1], region="eu-west-1")
        assert run.outputs["identities"], run.outputs
        print("pulumi_cloudflare" in sys.modules)
    """)
    seen = {}
    for dns in ("route53", "cloudflare"):
        roster = tmp_path / f"{dns}.yaml"
        roster.write_text(f"domains:\n  - name: a.example\n    dns: {dns}\npeople:\n  - email: ann@a.example\n")
        done = subprocess.run([sys.executable, "-c", script, str(roster)], cwd=PROJECT_DIR, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        seen[dns] = done.stdout.strip().splitlines()[-1]
    assert seen == {"route53": "False", "cloudflare": "True"}
