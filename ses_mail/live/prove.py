"""`ses-mail prove`: send as each person through SES's SMTP interface and check every promise.

Every message goes to SES's mailbox simulator (success@, and with the feedback check bounce@ and
complaint@simulator.amazonses.com): nothing reaches a real mailbox, and simulator sends count
against neither the sending reputation nor the sandbox's recipient limits.

Cases, per person, each sent with that person's own SMTP credential:

- P1  own address: must be accepted;
- P2  a colleague's address (same domain first): refused by policy;
- P3  another local part at another roster domain: refused by policy;
- P4  an address at a domain outside the roster (`OUTSIDE_DOMAIN`, which no account can
      verify): refused as not verified;
- own address with a colleague's display name: refused by policy;
- own address with an address-like display name: refused by policy;
- own address in From with a colleague as envelope sender (MAIL FROM): refused by policy.

Every reply is classified from SES's documented SMTP reply codes and texts (SES Developer Guide,
"SMTP response codes returned by Amazon SES" and "Amazon SES email sending errors"): `classify`.
Without the feedback check or Secrets Manager, nothing here calls an AWS API: the roster and the
credentials are all it needs.

`LIVE_ASSUMPTIONS` names what only a live send settles; the JSON report records, for each, the
cases that bear on it and what this run observed.
"""
from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import asdict, dataclass, field
from email.message import Message
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional, Sequence

from ses_mail.modes.delivery import delivery_mode

SIMULATOR = "simulator.amazonses.com"
SUCCESS = f"success@{SIMULATOR}"
BOUNCE = f"bounce@{SIMULATOR}"
COMPLAINT = f"complaint@{SIMULATOR}"
#: RFC 2606 reserves .invalid: no DNS exists for it, so no account can ever verify it.
OUTSIDE_DOMAIN = "ses-mail-prove.invalid"
OTHER_LOCAL_PART = "ses-mail-prove-other"

ACCEPTED = "accepted"
REFUSED_POLICY = "refused by policy"
REFUSED_UNVERIFIED = "refused as not verified"
AUTH_FAILED = "authentication failed"
OTHER_ERROR = "other error"
NOT_TESTABLE = "not testable here"

# SES's documented texts (troubleshoot-smtp, smtp-response-codes, troubleshoot-error-messages).
_UNVERIFIED = re.compile(r"not verified", re.I)
_DENIED = re.compile(r"access denied|not authori[sz]ed to perform", re.I)
_AUTH = re.compile(r"authentication credentials invalid", re.I)


def classify(code: int, text: str) -> str:
    """One outcome for an SMTP reply of SES."""
    if 200 <= code < 300:
        return ACCEPTED
    if code == 535 or _AUTH.search(text):
        return AUTH_FAILED
    if code == 554 and _UNVERIFIED.search(text):
        return REFUSED_UNVERIFIED
    if code == 554 and _DENIED.search(text):
        return REFUSED_POLICY
    return OTHER_ERROR


# --- what only a live send settles ------------------------------------------------------------

#: key: (statement, cases whose outcome bears on it)
LIVE_ASSUMPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "from-address": ("ses:FromAddress holds the header From address, also when the SMTP envelope "
                     "sender (MAIL FROM) differs from it", ("P1", "envelope-colleague")),
    "from-display-name": ("ses:FromDisplayName holds the From display name decoded from RFC 2047 "
                          "(P1 sends the person's own pinned name RFC 2047-encoded)",
                          ("P1", "display-colleague", "display-address")),
    "feedback-address": ("ses:FeedbackAddress is present when the SMTP envelope sender is not empty "
                         "and holds that address", ("envelope-colleague",)),
    "recipients": ("ses:Recipients holds every envelope recipient (RCPT TO: To, Cc and Bcc)", ("P1",)),
    "identity-before-policy": ("a From address at an unverified domain is refused as not verified "
                               "before any policy is consulted", ("P4",)),
    # prove --receiver (ses_mail.live.receiver)
    "receiver-recipient": ("SES accepts a send to the prove address at the reports subdomain of a verified "
                           "domain, also in the sandbox (a verified domain's subdomains count as verified recipients)",
                           ("receiver-spf", "receiver-dkim", "receiver-dmarc")),
    "receiver-stored": ("SES receiving stores the message whole under the prove rule's prefix, its own headers on "
                        "top: Return-Path (the envelope sender), Received (from <HELO> (<name> [<address>]) by "
                        "inbound-smtp...), X-SES-Spam-Verdict, X-SES-Virus-Verdict, Received-SPF and "
                        "Authentication-Results (amazonses.com)", ("receiver-spf", "receiver-dkim", "receiver-dmarc")),
}


