"""`ses-mail prove --receiver`: the receiver's view, proven on the account (docs/prove.md).

When the stack receives mail (roster `reports:`), one person of each roster domain sends, with
their own SMTP credential, one message to `ses-mail-prove@<reports host>`
(ses_mail.specs.report_receiving.prove_address): never the report mailbox, which `ses-mail dmarc`
reads. The stack's prove rule stores it in the report bucket under `prove/`. This module finds it
there (by the token in its subject, within a bound) and judges it as a receiving server would,
with the libraries receivers use: pyspf for SPF (the sending server's address from SES's own
`Received` header, the envelope sender from `Return-Path`), dkimpy for every DKIM signature, and
authheaders for the DMARC record (found as RFC 7489 section 6.6.3 says: the From domain, else its
organisational domain by the public suffix list it packages). It reads SES's own verdicts next to
them: `X-SES-Spam-Verdict`, `X-SES-Virus-Verdict`, `Received-SPF` and `Authentication-Results`
(authserv-id `amazonses.com`), as SES writes them on every stored message.

SES's `Authentication-Results` is not RFC 8601 syntax (its spf clause goes on with `;
client-ip=...; envelope-from=...; helo=...;`), which authres refuses as a whole: the clauses are
split here, SES's spf parameters folded back into their clause, and each clause parsed by authres.

Alignment (RFC 7489 section 3.1) is this module's one rule of its own: relaxed, the two domains
have the same organisational domain (authheaders' public suffix list); strict, they are equal;
per the record's `aspf`/`adkim`. DMARC passes when SPF passes aligned or a DKIM signature does.
(authheaders' own `check_dmarc` takes the From domain with a pattern that stops at a hyphen:
tests/test_receiver_view.py::test_authheaders_cuts_from_domains_at_a_hyphen.)

The libraries are the optional extra `prove` (`pip install 'ses-mail-roster[prove]'`):
`require_libraries` says so when one is missing. API calls (read-only): s3:ListBucket and
s3:GetObject on the bucket (kms:Decrypt with the bucket's `kms_key`), sts:GetCallerIdentity
when the bucket has the default name. DNS: the system resolver, or `using_resolver(server)`.
"""
from __future__ import annotations

import email
import email.policy
import importlib.util
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import getaddresses
from typing import Any, Callable, Iterator, Optional, Sequence

from ses_mail.live.prove import (ACCEPTED, NOT_TESTABLE, Credential, Envelope, PersonView, Row, Sender, classify,
                                 new_token, untestable_reason)
from ses_mail.specs import report_receiving as spec

#: module: distribution, of the `prove` extra (pyproject.toml).
LIBRARIES = {"dkim": "dkimpy", "spf": "pyspf", "authheaders": "authheaders", "authres": "authres"}
EXTRA = "pip install 'ses-mail-roster[prove]'"
DEFAULT_TIMEOUT = 300.0
#: prove's messages are a few kilobytes; anything larger under prove/ is not one of them.
MAX_MESSAGE_BYTES = 1 << 20
SES_AUTHSERV_ID = "amazonses.com"
SUBJECT_PREFIX = "ses-mail prove receiver"

EXPECTED = "pass, aligned"
EXPECTED_DMARC = "pass"
CASES = ("receiver-spf", "receiver-dkim", "receiver-dmarc")


class MissingLibraries(Exception):
    """The `prove` extra is not installed: exit 2 before anything is sent."""


