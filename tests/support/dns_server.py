"""A real DNS server on 127.0.0.1 for tests, serving a zone given as rows.

    with serve_zone([("test1.com", "MX", "10 mx.test1.com", 600)]) as server:
        resolver_for(server).resolve("test1.com", "MX")

It is dnslib's `DNSServer` (UDP and TCP on one random free port) with a resolver that answers
as an authoritative server does:

- the AA flag on every answer, RA off (it does not recurse);
- NXDOMAIN for a name that does not exist, NODATA (NOERROR, empty answer) for a name that
  exists without the asked type, including an empty non-terminal (`_domainkey.test1.com`
  when only `<token>._domainkey.test1.com` has records);
- a CNAME is answered with the CNAME and, while the target is in the zone, the target's
  records of the asked type (the chain is followed, loops stop); a query for the CNAME
  type itself gets the CNAME alone;
- data beside a CNAME, which a real zone refuses, is served exactly as given, so that tests
  can plant the conflict: a name holding a CNAME and records of the asked type is answered
  with both;
- negative answers carry the SOA of the closest enclosing zone when the rows have one.

Rows are `(name, type, value, ttl)`. Values are zone-file text (`10 host` for MX, a name for
CNAME); names are absolute with or without the trailing dot. A TXT value is one
character-string, or a list of them (a string longer than 255 characters must be given as
a list, as it is published: the server does not split). `origins` names the zones served:
by default the server is authoritative for every name, so unknown names are NXDOMAIN;
given origins, other names are REFUSED and CNAME chains stop where they leave the zones.

Not supported: wildcards, DNSSEC, delegations (NS below an origin is served as data).
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence, Union

import dns.resolver
import pytest
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Value = Union[str, Sequence[str]]
Row = tuple[str, str, Value, int]

__all__ = ["LocalDnsServer", "Row", "ZoneResolver", "dns_zone", "loopback_only", "resolver_for", "serve_zone"]


def _key(name: object) -> str:
    return str(name).rstrip(".").lower()


def _rr(name: str, rtype: str, value: Value, ttl: int) -> RR:
    rtype = rtype.upper()
    owner = _key(name) + "."
    if rtype == "TXT":
        strings = [value] if isinstance(value, str) else list(value)
        for s in strings:
            if len(s.encode()) > 255:
                raise ValueError(f"TXT at {name}: a character-string is at most 255 bytes; give a list")
        return RR(owner, QTYPE.TXT, ttl=ttl, rdata=TXT([s.encode() for s in strings]))
    if not isinstance(value, str):
        raise ValueError(f"{rtype} at {name}: only TXT values may be lists")
    # Zone-file parsing from dnslib; `$ORIGIN .` makes names in values absolute, as Route53 reads them.
    records = RR.fromZone(f"$ORIGIN .\n{owner} {ttl} IN {rtype} {value}")
    if len(records) != 1:
        raise ValueError(f"{rtype} at {name}: cannot parse {value!r}")
    return records[0]


class ZoneResolver(BaseResolver):
    """dnslib resolver over a set of rows; `replace`, `add` and `remove` are thread-safe."""

    MAX_CHAIN = 8

    def __init__(self, rows: Iterable[Row] = (), origins: Iterable[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, list[RR]] = {}
        self.origins = None if origins is None else {_key(o) for o in origins}
        self.queries: list[tuple[str, str]] = []  # (name, type) as asked, for assertions
        self.replace(rows)

    # --- the data -------------------------------------------------------------------------
    def replace(self, rows: Iterable[Row]) -> None:
        records: dict[str, list[RR]] = {}
        for name, rtype, value, ttl in rows:
            records.setdefault(_key(name), []).append(_rr(name, rtype, value, ttl))
        with self._lock:
            self._records = records

    def add(self, name: str, rtype: str, value: Value, ttl: int = 300) -> None:
        rr = _rr(name, rtype, value, ttl)
        with self._lock:
            self._records.setdefault(_key(name), []).append(rr)

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Drop the records of `rtype` (all types if None) at `name`; KeyError if none were there."""
        key = _key(name)
        with self._lock:
            kept = [rr for rr in self._records.get(key, []) if rtype and QTYPE[rr.rtype] != rtype.upper()]
            if len(kept) == len(self._records.get(key, [])):
                raise KeyError(f"no {rtype or 'records'} at {name}")
            if kept:
                self._records[key] = kept
            else:
                del self._records[key]

    # --- answering ------------------------------------------------------------------------
    def _in_zone(self, name: str) -> bool:
        return self.origins is None or any(name == o or name.endswith("." + o) for o in self.origins)

    def _exists(self, records: dict[str, list[RR]], name: str) -> bool:
        return name in records or any(n.endswith("." + name) for n in records)  # or empty non-terminal

    def _soa(self, records: dict[str, list[RR]], name: str) -> list[RR]:
        labels = name.split(".")
        for i in range(len(labels)):
            soa = [rr for rr in records.get(".".join(labels[i:]), []) if rr.rtype == QTYPE.SOA]
            if soa:
                return soa
        return []

    def resolve(self, request, handler):
        reply = request.reply(ra=0, aa=1)
        qname, qtype = _key(request.q.qname), request.q.qtype
        self.queries.append((qname, QTYPE[qtype]))
        with self._lock:
            records = self._records
        if not self._in_zone(qname):
            reply.header.aa = 0
            reply.header.rcode = RCODE.REFUSED
            return reply
        name, seen = qname, set()
        while True:
            seen.add(name)
            here = records.get(name, [])
            matching = [rr for rr in here if qtype == QTYPE.ANY or rr.rtype == qtype]
            cname = [rr for rr in here if rr.rtype == QTYPE.CNAME]
            if matching or not cname:
                if matching and qtype not in (QTYPE.CNAME, QTYPE.ANY):
                    for rr in cname:  # a conflict planted by the test: served as given
                        reply.add_answer(rr)
                for rr in matching:
                    reply.add_answer(rr)
                if not matching:
                    if not self._exists(records, name):
                        reply.header.rcode = RCODE.NXDOMAIN
                    for rr in self._soa(records, name):
                        reply.add_auth(rr)
                return reply
            reply.add_answer(cname[0])
            target = _key(cname[0].rdata.label)
            if target in seen or len(seen) >= self.MAX_CHAIN or not self._in_zone(target):
                return reply
            name = target