# --- cases ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Envelope:
    """One message: envelope sender, From header, recipients."""

    mail_from: str
    from_address: str
    display_name: Optional[str] = None
    #: Send the display name as an RFC 2047 encoded word even when it is plain ASCII.
    encode_display_name: bool = False
    recipients: tuple[str, ...] = (SUCCESS,)

    @property
    def from_header(self) -> str:
        if not self.display_name:
            return self.from_address
        if self.encode_display_name or not self.display_name.isascii():
            word = base64.b64encode(self.display_name.encode("utf-8")).decode("ascii")
            return f"=?utf-8?b?{word}?= <{self.from_address}>"
        quoted = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{self.from_address}>'


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    expected: str
    envelope: Optional[Envelope]
    not_testable: Optional[str] = None  # why this case cannot be built for this roster


@dataclass(frozen=True)
class PersonView:
    """What prove needs of a person: address, effective restrictions, names."""

    address: str
    name: Optional[str]
    display_name: Optional[str]
    allowed_ips: tuple[str, ...]
    recipients: tuple[str, ...]
    delivery: str
    suspended: bool

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]


def people_of(roster: Any) -> list[PersonView]:
    out = []
    for p in roster.people:
        s = roster.settings(p)
        out.append(PersonView(p.email, p.name, s.display_name, tuple(s.allowed_ips), tuple(s.recipients),
                              s.delivery, s.suspended))
    return out


def _colleague(person: PersonView, everyone: Sequence[PersonView], *, other_domain: bool = False
               ) -> Optional[PersonView]:
    others = [p for p in everyone if p.address != person.address
              and ((p.domain != person.domain) if other_domain else True)]
    # Same domain first: the strongest test of one address per person within one identity.
    others.sort(key=lambda p: (p.domain != person.domain, p.address))
    return others[0] if others else None


def cases_for(person: PersonView, everyone: Sequence[PersonView], domains: Sequence[str]) -> list[Case]:
    """The cases for `person`: each differs from P1 in one thing only (address, display name or
    envelope sender), so a refusal can only be due to that one thing. The envelope sender stays
    the person's own except in `envelope-colleague`: the send policy also refuses a colleague's
    address as envelope sender (ses:FeedbackAddress), which would hide a From fault."""
    own = person.address
    colleague = _colleague(person, everyone)
    colleague_address = colleague.address if colleague else f"{OTHER_LOCAL_PART}@{person.domain}"
    # Never the person's own name: any other name is a colleague's as far as the policy goes.
    colleague_name = (colleague.name if colleague and colleague.name and colleague.name != person.display_name
                      else "Someone Else")
    other_domains = sorted(d for d in domains if d != person.domain)
    p3: Optional[Envelope] = None
    if other_domains:
        there = _colleague(person, everyone, other_domain=True)
        if there and there.local_part != person.local_part:
            target = there.address
        else:
            local = OTHER_LOCAL_PART if person.local_part != OTHER_LOCAL_PART else OTHER_LOCAL_PART + "2"
            target = f"{local}@{other_domains[0]}"
        p3 = Envelope(own, target, person.display_name)
    outside = f"{person.local_part}@{OUTSIDE_DOMAIN}"
    own_name = person.display_name
    return [
        Case("P1", "own address", ACCEPTED,
             Envelope(own, own, own_name, encode_display_name=own_name is not None)),
        Case("P2", f"colleague's address {colleague_address}", REFUSED_POLICY,
             Envelope(own, colleague_address, own_name)),
        Case("P3", f"another local part at another roster domain{': ' + p3.from_address if p3 else ''}",
             REFUSED_POLICY, p3, None if p3 else "the roster has one domain"),
        Case("P4", f"address outside the roster {outside}", REFUSED_UNVERIFIED, Envelope(own, outside, own_name)),
        Case("display-colleague", f"own address, colleague's display name {colleague_name!r}", REFUSED_POLICY,
             Envelope(own, own, colleague_name)),
        Case("display-address", f"own address, display name {colleague_address!r}", REFUSED_POLICY,
             Envelope(own, own, colleague_address)),
        Case("envelope-colleague", f"own From, colleague {colleague_address} as envelope sender", REFUSED_POLICY,
             Envelope(colleague_address, own, own_name)),
    ]


def _pattern(pattern: str, text: str) -> bool:
    # IAM StringLike: * and ? only, case-sensitive.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text) is not None


def untestable_reason(person: PersonView, recipients: Iterable[str] = (SUCCESS,)) -> Optional[str]:
    """Why the roster itself keeps `person` from sending to the simulator, or None."""
    if person.suspended:
        return "suspended: the access key is Inactive by design"
    if person.recipients:
        blocked = [r for r in recipients if not any(_pattern(p, r) for p in person.recipients)]
        if blocked:
            return (f"recipients are restricted to {', '.join(person.recipients)}: "
                    f"{', '.join(blocked)} is not allowed")
    return None


