"""A Cloudflare API v4 emulation on 127.0.0.1, for the official `cloudflare` client (base_url).

It answers in the real API's envelope (`{"success", "errors", "messages", "result",
"result_info"}`), pages lists with `page`/`per_page` and `result_info.total_pages` (an empty
page past the end, as the real API does and the client's paginator stops on), refuses what the
token may not do with HTTP 403 and error code 10000 ("Authentication error"), refuses an
unknown token with 401 / 10000 too, and can answer 429 with `Retry-After` (code 971) to a path's
first requests.

Records created through it are stored the way the API documents it stores them, which is what
a refresh reads back (`stored`): the complete name in lower-case Punycode without the trailing
dot (a short name gets the zone appended); TXT content that is quoted has any string over 255
bytes split ("Strings exceeding this allowed maximum length are automatically split") and is
re-written in the quoted presentation form; unquoted TXT content is stored as given (the API
adds no quotes: the dashboard does, and flags the record); CNAME and MX hosts lose the
trailing dot and are lower-cased.
"""
from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import dns.rdataclass
import dns.tokenizer
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT

#: Permissions a token can hold here (the dashboard's names).
ZONE_READ = "Zone:Read"
DNS_READ = "DNS:Read"
DNS_EDIT = "DNS:Edit"
AUTH_ERROR = 10000
RATE_LIMITED = 971
TOKEN = "test-token-not-secret"


def stored(zone: str, record: dict[str, Any]) -> dict[str, Any]:
    """`record` (create parameters) as the API stores and returns it."""
    name = record["name"].rstrip(".").lower()
    if name == "@":
        name = zone
    elif name != zone and not name.endswith("." + zone):
        name = f"{name}.{zone}"
    content = record.get("content", "")
    rtype = record["type"]
    if rtype == "TXT" and content.strip().startswith('"'):
        # dnspython reads the quoted presentation form as a receiver would; longer strings are
        # split at 255 bytes, and the whole is written back quoted, one space between strings.
        tokens = dns.tokenizer.Tokenizer(content.strip())
        read: list[bytes] = []
        while not (token := tokens.get().unescape_to_bytes()).is_eol_or_eof():
            read.append(token.value if isinstance(token.value, bytes) else token.value.encode())
        strings = [s[i:i + 255] for s in read for i in range(0, max(len(s), 1), 255)]
        content = TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings).to_text()
    elif rtype in ("CNAME", "MX"):
        content = content.rstrip(".").lower()
    out = {"id": uuid.uuid4().hex, "name": name, "type": rtype, "content": content,
           "ttl": int(record.get("ttl", 1)), "proxied": bool(record.get("proxied", False)),
           "proxiable": rtype in ("A", "AAAA", "CNAME"), "settings": {}, "meta": {}, "comment": None,
           "tags": [], "created_on": "2026-01-01T00:00:00Z", "modified_on": "2026-01-01T00:00:00Z"}
    if rtype == "MX":
        out["priority"] = int(record.get("priority", 0))
    return out


@dataclass
class Zone:
    name: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    name_servers: tuple[str, ...] = ("ada.ns.cloudflare.com", "bob.ns.cloudflare.com")
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, type_: str, content: str, *, ttl: int = 300, proxied: bool = False,
            priority: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "type": type_, "content": content, "ttl": ttl, "proxied": proxied}
        if priority is not None:
            params["priority"] = priority
        record = stored(self.name, params)
        self.records.append(record)
        return record

    def as_result(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": "active", "paused": False, "type": "full",
                "name_servers": list(self.name_servers), "original_name_servers": None,
                "account": {"id": "0" * 32, "name": "Example account"},
                "created_on": "2026-01-01T00:00:00Z", "modified_on": "2026-01-01T00:00:00Z"}


