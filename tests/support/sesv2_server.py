"""SES v2 over HTTP on 127.0.0.1 for end-to-end runs of `ses-mail doctor` in a subprocess.

moto's SES v2 has no GetAccount and issues no DKIM tokens, so the commands' SES v2 endpoint
(`AWS_ENDPOINT_URL_SESV2`) points here while every other service goes to a moto server. Each
answer is checked against botocore's model of the operation's output before it is served, as
botocore's Stubber checks its responses, so the server can only say what SES itself could say.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import unquote

import botocore.session
from botocore.validate import ParamValidator

_MODEL = botocore.session.get_session().get_service_model("sesv2")


def _checked(operation: str, answer: dict[str, Any]) -> dict[str, Any]:
    report = ParamValidator().validate(answer, _MODEL.operation_model(operation).output_shape)
    if report.has_errors():
        raise ValueError(f"not what SES v2 {operation} returns: {report.generate_report()}")
    return answer


class SesV2State:
    """What the emulated account holds: identities by name (None: NotFound) and the account."""

    def __init__(self, identities: dict[str, dict[str, Any]], account: dict[str, Any]) -> None:
        self.identities = {name: _checked("GetEmailIdentity", a) for name, a in identities.items()}
        self.account = _checked("GetAccount", account)
        self.requests: list[tuple[str, str]] = []


def _handler(state: SesV2State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict[str, Any], error: str | None = None) -> None:
            data = json.dumps(body, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # http.server's name
            path = self.path.split("?", 1)[0]
            state.requests.append(("GET", path))
            if path == "/v2/email/account":
                return self._send(200, state.account)
            prefix = "/v2/email/identities/"
            if path.startswith(prefix):
                name = unquote(path[len(prefix):])
                if name in state.identities:
                    return self._send(200, state.identities[name])
                return self._send(404, {"message": f"Email identity {name} does not exist."}, "NotFoundException")
            self._send(400, {"message": f"this emulation serves no {path}"}, "BadRequestException")

        def do_POST(self) -> None:  # anything that writes
            state.requests.append(("POST", self.path))
            self._send(400, {"message": "read-only emulation"}, "BadRequestException")

        do_PUT = do_DELETE = do_PATCH = do_POST

    return Handler


@contextmanager
def serve_sesv2(identities: dict[str, dict[str, Any]], account: dict[str, Any]) -> Iterator[tuple[str, SesV2State]]:
    """(endpoint URL, state) of an SES v2 emulation on a free port of 127.0.0.1."""
    state = SesV2State(identities, account)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