# --- credentials ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credential:
    address: str
    username: str
    password: str = field(repr=False)


class CredentialsError(Exception):
    """Missing or unreadable credentials: exit 2."""


def parse_credentials(data: Any) -> dict[str, dict[str, Any]]:
    """The value `pulumi stack output --show-secrets --json smtp_credentials` prints (also accepted:
    the whole `pulumi stack output --show-secrets --json`), by lowercased address."""
    if isinstance(data, dict) and "smtp_credentials" in data and not any("@" in k for k in data):
        data = data["smtp_credentials"]
    if data == "[secret]":
        raise CredentialsError("the credentials are hidden: run `pulumi stack output --show-secrets --json "
                               "smtp_credentials`")
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise CredentialsError("the credentials are not the JSON `pulumi stack output --show-secrets --json "
                               "smtp_credentials` prints (an object of people by address)")
    return {k.lower(): v for k, v in data.items()}


def credential_from_output(person: PersonView, creds: dict[str, dict[str, Any]]
                           ) -> tuple[Optional[Credential], Optional[str]]:
    """(credential, None), (None, why not testable), or raises CredentialsError when it is missing."""
    entry = creds.get(person.address.lower())
    if entry is None:
        raise CredentialsError(f"{person.address} has no entry in the credentials (people there: "
                               f"{', '.join(sorted(creds)) or 'nobody'})")
    delivery = entry.get("delivery")
    if entry.get("status") == "suspended":
        return None, "suspended: the access key is Inactive by design"
    try:
        mode = delivery_mode(delivery)
    except KeyError:
        return None, f"delivery {delivery}: not known to this version of ses-mail"
    if mode.uses_pgp_key:
        return None, f"delivery {mode.name}: only the person can decrypt their password"
    if mode.uses_secret:
        return None, f"delivery {mode.name}: the password is in Secrets Manager (give --from-secrets)"
    if not entry.get("password") or not entry.get("username"):
        return None, f"delivery {mode.name}: no password in the stack output"
    return Credential(person.address, entry["username"], entry["password"]), None


def credential_from_secret(person: PersonView, secret_string: str) -> Credential:
    import json

    value = json.loads(secret_string)
    if not value.get("password"):
        raise CredentialsError(f"{person.address}: the secret holds no password (suspended?)")
    return Credential(person.address, value["username"], value["password"])


# --- SMTP -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    server_name: Optional[str] = None  # the name to verify in the certificate (default: host)
    ca_file: Optional[str] = None
    timeout: float = 30.0

    def tls_context(self) -> ssl.SSLContext:
        # Always verified: the system's trust anchors, plus --ca-file when given.
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        return context


class EndpointError(Exception):
    """The SMTP endpoint could not be reached or its certificate did not verify: exit 2."""


class _SMTP(smtplib.SMTP):
    """smtplib verifies the certificate against the host it connected to; `server_name` replaces it."""

    def __init__(self, server_name: Optional[str], **kwargs: Any) -> None:
        self._server_name = server_name
        super().__init__(**kwargs)

    def starttls(self, *args: Any, **kwargs: Any):
        if self._server_name:
            self._host = self._server_name
        return super().starttls(*args, **kwargs)


def build_message(envelope: Envelope, subject: str) -> bytes:
    msg = Message()
    msg["From"] = envelope.from_header
    msg["To"] = ", ".join(envelope.recipients)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=envelope.from_address.rpartition("@")[2] or None)
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = 'text/plain; charset="utf-8"'
    to_simulator = all(r.endswith("@" + SIMULATOR) for r in envelope.recipients)
    msg.set_payload("Sent by `ses-mail prove` to the SES mailbox simulator.\r\n" if to_simulator else
                    "Sent by `ses-mail prove --receiver` to the stack's own receiving address, to be judged as a "
                    "receiver judges it.\r\n")
    return msg.as_bytes()


Sender = Callable[[Credential, Envelope, str], tuple[int, str]]