def require_libraries() -> None:
    missing = [dist for module, dist in LIBRARIES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingLibraries(f"--receiver judges the stored message with {', '.join(LIBRARIES.values())}; "
                               f"missing: {', '.join(missing)}. Install the extra: {EXTRA}")


@contextmanager
def using_resolver(server: Optional[str]) -> Iterator[None]:
    """pyspf, dkimpy and authheaders all ask dnspython's default resolver: with `server`
    (`HOST[:PORT]`, as `doctor --resolver`), that one for the block."""
    if not server:
        yield
        return
    import dns.resolver

    from ses_mail.live.dns_check import parse_server

    host, port = parse_server(server)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [host], port
    before = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver
    try:
        yield
    finally:
        dns.resolver.default_resolver = before


# --- SES's own verdicts -----------------------------------------------------------------------

_METHODS = {"spf", "dkim", "dmarc", "arc", "auth", "iprev", "dkim-atps", "smime", "bimi"}
_METHOD = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*([A-Za-z]+)")
_PARAM = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=([^;\s]+)")


def _split(value: str, sep: str = ";") -> list[str]:
    """`value` split at `sep` outside (comments) and "quoted strings"."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")" and depth:
            depth -= 1
        elif ch == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def parse_authentication_results(value: str) -> tuple[str, list[dict[str, Any]]]:
    """(authserv-id, [{method, result, properties, text}]) of one Authentication-Results value,
    SES's variant included."""
    import authres
    import authres.dmarc

    context = authres.FeatureContext(authres.dmarc)
    unfolded = re.sub(r"\r?\n[ \t]+", " ", value).strip()
    parts = _split(unfolded)
    authserv = parts[0].strip().split()[0] if parts[0].strip() else ""
    clauses: list[list[str]] = []
    for part in parts[1:]:
        match = _METHOD.match(part)
        if match and match[1].lower() in _METHODS:
            clauses.append([part.strip()])
        elif part.strip() and clauses:
            clauses[-1].append(part.strip())  # SES's spf parameters: client-ip=, envelope-from=, helo=
    results = []
    for head, *params in clauses:
        match = _METHOD.match(head)
        assert match is not None
        entry: dict[str, Any] = {"method": match[1].lower(), "result": match[2].lower(), "properties": {},
                                 "text": "; ".join([head, *params])}
        try:
            parsed = context.parse_value(f"{authserv or 'unknown'}; {head}").results[0]
            entry.update(method=parsed.method, result=parsed.result,
                         properties={f"{p.type}.{p.name}": p.value for p in parsed.properties})
        except authres.AuthResError:
            pass  # the method and result read above stand
        # SES's parameters, in the clause (client-ip=) and after it (envelope-from=, helo=).
        uncommented = re.sub(r"\([^()]*\)", "", head)
        for name, value in _PARAM.findall(uncommented[_METHOD.match(uncommented).end():]):  # type: ignore[union-attr]
            entry["properties"].setdefault(name, value)
        for param in params:
            entry["properties"].update(dict(_PARAM.findall(param)))
        results.append(entry)
    return authserv, results


@dataclass
class SesVerdicts:
    """What SES receiving wrote on the stored message (None: not there)."""

    spam: Optional[str] = None
    virus: Optional[str] = None
    received_spf: Optional[str] = None
    authentication_results: Optional[str] = None
    #: method -> results in SES's Authentication-Results, e.g. {"dkim": ["pass", "pass"]}
    results: dict[str, list[str]] = field(default_factory=dict)
    clauses: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, method: str) -> str:
        """SES's verdict for `method`, as a table cell."""
        clauses = [c for c in self.clauses if c["method"] == method]
        if not clauses:
            return f"SES: no {method} verdict" if self.authentication_results is not None else \
                "SES: no Authentication-Results"
        keep = ("client-ip", "header.d", "header.i", "header.from")
        return "SES: " + ", ".join(" ".join([f"{c['method']}={c['result']}"]
                                            + [f"{k}={v}" for k, v in c["properties"].items() if k in keep])
                                   for c in clauses)

    def as_dict(self) -> dict[str, Any]:
        return {"spam_verdict": self.spam, "virus_verdict": self.virus, "received_spf": self.received_spf,
                "authentication_results": self.authentication_results, "results": self.results}


def _first(message: email.message.Message, name: str) -> Optional[str]:
    value = message.get(name)
    return None if value is None else re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()


def ses_verdicts(message: email.message.Message) -> SesVerdicts:
    """SES prepends its headers: the first occurrence of each is SES's (a sender's own copies of
    these names come below it)."""
    verdicts = SesVerdicts(spam=_first(message, "X-SES-Spam-Verdict"), virus=_first(message, "X-SES-Virus-Verdict"),
                           received_spf=_first(message, "Received-SPF"))
    for value in message.get_all("Authentication-Results") or []:
        authserv, clauses = parse_authentication_results(str(value))
        if authserv.lower() == SES_AUTHSERV_ID:
            verdicts.authentication_results = re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()
            verdicts.clauses = clauses
            for clause in clauses:
                verdicts.results.setdefault(clause["method"], []).append(clause["result"])
            break
    return verdicts


# --- the receiver's judgement -----------------------------------------------------------------

_RECEIVED = re.compile(r"^\s*from\s+(\S+)\s+\(([^()]*?)\[(?:IPv6:)?([0-9A-Fa-f.:]+)\]\)", re.S)


@dataclass
class Trace:
    """What SES receiving recorded about the connection: the sending server and the envelope."""

    client_ip: Optional[str]
    helo: Optional[str]
    envelope_from: Optional[str]
    received_by: Optional[str]


def trace(message: email.message.Message) -> Trace:
    received = _first(message, "Received") or ""
    match = _RECEIVED.match(received)
    by = re.search(r"\bby\s+(\S+)", received)
    path = _first(message, "Return-Path")
    envelope = None if path is None else path.strip().strip("<>").strip()
    return Trace(match[3] if match else None, match[1] if match else None, envelope, by[1] if by else None)


