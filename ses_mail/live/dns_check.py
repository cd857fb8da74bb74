"""Asking DNS what the world sees, with dnspython, through one resolver.

`Resolver(server)` sends recursive queries to `server` (`HOST[:PORT]`; default: the system's
first resolver) and returns, for a name and type, only what the name itself holds (`Answer`):
its values of that type and its CNAME if it has one, so that a CNAME beside other data and a
name that is a CNAME where a record is expected are both seen. With `--resolver` the given server
is also taken as the zone's authority (a local or hidden primary can be checked as it is).
"""
from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from ses_mail.live.findings import Answer

TIMEOUT = 3.0


def parse_server(text: str) -> tuple[str, int]:
    """`HOST`, `HOST:PORT`, `[v6]:PORT` or a bare IPv6 address."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def _rdata_text(rtype: str, rdata) -> str:
    if rtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return rdata.to_text()


class Resolver:
    def __init__(self, server: str | None = None, *, timeout: float = TIMEOUT) -> None:
        if server:
            host, port = parse_server(server)
            if not host:
                raise ValueError(f"--resolver {server!r}: no host")
        else:
            try:
                system = dns.resolver.get_default_resolver()
            except dns.resolver.NoResolverConfiguration:
                raise ValueError("no system DNS resolver is configured: give --resolver HOST[:PORT]") from None
            # From resolv.conf: address strings, never dnspython's Nameserver objects.
            host, port = system.nameservers[0], system.port  # type: ignore[assignment]
        self.host, self.port, self.timeout = host, port, timeout

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def _ask(self, name: str, rtype: str) -> dns.message.Message:
        query = dns.message.make_query(dns.name.from_text(name), rtype)
        query.flags |= dns.flags.RD
        response = dns.query.udp(query, self.host, port=self.port, timeout=self.timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, self.host, port=self.port, timeout=self.timeout)
        return response

    def lookup(self, name: str, rtype: str) -> Answer:
        """What `name` itself holds of `rtype` (and its CNAME), or the error."""
        try:
            response = self._ask(name, rtype)
        except (dns.exception.DNSException, OSError) as err:
            return Answer(error=f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return Answer(error=f"{dns.rcode.to_text(rcode)} from {self}")
        owner = dns.name.from_text(name)
        values: list[str] = []
        cname = None
        wanted = dns.rdatatype.from_text(rtype)
        for rrset in response.answer:
            if rrset.name != owner:
                continue
            if rrset.rdtype == wanted:
                values += [_rdata_text(rtype, r) for r in rrset]
            elif rrset.rdtype == dns.rdatatype.CNAME:
                cname = rrset[0].target.to_text().rstrip(".").lower()
        if rtype == "CNAME" and values:
            cname = values[0].rstrip(".").lower()
        return Answer(values=tuple(values), cname=cname)