def smtp_sender(endpoint: Endpoint) -> Sender:
    """A function sending one message per connection: STARTTLS, AUTH, MAIL, RCPT, DATA; returns SES's
    first refusal or the final reply as (code, text)."""
    def send(credential: Credential, envelope: Envelope, subject: str) -> tuple[int, str]:
        try:
            client = _SMTP(endpoint.server_name, host=endpoint.host, port=endpoint.port, timeout=endpoint.timeout)
        except (OSError, smtplib.SMTPException) as err:
            raise EndpointError(f"cannot connect to {endpoint.host}:{endpoint.port}: {err}") from None
        try:
            client.ehlo()
            try:
                client.starttls(context=endpoint.tls_context())
            except ssl.SSLError as err:
                raise EndpointError(f"TLS with {endpoint.host}:{endpoint.port} failed: {err}") from None
            except smtplib.SMTPNotSupportedError:
                raise EndpointError(f"{endpoint.host}:{endpoint.port} does not offer STARTTLS") from None
            client.ehlo()
            try:
                code, text = client.login(credential.username, credential.password)
            except smtplib.SMTPAuthenticationError as err:
                return err.smtp_code, _text(err.smtp_error)
            code, text = client.mail(envelope.mail_from)
            if code != 250:
                return code, _text(text)
            for rcpt in envelope.recipients:
                code, text = client.rcpt(rcpt)
                if code not in (250, 251):
                    return code, _text(text)
            code, text = client.data(build_message(envelope, subject))
            return code, _text(text)
        except smtplib.SMTPServerDisconnected as err:
            return 0, f"disconnected: {err}"
        except smtplib.SMTPResponseException as err:
            return err.smtp_code, _text(err.smtp_error)
        except (socket.timeout, OSError) as err:
            raise EndpointError(f"{endpoint.host}:{endpoint.port}: {err}") from None
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    return send


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- the run ----------------------------------------------------------------------------------

@dataclass
class Row:
    person: str
    case: str
    title: str
    expected: str
    observed: str
    reply: str = ""
    note: str = ""
    #: The receiver's view judges a domain (ses_mail.live.receiver): the row names it.
    domain: str = ""

    @property
    def label(self) -> str:
        """How a failure is named: person and case, or domain and case for the receiver's view."""
        return f"{self.domain or self.person} {self.case}"

    @property
    def tested(self) -> bool:
        return self.observed != NOT_TESTABLE

    @property
    def holds(self) -> Optional[bool]:
        return None if not self.tested else self.observed == self.expected


@dataclass
class Report:
    region: str
    endpoint: str
    rows: list[Row] = field(default_factory=list)
    feedback: Optional[dict[str, Any]] = None
    #: prove --receiver: the receiver's view (ses_mail.live.receiver), or why it was skipped.
    receiver: Optional[dict[str, Any]] = None

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.holds is False]

    @property
    def tested(self) -> int:
        return sum(r.tested for r in self.rows)

    @property
    def passed(self) -> bool:
        return not self.failed and self.tested > 0

    def assumptions(self) -> list[dict[str, Any]]:
        out = []
        for key, (statement, cases) in LIVE_ASSUMPTIONS.items():
            seen = [r for r in self.rows if r.case in cases and r.tested]
            out.append({
                "key": key, "assumption": statement, "cases": list(cases),
                "observed": [{"person": r.person, "case": r.case, "expected": r.expected, "observed": r.observed,
                              "reply": r.reply} for r in seen],
                # None: no case bearing on it ran; False: some outcome contradicts what the
                # assumption (with the stack's policy) predicts.
                "consistent": (all(r.holds for r in seen) if seen else None),
            })
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "endpoint": self.endpoint, "passed": self.passed,
                "tested": self.tested, "failed": [r.label for r in self.failed],
                "rows": [{**asdict(r), "holds": r.holds} for r in self.rows],
                "assumptions": self.assumptions(), "feedback": self.feedback, "receiver": self.receiver}


def prove_person(person: PersonView, credential: Optional[Credential], why_not: Optional[str],
                 everyone: Sequence[PersonView], domains: Sequence[str], send: Sender) -> list[Row]:
    cases = cases_for(person, everyone, domains)
    why_not = why_not or untestable_reason(person)
    if why_not or credential is None:
        return [Row(person.address, c.key, c.title, c.expected, NOT_TESTABLE, note=why_not or "no credential")
                for c in cases]
    rows: list[Row] = []
    for i, case in enumerate(cases):
        if case.envelope is None:
            rows.append(Row(person.address, case.key, case.title, case.expected, NOT_TESTABLE,
                            note=case.not_testable or ""))
            continue
        code, text = send(credential, case.envelope, f"ses-mail prove {case.key} as {person.address}")
        observed = classify(code, text)
        row = Row(person.address, case.key, case.title, case.expected, observed, f"{code} {text}".strip())
        rows.append(row)
        if i == 0 and observed != ACCEPTED and person.allowed_ips:
            # SES sees this machine's egress address; outside allowed_ips the own address is
            # refused too, and then no refusal below would prove anything.
            why = (f"allowed_ips {', '.join(person.allowed_ips)}: SES refused even the own address, "
                   "as it does from outside those networks")
            rows[-1] = Row(person.address, case.key, case.title, case.expected, NOT_TESTABLE, row.reply, why)
            rows += [Row(person.address, c.key, c.title, c.expected, NOT_TESTABLE, note=why) for c in cases[1:]]
            break
    return rows


def new_token() -> str:
    return uuid.uuid4().hex[:12]
