"""DNS records, parsed as a receiving mail server and a DNS server would parse them."""
from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from checkdmarc.dmarc import parse_dmarc_record

from ses_mail.specs.dns_records import dkim_records, dmarc_record, dmarc_value, mail_from_records, route53_values, static_records
from ses_mail.roster import parse_roster


def domain(extra: str = "", name: str = "example.com"):
    return parse_roster(f"domains:\n  - name: {name}\n{extra}").domains[0]


class _Offline(dns.resolver.Resolver):
    """checkdmarc looks up the rua domain's MX; answer 'no such record' without a network."""

    def __init__(self):
        super().__init__(configure=False)
        self.nameservers = ["127.0.0.1"]

    def resolve(self, qname, rdtype=dns.rdatatype.A, *args, **kwargs):
        raise dns.resolver.NoAnswer()


def receiver_parse(value: str, domain_name: str = "example.com") -> dict:
    """The tags a DMARC receiver reads from the record, explicit and implied."""
    parsed = parse_dmarc_record(value, domain_name, resolver=_Offline())
    return {tag: info["value"] for tag, info in parsed["tags"].items()}


def as_rdata(rtype: str, value: str):
    """Parse a record value the way Route53 serves it (TXT values quoted)."""
    text = f'"{value}"' if rtype == "TXT" else value
    # Route53 treats names in values as fully qualified: parse them relative to the root.
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                              origin=dns.name.root, relativize=False)


TOKENS = ["abcdefghijklmnopqrstuvwxyz234567", "bcdefghijklmnopqrstuvwxyz2345672", "cdefghijklmnopqrstuvwxyz23456723"]


def test_dkim_cnames_point_each_selector_at_amazonses():
    records = dkim_records(domain(), TOKENS, "us-east-1")
    assert [r.name for r in records] == [f"{t}._domainkey.example.com" for t in TOKENS]
    for record, token in zip(records, TOKENS, strict=True):
        rdata = as_rdata(record.type, record.value)
        assert record.type == "CNAME"
        assert rdata.target == dns.name.from_text(f"{token}.dkim.amazonses.com")
        assert dns.name.from_text(record.name).labels[1:3] == (b"_domainkey", b"example")


def test_dkim_needs_exactly_three_tokens():
    with pytest.raises(ValueError, match="expected 3"):
        dkim_records(domain(), TOKENS[:2], "us-east-1")


def test_mail_from_mx_points_at_the_regions_feedback_endpoint():
    mx, spf = mail_from_records(domain(), "eu-central-1")
    rdata = as_rdata(mx.type, mx.value)
    assert mx.name == "mail.example.com" and mx.type == "MX"
    assert rdata.preference == 10
    assert rdata.exchange == dns.name.from_text("feedback-smtp.eu-central-1.amazonses.com")


def test_mail_from_spf_authorises_amazonses_and_softfails_the_rest():
    _, spf = mail_from_records(domain("    mail_from: bounce\n"), "us-east-1")
    assert spf.name == "bounce.example.com" and spf.type == "TXT"
    (string,) = as_rdata("TXT", spf.value).strings  # one string, under 255 bytes
    terms = string.decode().split()
    # RFC 7208: the version first, then mechanisms evaluated left to right.
    assert terms[0] == "v=spf1"
    assert terms[1:] == ["include:amazonses.com", "~all"]


def test_the_apex_is_never_given_an_spf_record():
    records = static_records(domain(), "us-east-1") + dkim_records(domain(), TOKENS, "us-east-1")
    assert not [r for r in records if r.name == "example.com"]
    assert {r.name for r in records if r.value.startswith("v=spf1")} == {"mail.example.com"}


def test_default_dmarc_is_monitoring_only_as_a_receiver_reads_it():
    record = dmarc_record(domain())
    assert record.name == "_dmarc.example.com" and record.type == "TXT"
    assert record.value == "v=DMARC1; p=none"
    tags = receiver_parse(record.value)
    assert tags["p"] == "none" and tags["adkim"] == "r" and tags["aspf"] == "r"


def test_full_dmarc_record_as_a_receiver_reads_it():
    d = domain("""    dmarc:
      policy: reject
      subdomain_policy: quarantine
      nonexistent_subdomain_policy: reject
      dkim_alignment: strict
      spf_alignment: relaxed
      rua: [dmarc@example.com, mailto:agg@example.com]
      ruf: [forensic@example.com]
      testing: true
""")
    value = dmarc_value(d.dmarc)
    assert "pct" not in value  # removed by RFC 9989
    tags = receiver_parse(value)
    assert tags["p"] == "reject" and tags["sp"] == "quarantine" and tags["np"] == "reject"
    assert tags["adkim"] == "s" and tags["aspf"] == "r" and tags["t"] == "y"
    assert [u["address"] for u in tags["rua"]] == ["dmarc@example.com", "agg@example.com"]
    assert [u["scheme"] for u in tags["rua"]] == ["mailto", "mailto"]
    assert [u["address"] for u in tags["ruf"]] == ["forensic@example.com"]
    assert value.startswith("v=DMARC1; p=reject")
    assert len(as_rdata("TXT", value).strings[0]) <= 255


def test_dmarc_false_publishes_nothing():
    assert dmarc_record(domain("    dmarc: false\n")) is None
    assert [r.purpose for r in static_records(domain("    dmarc: false\n"), "us-east-1")] == ["mail-from-mx", "mail-from-spf"]


def test_records_use_the_roster_ttl():
    d = domain("    ttl: 3600\n")
    assert {r.ttl for r in static_records(d, "us-east-1") + dkim_records(d, TOKENS, "us-east-1")} == {3600}


def test_regions_with_their_own_dkim_zone_get_cnames_into_it():
    (first, *_) = dkim_records(domain(), TOKENS, "ap-northeast-3")
    assert as_rdata("CNAME", first.value).target == dns.name.from_text(f"{TOKENS[0]}.dkim.ap-northeast-3.amazonses.com")
    (first, *_) = dkim_records(domain(), TOKENS, "ap-northeast-1")
    assert first.value == f"{TOKENS[0]}.dkim.amazonses.com"


def test_a_long_dmarc_record_is_split_into_strings_a_receiver_joins():
    reports = "\n".join(f"        - reports-{i}-aggregate@example.com" for i in range(12))
    d = domain(f"    dmarc:\n      policy: reject\n      rua:\n{reports}\n")
    record = dmarc_record(d)
    assert len(record.value) > 255
    (value,) = route53_values(record)
    rdata = as_rdata("TXT", value)  # Route53 wraps the value in quotes: "a""b" is two strings
    assert len(rdata.strings) > 1 and all(len(part) <= 255 for part in rdata.strings)
    joined = b"".join(rdata.strings).decode()
    assert joined == record.value
    assert len(receiver_parse(joined)["rua"]) == 12


def test_short_values_pass_to_route53_unchanged():
    for record in static_records(domain(), "us-east-1"):
        assert route53_values(record) == [record.value]