@dataclass
class CloudflareState:
    zones: list[Zone]
    permissions: set[str] = field(default_factory=lambda: {ZONE_READ, DNS_READ})
    #: Zone ids the token may touch (None: every zone).
    zone_scope: set[str] | None = None
    #: Path prefix -> how many of its next requests get 429.
    throttle: dict[str, int] = field(default_factory=dict)
    retry_after: str = "0"
    #: The largest page served, whatever per_page asks (the real API caps it too).
    max_per_page: int = 5_000
    requests: list[tuple[str, str]] = field(default_factory=list)

    def zone(self, zone_id: str) -> Zone | None:
        return next((z for z in self.zones if z.id == zone_id), None)


def _envelope(result: Any, *, info: dict[str, Any] | None = None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": not errors, "errors": errors or [], "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return body


def _page(items: list[Any], query: dict[str, list[str]], default_per_page: int,
          cap: int) -> tuple[list[Any], dict[str, Any]]:
    page = int(float(query.get("page", ["1"])[0]))
    per_page = min(cap, int(float(query.get("per_page", [str(default_per_page)])[0])))
    total_pages = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page:page * per_page]
    return chunk, {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items),
                   "total_pages": total_pages}


def _handler(state: CloudflareState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(status, _envelope(None, errors=[{"code": code, "message": message}]), headers)

        def _allowed(self, permission: str, zone_id: str | None = None) -> bool:
            if permission not in state.permissions and not (permission == DNS_READ and DNS_EDIT in state.permissions):
                return False
            return zone_id is None or state.zone_scope is None or zone_id in state.zone_scope

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = url.path.rstrip("/"), parse_qs(url.query)
            state.requests.append((method, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._error(401, AUTH_ERROR, "Authentication error")
            for prefix, count in state.throttle.items():
                if path.startswith(prefix) and count > 0:
                    state.throttle[prefix] = count - 1
                    return self._error(429, RATE_LIMITED, "Please wait and consider throttling your request speed",
                                       {"Retry-After": state.retry_after})
            parts = path.split("/")[1:]  # ["client", "v4", "zones", ...]
            if parts[:2] == ["client", "v4"]:
                parts = parts[2:]
            if parts == ["zones"] and method == "GET":
                if not self._allowed(ZONE_READ):
                    return self._error(403, AUTH_ERROR, "Authentication error")
                zones = [z for z in state.zones if state.zone_scope is None or z.id in state.zone_scope]
                if "name" in query:
                    zones = [z for z in zones if z.name == query["name"][0]]
                chunk, info = _page([z.as_result() for z in zones], query, 20, state.max_per_page)
                return self._send(200, _envelope(chunk, info=info))
            if len(parts) >= 2 and parts[0] == "zones":
                zone = state.zone(parts[1])
                if len(parts) == 2 and method == "GET":
                    if zone is None or not self._allowed(ZONE_READ, parts[1]):
                        return self._error(403 if zone else 404, AUTH_ERROR if zone else 7003,
                                           "Authentication error" if zone else "Could not route to /zones: invalid object identifier")
                    return self._send(200, _envelope(zone.as_result()))
                if parts[2:] == ["dns_records"]:
                    if zone is None:
                        return self._error(404, 7003, "Could not route to /zones/dns_records: invalid object identifier")
                    if method == "GET":
                        if not self._allowed(DNS_READ, zone.id):
                            return self._error(403, AUTH_ERROR, "Authentication error")
                        chunk, info = _page(zone.records, query, 100, state.max_per_page)
                        return self._send(200, _envelope(chunk, info=info))
                    if method == "POST":
                        if not self._allowed(DNS_EDIT, zone.id):
                            return self._error(403, AUTH_ERROR, "Authentication error")
                        length = int(self.headers.get("Content-Length", "0"))
                        params = json.loads(self.rfile.read(length) or b"{}")
                        record = stored(zone.name, params)
                        zone.records.append(record)
                        return self._send(200, _envelope(record))
            self._error(400, 7000, f"No route for that URI ({method} {path})")

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


@contextmanager
def serve_cloudflare(state: CloudflareState) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:<port>/client/v4`) of the emulation of `state`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/client/v4"
    finally:
        server.shutdown()
        server.server_close()
