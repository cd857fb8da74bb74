"""A local SES-like SMTP endpoint on 127.0.0.1 for the rotation function's testSecret.

aiosmtpd with STARTTLS required (a certificate for 127.0.0.1 made here with `cryptography`), AUTH
only after STARTTLS, and an authenticator that accepts a login exactly as SES does: the username is
an access key id that IAM (moto's) holds as Active, and the password is the SMTP password derived
from that key's secret for the server's region (ses_mail.specs.smtp_password, the package's own
algorithm, not the handler's copy). `reject_first` refuses that many logins that would succeed,
as SES does while a new key propagates. Every MAIL command is recorded: the tests assert none.
"""
from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ses_mail.specs.smtp_password import smtp_password


def make_certificate(directory: Path) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for IP 127.0.0.1: (cert file, key file, cert PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ses-mail test SMTP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, pem


@dataclass
class SmtpEndpoint:
    host: str
    port: int
    client_context: ssl.SSLContext
    region: str
    #: (mechanism, username, accepted, over TLS) per AUTH attempt
    logins: list[tuple[str, str, bool, bool]] = field(default_factory=list)
    mails: list[str] = field(default_factory=list)
    reject_first: int = 0
    #: access key id -> (secret, status); the test points it at moto's IAM
    lookup: Callable[[str], Optional[tuple[str, str]]] = lambda key_id: None


class _Handler:
    def __init__(self, endpoint: SmtpEndpoint) -> None:
        self.endpoint = endpoint

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 - aiosmtpd hook
        self.endpoint.mails.append(address)
        return "550 this test server accepts no mail"


def _authenticator(endpoint: SmtpEndpoint):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode()
        found = endpoint.lookup(username)
        ok = (found is not None and found[1] == "Active"
              and auth_data.password.decode() == smtp_password(found[0], endpoint.region))
        if ok and endpoint.reject_first > 0:
            endpoint.reject_first -= 1
            ok = False
        endpoint.logins.append((mechanism, username, ok, session.ssl is not None))
        return AuthResult(success=ok, handled=False)
    return authenticate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_endpoint(tmp_path):
    cert_file, key_file, pem = make_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    endpoint = SmtpEndpoint("127.0.0.1", _free_port(), ssl.create_default_context(cadata=pem.decode()), "eu-west-1")
    controller = Controller(_Handler(endpoint), hostname=endpoint.host, port=endpoint.port,
                            tls_context=server_context, require_starttls=True, auth_require_tls=True,
                            authenticator=_authenticator(endpoint), auth_required=True)
    controller.start()
    try:
        yield endpoint
    finally:
        controller.stop()
