"""The program's records as Cloudflare record inputs (ses_mail.specs.cloudflare): written in the
form the API stores, so a refresh reads back exactly what was planned, parsed as a receiver
parses TXT, and measured against Cloudflare's limits before anything is registered."""
from __future__ import annotations

import textwrap

import dns.rdata
import pytest
from hypothesis import given, settings, strategies as st

from ses_mail.roster import Deployment, RosterError, parse_roster, parse_roster_checked
from ses_mail.specs import cloudflare as cf
from ses_mail.specs.deliverability import report_records_by_domain
from ses_mail.specs.dns_records import DnsRecord, dkim_records, static_records
from tests.support.cloudflare_api import stored

TOKENS = ["a" * 32, "b" * 32, "c" * 32]


def domain_of(text: str):
    return parse_roster(textwrap.dedent(text).lstrip("\n"), "r.yaml").domains[0]


def problems(text: str) -> list[str]:
    try:
        parse_roster_checked(textwrap.dedent(text).lstrip("\n"), "r.yaml", Deployment(region="eu-west-1"))
    except RosterError as err:
        return [str(p) for p in err.problems]
    return []


def receiver_strings(content: str) -> list[bytes]:
    """The character-strings a resolver serves for this content (dnspython reads the zone-file
    presentation form; it refuses a string over 255 octets, as a zone file would)."""
    return list(dns.rdata.from_text("IN", "TXT", content).strings)


# --- TXT content -------------------------------------------------------------------------------

TXT_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF), min_size=1, max_size=900)


@settings(max_examples=150, deadline=None)
@given(TXT_VALUES)
def test_txt_content_is_what_cloudflare_stores_and_what_receivers_join_back(value):
    content = cf.txt_content(value)
    # The API keeps it unchanged: a refresh reads back the planned content (no drift).
    assert stored("example.com", {"name": "t", "type": "TXT", "content": content})["content"] == content
    # A receiver gets strings of at most 255 octets that join to the value.
    strings = receiver_strings(content)
    assert all(len(s) <= 255 for s in strings)
    assert b"".join(strings).decode("utf-8") == value
    assert cf.txt_value(content) == value
    # The form dnspython (a zone file) writes for the same strings: one canonical presentation.
    assert dns.rdata.from_text("IN", "TXT", content).to_text() == content


def test_unquoted_or_unsplit_txt_would_drift():
    """The forms the program does not write are rewritten (or flagged) by Cloudflare: the
    negative control for the round trip above."""
    long_value = "v=DMARC1; p=none; rua=" + ",".join(f"mailto:r{i}@example.org" for i in range(20))
    assert len(long_value) > 255
    one_string = f'"{long_value}"'
    assert stored("example.com", {"name": "t", "type": "TXT", "content": one_string})["content"] != one_string
    assert stored("example.com", {"name": "t", "type": "TXT", "content": cf.txt_content(long_value)})["content"] \
        == cf.txt_content(long_value)
    # Unquoted content is stored as sent, but is not what the API's schema asks for.
    assert not cf.txt_content("v=spf1 include:amazonses.com ~all").startswith("v=")


def test_txt_value_reads_hand_made_unquoted_content():
    assert cf.txt_value("v=spf1 include:amazonses.com ~all") == "v=spf1 include:amazonses.com ~all"
    assert cf.txt_value('"v=DMARC1; " "p=none"') == "v=DMARC1; p=none"


# --- every record of a domain -------------------------------------------------------------------

def test_every_record_of_a_domain_becomes_an_unproxied_cloudflare_record():
    domain = domain_of("""
        domains:
          - name: Bücher.Example
            dns: cloudflare
            ttl: 3600
            dmarc: {policy: quarantine, rua: [dmarc@reports.example.net]}
    """)
    specs = [*dkim_records(domain, TOKENS, "eu-west-1"), *static_records(domain, "eu-west-1")]
    records = {r.purpose: r for r in cf.cloudflare_records(specs)}
    assert set(records) == {"dkim-1", "dkim-2", "dkim-3", "mail-from-mx", "mail-from-spf", "dmarc"}
    for record in records.values():
        assert record.proxied is False and record.args()["proxied"] is False
        assert record.ttl == 3600
        assert record.name == record.name.lower() and record.name.endswith(".xn--bcher-kva.example")
        assert cf.record_problems(record) == []
    assert records["dkim-1"].args() == {"name": "a" * 32 + "._domainkey.xn--bcher-kva.example", "type": "CNAME",
                                        "ttl": 3600, "content": "a" * 32 + ".dkim.amazonses.com", "proxied": False}
    mx = records["mail-from-mx"].args()
    assert (mx["name"], mx["content"], mx["priority"]) == ("mail.xn--bcher-kva.example",
                                                           "feedback-smtp.eu-west-1.amazonses.com", 10)
    assert "priority" not in records["mail-from-spf"].args()
    assert records["mail-from-spf"].content == '"v=spf1 include:amazonses.com ~all"'
    assert cf.txt_value(records["dmarc"].content).startswith("v=DMARC1; p=quarantine; rua=mailto:")