class _QuietLogger(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error", prefix=False)


class LocalDnsServer:
    """UDP and TCP dnslib servers on 127.0.0.1, one port, in daemon threads."""

    def __init__(self, rows: Iterable[Row] = (), origins: Iterable[str] | None = None) -> None:
        self.host = "127.0.0.1"
        self.zone = ZoneResolver(rows, origins)
        self._servers: list[DNSServer] = []

    # The zone's editing methods, on the server for brevity in tests.
    def replace(self, rows: Iterable[Row]) -> None:
        self.zone.replace(rows)

    def add(self, name: str, rtype: str, value: Value, ttl: int = 300) -> None:
        self.zone.add(name, rtype, value, ttl)

    def remove(self, name: str, rtype: str | None = None) -> None:
        self.zone.remove(name, rtype)

    @property
    def queries(self) -> list[tuple[str, str]]:
        return self.zone.queries

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, as a `--resolver` option takes it."""
        return f"{self.host}:{self.port}"

    def start(self) -> "LocalDnsServer":
        for _ in range(20):  # a free UDP port whose TCP twin is free too
            udp = DNSServer(self.zone, address=self.host, port=0, logger=_QuietLogger())
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self.zone, address=self.host, port=port, tcp=True, logger=_QuietLogger())
            except OSError:
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:  # DNSServer.start_thread, with a shorter shutdown poll
                server.thread = threading.Thread(target=server.server.serve_forever,
                                                 kwargs={"poll_interval": 0.05}, daemon=True)
                server.thread.start()
            return self
        raise RuntimeError("no free port for both UDP and TCP on 127.0.0.1")

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        self._servers = []

    def __enter__(self) -> "LocalDnsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serve_zone(rows: Iterable[Row] = (), origins: Iterable[str] | None = None) -> Iterator[LocalDnsServer]:
    with LocalDnsServer(rows, origins) as server:
        yield server


def resolver_for(server: LocalDnsServer, timeout: float = 2.0) -> dns.resolver.Resolver:
    """A dnspython stub resolver that asks `server` only (no /etc/resolv.conf, no search list)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


@pytest.fixture
def dns_zone() -> Iterator[LocalDnsServer]:
    """A running server with an empty zone, stopped after the test; fill it with `.replace(rows)`."""
    with serve_zone() as server:
        yield server


def _loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and the like
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return address[0] == "localhost"


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything in it connects or sends to an address off this machine."""
    for method in ("connect", "connect_ex", "sendto"):
        original = getattr(socket.socket, method)

        def guarded(sock, *args, _original=original, _method=method):
            address = args[-1]
            if not _loopback(address):
                raise AssertionError(f"network use off the loopback: socket.{_method}({address!r})")
            return _original(sock, *args)

        monkeypatch.setattr(socket.socket, method, guarded)
