"""The local DNS server of tests/support, queried with dnspython over UDP and TCP."""
from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from tests.support.dns_server import resolver_for, serve_zone

ROWS = [
    ("test1.com", "SOA", "ns.test1.com. hostmaster.test1.com. 1 7200 900 1209600 300", 600),
    ("test1.com", "A", "192.0.2.10", 600),
    ("mail.test1.com", "MX", "10 feedback-smtp.ap-northeast-1.amazonses.com", 600),
    ("mail.test1.com", "TXT", "v=spf1 include:amazonses.com ~all", 600),
    ("sel._domainkey.test1.com", "CNAME", "sel.dkim.amazonses.com", 600),
    ("sel.dkim.amazonses.com", "TXT", ["v=DKIM1; k=rsa; p=" + "A" * 200, "B" * 100], 600),
    ("loop1.test1.com", "CNAME", "loop2.test1.com", 600),
    ("loop2.test1.com", "CNAME", "loop1.test1.com", 600),
]


def ask(server, name: str, rtype: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, server.host, port=server.port, timeout=2)


@pytest.mark.usefixtures("loopback_only")
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_answers_are_authoritative_over_udp_and_tcp(dns_zone, tcp):
    dns_zone.replace(ROWS)
    response = ask(dns_zone, "test1.com", "A", tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA and not response.flags & dns.flags.RA
    assert [rr.to_text() for rr in response.answer] == ["test1.com. 600 IN A 192.0.2.10"]


def test_mx_and_multi_string_txt(dns_zone):
    dns_zone.replace(ROWS)
    resolver = resolver_for(dns_zone)
    mx = resolver.resolve("mail.test1.com", "MX")
    assert [(r.preference, r.exchange.to_text()) for r in mx] == [(10, "feedback-smtp.ap-northeast-1.amazonses.com.")]
    txt = resolver.resolve("sel.dkim.amazonses.com", "TXT")
    assert [r.strings for r in txt] == [(b"v=DKIM1; k=rsa; p=" + b"A" * 200, b"B" * 100)]


def test_cname_is_answered_with_the_in_zone_target(dns_zone):
    dns_zone.replace(ROWS)
    response = ask(dns_zone, "sel._domainkey.test1.com", "TXT")
    assert [dns.rdatatype.to_text(r.rdtype) for r in response.answer] == ["CNAME", "TXT"]
    # dnspython's stub resolver follows the chain in the answer, as it does behind a recursor.
    answer = resolver_for(dns_zone).resolve("sel._domainkey.test1.com", "TXT")
    assert answer.canonical_name.to_text() == "sel.dkim.amazonses.com."
    # Asking for the CNAME itself gets the CNAME alone.
    assert [r.target.to_text() for r in resolver_for(dns_zone).resolve("sel._domainkey.test1.com", "CNAME")] \
        == ["sel.dkim.amazonses.com."]


def test_cname_loops_and_out_of_zone_targets_stop_the_chain():
    with serve_zone(ROWS, origins=["test1.com"]) as server:
        response = ask(server, "sel._domainkey.test1.com", "TXT")
        assert response.rcode() == dns.rcode.NOERROR
        assert [dns.rdatatype.to_text(r.rdtype) for r in response.answer] == ["CNAME"]  # target not served here
        assert ask(server, "sel.dkim.amazonses.com", "TXT").rcode() == dns.rcode.REFUSED
        loop = ask(server, "loop1.test1.com", "A")
        assert [r.to_text() for r in loop.answer] == ["loop1.test1.com. 600 IN CNAME loop2.test1.com.",
                                                      "loop2.test1.com. 600 IN CNAME loop1.test1.com."]


def test_data_beside_a_cname_is_served_as_given(dns_zone):
    """A conflict no real zone accepts, planted for the doctor's tests: both are answered."""
    dns_zone.replace(ROWS + [("sel._domainkey.test1.com", "TXT", "v=DKIM1; p=MIIB", 600),
                             ("_dmarc.test1.com", "CNAME", "dmarc.vendor.example.net", 600)])
    response = ask(dns_zone, "sel._domainkey.test1.com", "TXT")
    assert sorted(dns.rdatatype.to_text(r.rdtype) for r in response.answer) == ["CNAME", "TXT"]
    assert all(r.name.to_text() == "sel._domainkey.test1.com." for r in response.answer)
    assert [dns.rdatatype.to_text(r.rdtype) for r in ask(dns_zone, "sel._domainkey.test1.com", "CNAME").answer] \
        == ["CNAME"]
    # A CNAME leaving the zone's data: the CNAME is answered, the target does not exist here.
    dmarc = ask(dns_zone, "_dmarc.test1.com", "TXT")
    assert [r.to_text() for r in dmarc.answer] == ["_dmarc.test1.com. 600 IN CNAME dmarc.vendor.example.net."]


def test_nxdomain_versus_nodata(dns_zone):
    dns_zone.replace(ROWS)
    missing = ask(dns_zone, "nope.test1.com", "TXT")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert [r.rdtype for r in missing.authority] == [dns.rdatatype.SOA]
    nodata = ask(dns_zone, "test1.com", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert [r.rdtype for r in nodata.authority] == [dns.rdatatype.SOA]
    # An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
    assert ask(dns_zone, "_domainkey.test1.com", "TXT").rcode() == dns.rcode.NOERROR
    resolver = resolver_for(dns_zone)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nope.test1.com", "TXT")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("test1.com", "TXT")


def test_records_can_be_replaced_added_and_removed_while_serving(dns_zone):
    dns_zone.replace(ROWS)
    resolver = resolver_for(dns_zone)
    dns_zone.remove("mail.test1.com", "TXT")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("mail.test1.com", "TXT")
    assert resolver.resolve("mail.test1.com", "MX")  # the other type stays
    dns_zone.add("mail.test1.com", "TXT", "v=spf1 -all")
    assert [r.strings for r in resolver.resolve("mail.test1.com", "TXT")] == [(b"v=spf1 -all",)]
    with pytest.raises(KeyError):
        dns_zone.remove("nope.test1.com")
    dns_zone.replace([])
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("test1.com", "A")
    assert ("test1.com", "A") in dns_zone.queries
    assert dns_zone.address == f"127.0.0.1:{dns_zone.port}"


def test_a_txt_string_over_255_bytes_must_be_given_split(dns_zone):
    with pytest.raises(ValueError, match="at most 255"):
        dns_zone.replace([("x.test1.com", "TXT", "v" * 256, 60)])


def test_loopback_only_refuses_other_addresses(loopback_only):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(AssertionError, match="off the loopback"):
            sock.sendto(b"x", ("192.0.2.1", 53))  # TEST-NET-1: never sent, the guard refuses first
