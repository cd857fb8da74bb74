"""A small authoritative DNS server on 127.0.0.1 for the doctor's tests (dnslib).

    with serve_zone([("test1.com", "NS", "ns-1.awsdns-01.org", 600), ...]) as server:
        ses-mail doctor --resolver server.address

Rows are `(name, type, value, ttl)`, served exactly as given (also what a real server would
refuse, such as a CNAME beside a TXT, so that conflicts can be tested): the AA flag on answers,
NXDOMAIN for unknown names, NODATA for a known name without the type, and a CNAME in the answer
of any query for a name that holds one. TXT values longer than 255 bytes are split into
character-strings as Route 53 publishes them. Only loopback is ever bound.
(tests/support/dns_server.py on another branch is the fuller server; the two are to be merged.)
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Row = tuple[str, str, str, int]


def _key(name: object) -> str:
    return str(name).rstrip(".").lower()


def _rr(name: str, rtype: str, value: str, ttl: int) -> RR:
    owner = _key(name) + "."
    if rtype == "TXT":
        data = value.encode()
        return RR(owner, QTYPE.TXT, ttl=ttl, rdata=TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""]))
    return RR.fromZone(f"{owner} {ttl} IN {rtype} {value}")[0]


class _ZoneResolver(BaseResolver):
    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows: list[tuple[str, str, RR]] = [(_key(n), t.upper(), _rr(n, t.upper(), v, ttl)) for n, t, v, ttl in rows]
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request, handler):
        reply = request.reply()
        reply.header.aa = 1
        reply.header.ra = 0
        name, qtype = _key(request.q.qname), QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        at_name = [(t, rr) for n, t, rr in self.rows if n == name]
        if not at_name:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for t, rr in at_name:
            if t == qtype or (t == "CNAME" and qtype != "CNAME"):
                reply.add_answer(rr)
        return reply


@dataclass
class LocalDns:
    server: DNSServer
    resolver: _ZoneResolver

    @property
    def port(self) -> int:
        return self.server.server.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def serve_zone(rows: Iterable[Row]) -> Iterator[LocalDns]:
    resolver = _ZoneResolver(rows)
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    try:
        yield LocalDns(server, resolver)
    finally:
        server.stop()
        server.server.server_close()