def test_report_authorisations_and_other_specs_pass_through_generically():
    roster = parse_roster(textwrap.dedent("""
        domains:
          - name: a.example
            dmarc: {rua: [dmarc@b.example]}
          - name: b.example
            dns: cloudflare
    """), "r.yaml")
    [auth] = report_records_by_domain(roster.domains)["b.example"]
    [record] = cf.cloudflare_records([auth])
    assert (record.name, record.type, record.content) == ("a.example._report._dmarc.b.example", "TXT", '"v=DMARC1"')
    # A receiving MX (or any other spec) maps the same way as the MAIL FROM MX.
    [inbound] = cf.cloudflare_records([DnsRecord("In.B.Example.", "MX", 300, "10 inbound-smtp.eu-west-1.amazonaws.com.",
                                                 "receiving-mx")])
    assert inbound.args() == {"name": "in.b.example", "type": "MX", "ttl": 300, "priority": 10,
                              "content": "inbound-smtp.eu-west-1.amazonaws.com", "proxied": False}


# --- limits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ttl, ok", [(1, True), (59, False), (60, True), (86_400, True), (86_401, False), (30, False)])
def test_ttl_range(ttl, ok):
    assert (cf.check_ttl(ttl) is None) is ok
    assert cf.check_ttl(30, enterprise=True) is None


def test_record_limits_at_and_past_the_limit():
    def txt(n_strings: int, last: int) -> cf.CloudflareRecord:
        return cf.CloudflareRecord("t.example.com", "TXT", 300, cf.quoted_strings(["x" * 255] * n_strings + ["y" * last]),
                                   "t")
    # 4,096 octets of RDATA: 16 strings of 255 (256 each) = 4,096 exactly; an empty 17th takes one more.
    assert cf.record_problems(txt(15, 255)) == []
    [(what, message)] = cf.record_problems(txt(16, 0))
    assert what == "content" and "4,097 bytes, 1 over the limit of 4,096 bytes" in message
    bad_string = cf.CloudflareRecord("t.example.com", "TXT", 300, '"' + "z" * 256 + '"', "t")
    assert ("content", "TXT string 1 is 256 bytes, 1 over the limit of 255 bytes for one TXT character-string "
                       "at Cloudflare (Cloudflare API: DNS Records (record schema))") in cf.record_problems(bad_string)
    long_name = cf.CloudflareRecord("a" * 256, "CNAME", 300, "x.example", "n")
    assert [w for w, _ in cf.record_problems(long_name)] == ["name"]
    assert [w for w, _ in cf.record_problems(cf.CloudflareRecord("t.example", "MX", 20, "x.example", "m", 10))] == ["ttl"]


def test_a_cloudflare_domains_dmarc_record_is_measured_by_cloudflares_limits():
    many = ", ".join(f"reports-{i:03d}-{'x' * 30}@example.com" for i in range(80))
    text = f"""
        domains:
          - name: example.com
            dns: cloudflare
            dmarc:
              rua: [{many}]
    """
    [problem] = problems(text)
    assert problem.startswith("r.yaml:4: domains[0].dmarc: makes its Cloudflare TXT record _dmarc.example.com (dmarc), ")
    assert "4,096 bytes for a Cloudflare record's data in wire format" in problem
    # The same roster at Route 53 meets Route 53's limit instead.
    [route53] = problems(text.replace("dns: cloudflare", "dns: route53"))
    assert "Route 53 record value" in route53
    # Fewer addresses fit.
    assert problems(text.replace(many, ", ".join(many.split(", ")[:40]))) == []


def test_zone_id_is_checked_and_only_used_with_cloudflare():
    assert problems("""
        domains:
          - name: example.com
            dns: cloudflare
            zone_id: 0123456789ABCDEF0123456789abcdef
    """) == []
    found = problems("""
        domains:
          - name: example.com
            zone_id: 0123456789abcdef0123456789abcdef
          - name: example.org
            dns: cloudflare
            zone_id: example.org
    """)
    assert found == [
        "r.yaml:3: domains[0].zone_id: '0123456789abcdef0123456789abcdef' is only used with dns cloudflare, "
        "but dns is route53: remove `zone_id`, or set `dns: cloudflare`",
        "r.yaml:6: domains[1].zone_id: 'example.org' is not a Cloudflare zone id (32 hexadecimal characters)",
    ]