def domain_of(address: Optional[str]) -> Optional[str]:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].rstrip(".").lower() or None


def org_domain(domain: str) -> str:
    from authheaders.dmarc_lookup import get_org_domain

    return str(get_org_domain(domain)).lower()


def aligned(domain: Optional[str], from_domain: str, mode: str) -> bool:
    """RFC 7489 section 3.1: strict, equal; relaxed, the same organisational domain."""
    if not domain:
        return False
    if mode == "s":
        return domain.lower() == from_domain.lower()
    return org_domain(domain) == org_domain(from_domain)


@dataclass
class Judgement:
    from_domain: Optional[str]
    trace: Trace
    spf: dict[str, Any]
    dkim: list[dict[str, Any]]
    dmarc: dict[str, Any]
    ses: SesVerdicts

    def as_dict(self) -> dict[str, Any]:
        return {"from_domain": self.from_domain, "client_ip": self.trace.client_ip, "helo": self.trace.helo,
                "envelope_from": self.trace.envelope_from, "received_by": self.trace.received_by,
                "spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc, "ses": self.ses.as_dict()}


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def _dkim_signatures(raw: bytes, count: int) -> list[dict[str, Any]]:
    """dkimpy's verdict on each DKIM-Signature, with why one failed (dkimpy logs a key problem
    and returns False; it raises on a malformed signature)."""
    import dkim

    out = []
    for idx in range(count):
        log: list[str] = []
        logger = logging.getLogger(f"ses-mail.prove.dkim.{idx}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler = _Collect(log)
        logger.addHandler(handler)
        verifier = dkim.DKIM(raw, logger=logger)
        try:
            ok = verifier.verify(idx=idx)
        except dkim.DKIMException as err:
            log.append(str(err))
            ok = False
        finally:
            logger.removeHandler(handler)
        fields = verifier.signature_fields or {}
        reasons = [m for m in log if not m.startswith(("sig:", "headers:", "hashed:", "signed:", "signature:"))]
        out.append({"d": fields.get(b"d", b"").decode("ascii", "replace").lower(),
                    "selector": fields.get(b"s", b"").decode("ascii", "replace"),
                    "result": "pass" if ok else "fail", "reason": "" if ok else "; ".join(reasons[-2:])})
    return out


def judge(raw: bytes) -> Judgement:
    """SPF, DKIM and DMARC of a message as SES stored it, judged as a receiver would."""
    import dns.exception
    import spf
    from authheaders import dmarc_per_from

    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    froms = getaddresses([str(v) for v in message.get_all("From") or []])
    from_domain = domain_of(froms[0][1]) if len(froms) == 1 else None
    path = trace(message)
    verdicts = ses_verdicts(message)

    record: dict[str, Any] = {}
    policy_domain = None
    policy = None
    lookup_error = None
    if from_domain:
        try:
            _, policy_domain, _, policy, found, _ = dmarc_per_from(from_domain, policy_only=True)
            record = dict(found or {})
        except dns.exception.DNSException as err:  # a timeout: authheaders only absorbs NXDOMAIN and NODATA
            lookup_error = f"the DMARC record could not be looked up: {type(err).__name__}: {err}"
    aspf, adkim = record.get("aspf", "r"), record.get("adkim", "r")

    mail_from_domain = domain_of(path.envelope_from) or (path.helo.lower() if path.helo else None)
    spf_result: dict[str, Any] = {"domain": mail_from_domain, "client_ip": path.client_ip}
    if path.client_ip is None:
        spf_result.update(result="unknown", reason="SES's Received header names no sending server address",
                          aligned=False)
    else:
        result, reason = spf.check2(i=path.client_ip, s=path.envelope_from or "", h=path.helo or "")
        spf_result.update(result=result, reason=reason,
                          aligned=bool(from_domain) and aligned(mail_from_domain, from_domain or "", aspf))

    count = sum(1 for name in message.keys() if name.lower() == "dkim-signature")
    signatures = _dkim_signatures(raw, count)
    for sig in signatures:
        sig["aligned"] = bool(from_domain) and aligned(sig["d"], from_domain or "", adkim)

    if not from_domain:
        dmarc = {"result": "fail", "reason": "the message has no single From address", "policy": None}
    elif lookup_error:
        dmarc = {"result": "temperror", "reason": lookup_error, "policy": None}
    elif not record:
        dmarc = {"result": "none", "reason": f"no DMARC record at _dmarc.{from_domain} nor at its organisational "
                                              "domain", "policy": None}
    else:
        spf_ok = spf_result.get("result") == "pass" and spf_result["aligned"]
        dkim_ok = any(s["result"] == "pass" and s["aligned"] for s in signatures)
        dmarc = {"result": "pass" if spf_ok or dkim_ok else "fail", "policy": policy,
                 "record_domain": policy_domain or from_domain, "aspf": aspf, "adkim": adkim,
                 "reason": ("aligned " + " and ".join(n for n, ok in (("SPF", spf_ok), ("DKIM", dkim_ok)) if ok))
                 if spf_ok or dkim_ok else "neither SPF nor any DKIM signature passed aligned"}
    return Judgement(from_domain, path, spf_result, signatures, dmarc, verdicts)


def _title(case: str, domain: str) -> str:
    return {"receiver-spf": f"{domain}: SPF of the MAIL FROM domain, aligned with From",
            "receiver-dkim": f"{domain}: a DKIM signature whose d= aligns with From",
            "receiver-dmarc": f"{domain}: DMARC"}[case]


def _row(case: str, domain: str, person: str, observed: str, reply: str = "", note: str = "") -> Row:
    return Row(person, case, _title(case, domain), EXPECTED_DMARC if case == "receiver-dmarc" else EXPECTED,
               observed, reply, note, domain=domain)


def verdict_rows(domain: str, person: str, judged: Judgement) -> list[Row]:
    """The three rows of a domain: SPF and DKIM each pass aligned, DMARC passes."""
    spf_ = judged.spf
    mail_from = spf_.get("domain") or "-"
    if spf_.get("result") == "pass":
        spf_observed = EXPECTED if spf_.get("aligned") else "pass, not aligned"
    else:
        spf_observed = str(spf_.get("result"))
    spf_note = (f"MAIL FROM {mail_from}, client {spf_.get('client_ip') or '-'}: {spf_.get('reason') or ''}"
                + ("" if spf_.get("aligned") or spf_.get("result") != "pass"
                   else f"; {mail_from} does not align with {judged.from_domain} (aspf={judged.dmarc.get('aspf', 'r')})"))
    own = [s for s in judged.dkim if s["aligned"]]  # d= aligned with From, whatever the result
    if any(s["result"] == "pass" for s in own):
        dkim_observed = EXPECTED
    elif own:
        dkim_observed = "fail"  # the domain's own signature did not verify (SES's may still have)
    elif not judged.dkim:
        dkim_observed = "no signature"
    else:
        dkim_observed = "pass, not aligned" if any(s["result"] == "pass" for s in judged.dkim) else "fail"
    dkim_note = "; ".join(f"d={s['d']} s={s['selector']}: {s['result']}"
                          + (" aligned" if s["aligned"] and s["result"] == "pass" else "")
                          + (f" ({s['reason']})" if s["reason"] else "") for s in judged.dkim) or "no DKIM-Signature"
    dmarc = judged.dmarc
    dmarc_note = str(dmarc.get("reason", "")) + (f"; p={dmarc['policy']} at {dmarc.get('record_domain')}"
                                                 if dmarc.get("policy") else "")
    return [_row("receiver-spf", domain, person, spf_observed, judged.ses.summary("spf"), spf_note),
            _row("receiver-dkim", domain, person, dkim_observed, judged.ses.summary("dkim"), dkim_note),
            _row("receiver-dmarc", domain, person, str(dmarc.get("result")), judged.ses.summary("dmarc"), dmarc_note)]


def _rows(domain: str, person: str, observed: str, reply: str = "", note: str = "") -> list[Row]:
    return [_row(case, domain, person, observed, reply, note) for case in CASES]


# --- reading the stored message back ----------------------------------------------------------

def find_messages(s3: Any, bucket: str, tokens: set[str], *, since: datetime, timeout: float,
                  poll_seconds: float, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> dict[str, tuple[str, bytes]]:
    """token -> (key, raw message) for each token found in the subject of a message stored under
    prove/ since `since`, waiting at most `timeout` seconds (ListObjectsV2, GetObject only)."""
    found: dict[str, tuple[str, bytes]] = {}
    seen: set[str] = set()
    deadline = clock() + timeout
    while True:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=spec.PROVE_OBJECT_PREFIX):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key in seen or item["LastModified"] < since:
                    continue
                seen.add(key)
                if item["Size"] > MAX_MESSAGE_BYTES:
                    continue
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
                try:
                    raw = body.read(MAX_MESSAGE_BYTES + 1)
                finally:
                    body.close()
                subject = str(email.message_from_bytes(raw, policy=email.policy.compat32).get("Subject") or "")
                for token in tokens - set(found):
                    if token in subject.split():
                        found[token] = (key, raw)
        if set(found) >= tokens or clock() >= deadline:
            return found
        sleep(min(poll_seconds, max(0.0, deadline - clock())))


@dataclass
class Plan:
    """One domain's message: who sends it, with which token."""

    domain: str
    person: Optional[PersonView]
    credential: Optional[Credential]
    why_not: Optional[str] = None
    token: str = field(default_factory=new_token)
    reply: str = ""
    sent: bool = False


def plan_domains(domains: Sequence[str], chosen: Sequence[PersonView], rows: Sequence[Row],
                 credentials: dict[str, tuple[Optional[Credential], Optional[str]]], address: str) -> list[Plan]:
    """For each roster domain of a chosen person: its first chosen person whose own address SES
    accepted (P1) and whose restrictions let them send to `address`."""
    accepted = {r.person for r in rows if r.case == "P1" and r.observed == ACCEPTED}
    plans = []
    for domain in domains:
        people = [p for p in chosen if p.domain == domain]
        if not people:
            continue
        reasons = []
        for person in people:
            why = untestable_reason(person, (address,))
            if person.address not in accepted:
                reasons.append(f"{person.address}: own address not accepted (P1)")
            elif why:
                reasons.append(f"{person.address}: {why}")
            else:
                plans.append(Plan(domain, person, credentials[person.address][0]))
                break
        else:
            plans.append(Plan(domain, None, None, "nobody of the domain can send here: " + "; ".join(reasons)))
    return plans


def prove_receiver(*, domains: Sequence[str], chosen: Sequence[PersonView], rows: Sequence[Row],
                   credentials: dict[str, tuple[Optional[Credential], Optional[str]]], reports_address: str,
                   bucket: str, s3: Any, send: Sender, timeout: float = DEFAULT_TIMEOUT, poll_seconds: float = 10.0,
                   now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> tuple[list[Row], dict[str, Any]]:
    """Send each domain's message, read it back from the bucket, judge it: (rows, JSON section)."""
    address = spec.prove_address(reports_address)
    # S3's LastModified against this machine's clock: a few minutes of skew are tolerated.
    since = now() - timedelta(minutes=5)
    plans = plan_domains(domains, chosen, rows, credentials, address)
    for plan in plans:
        if plan.person is None or plan.credential is None:
            continue
        own = plan.person.address
        envelope = Envelope(own, own, plan.person.display_name, recipients=(address,))
        code, text = send(plan.credential, envelope, f"{SUBJECT_PREFIX} {plan.token} {plan.domain}")
        plan.reply = f"{code} {text}".strip()
        plan.sent = classify(code, text) == ACCEPTED
    tokens = {p.token for p in plans if p.sent}
    found = find_messages(s3, bucket, tokens, since=since, timeout=timeout, poll_seconds=poll_seconds,
                          clock=clock, sleep=sleep) if tokens else {}
    out: list[Row] = []
    section: dict[str, Any] = {"address": address, "bucket": bucket, "prefix": spec.PROVE_OBJECT_PREFIX,
                               "timeout": timeout, "domains": {}}
    for plan in plans:
        entry: dict[str, Any] = {"person": plan.person.address if plan.person else None, "token": plan.token,
                                 "send": plan.reply or None}
        section["domains"][plan.domain] = entry
        person = plan.person.address if plan.person else "-"
        if plan.person is None or plan.credential is None:
            entry["observed"] = NOT_TESTABLE
            out += _rows(plan.domain, person, NOT_TESTABLE, note=plan.why_not or "no credential")
            continue
        if not plan.sent:
            outcome = classify(*_split_reply(plan.reply))
            entry["observed"] = f"send {outcome}"
            out += _rows(plan.domain, person, f"send {outcome}", plan.reply, f"SES did not accept the message to {address}")
            continue
        if plan.token not in found:
            entry["observed"] = f"not stored within {timeout:g}s"
            out += _rows(plan.domain, person, entry["observed"], plan.reply,
                         f"nothing under s3://{bucket}/{spec.PROVE_OBJECT_PREFIX} with {plan.token} in its subject: "
                         f"check the MX of {domain_of(address)} and the prove rule (ses-mail doctor)")
            continue
        key, raw = found[plan.token]
        judged = judge(raw)
        entry.update(object=f"s3://{bucket}/{key}", **judged.as_dict())
        out += verdict_rows(plan.domain, person, judged)
    return out, section


def _split_reply(reply: str) -> tuple[int, str]:
    code, _, text = reply.partition(" ")
    return (int(code), text) if code.isdigit() else (0, reply)
