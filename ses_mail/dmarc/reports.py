"""Reading DMARC aggregate reports: XML (RFC 7489 appendix C, or RFC 9990's `dmarc-2.0` schema),
gzip, zip, or the email that carries one (raw MIME, as SES receiving stores it in S3).

Every input is hostile until parsed. Sizes are bounded before and during decompression (a zip
or gzip bomb stops at `MAX_XML_BYTES`), XML is parsed by defusedxml with DTDs refused (so no
entity expansion, no external entities), and any problem is a `Finding` naming the file: one
bad file never stops the others. Nothing here imports boto3 or Pulumi.
"""
from __future__ import annotations

import email
import email.policy
import io
import ipaddress
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ses_mail.findings import WARNING, Finding

#: Largest file or S3 object read, as stored. The large receivers' daily reports are kilobytes
#: to a few megabytes compressed; anything larger is refused, not read.
MAX_INPUT_BYTES = 25 * 1024 * 1024
#: Largest report XML after decompression (parsedmarc bounds it the same way).
MAX_XML_BYTES = 64 * 1024 * 1024
#: Report files inside one zip archive or one email that are read (a report has one).
MAX_PARTS = 8
#: File name endings read from a directory (S3 objects are read whatever their key: SES names
#: them by message id, without an extension).
EXTENSIONS = (".xml", ".gz", ".zip", ".eml")

RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
_ATTACHMENT_TYPES = {"application/gzip", "application/x-gzip", "application/zip", "application/x-zip-compressed",
                     "application/xml", "text/xml", "application/octet-stream"}


@dataclass(frozen=True)
class AuthResult:
    """One `auth_results` entry: the domain authenticated and the raw (unaligned) result."""

    domain: str
    result: str


@dataclass(frozen=True)
class Row:
    """One `record`: `count` messages from `source_ip` with the same results."""

    source_ip: str
    count: int
    disposition: str
    dkim_aligned: bool  # policy_evaluated/dkim: DKIM passed for a domain aligned with From
    spf_aligned: bool   # policy_evaluated/spf
    header_from: str
    dkim: tuple[AuthResult, ...] = ()
    spf: tuple[AuthResult, ...] = ()

    @property
    def dmarc_pass(self) -> bool:
        return self.dkim_aligned or self.spf_aligned

    @property
    def authenticated(self) -> bool:
        """Whether DKIM or SPF passed for some domain, aligned or not: a real mail system sent it
        as itself (a third-party service, a forwarder), not an unauthenticated forger."""
        return any(r.result == "pass" for r in (*self.dkim, *self.spf))


@dataclass(frozen=True)
class Report:
    org_name: str
    report_id: str
    begin: int  # Unix time, UTC
    end: int
    domain: str
    policy: str  # p= as the receiver saw it
    testing: bool  # t=y (RFC 9989) as the receiver saw it
    schema: str  # rfc7489 or rfc9990
    rows: tuple[Row, ...]
    source: str  # the file (or S3 key) it came from
    org_email: str = ""
    subdomain_policy: str | None = None
    pct: int | None = None  # RFC 7489 only

    @property
    def key(self) -> tuple[str, str]:
        """What makes two copies the same report: the reporting organisation and its report id."""
        return (self.org_name.strip().lower(), self.report_id.strip())


def unreadable(source: str, message: str) -> Finding:
    """A report that could not be read, as the one finding type of every command; the subject is
    the file (or bucket key), so the finding names it."""
    return Finding(code="dmarc-report-unreadable", severity=WARNING, subject=source, message=message,
                   fix="check the file; the other reports were read")


@dataclass
class ReadResult:
    reports: list[Report]
    findings: list[Finding]
    files: int = 0

    def extend(self, other: "ReadResult") -> None:
        self.reports += other.reports
        self.findings += other.findings
        self.files += other.files


class Refused(ValueError):
    """A report input that cannot be read; its message completes "<file> ..."."""


# --- containers ------------------------------------------------------------------------------

def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, MAX_XML_BYTES + 1)
    except zlib.error as err:
        raise Refused(f"is not valid gzip ({err})") from None
    if len(out) > MAX_XML_BYTES or decompressor.unconsumed_tail:
        raise Refused(f"decompresses to more than {MAX_XML_BYTES} bytes: refused (a gzip bomb?)")
    if not decompressor.eof:
        raise Refused("is truncated: the gzip stream ends before its end marker")
    return out


def _unzip(data: bytes) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise Refused(f"is not a readable zip archive ({err})") from None
    if not members:
        raise Refused("is an empty zip archive")
    out = []
    for member in members[:MAX_PARTS]:
        if member.file_size > MAX_XML_BYTES:
            raise Refused(f"holds {member.filename!r} of {member.file_size} bytes, over {MAX_XML_BYTES}: refused (a zip bomb?)")
        try:
            with archive.open(member) as handle:
                content = handle.read(MAX_XML_BYTES + 1)  # the header's size is not trusted
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError, zlib.error) as err:
            raise Refused(f"holds {member.filename!r}, which cannot be read ({err})") from None
        if len(content) > MAX_XML_BYTES:
            raise Refused(f"holds {member.filename!r}, which decompresses to more than {MAX_XML_BYTES} bytes: refused")
        out.append((member.filename, content))
    return out


def _attachments(data: bytes) -> list[tuple[str, bytes]]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename() or ""
        ctype = part.get_content_type()
        if ctype in _ATTACHMENT_TYPES or filename.lower().endswith((".xml", ".gz", ".zip")):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                found.append((filename or ctype, payload))
    if not found:
        raise Refused("is an email without a report attachment (.xml, .gz or .zip)")
    return found[:MAX_PARTS]


def _kind(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return "xml"
    return "email"


def read_bytes(data: bytes, source: str) -> ReadResult:
    """Every report in one file's bytes (of any supported kind), and a finding for each problem."""
    result = ReadResult([], [], files=1)
    if len(data) > MAX_INPUT_BYTES:
        result.findings.append(unreadable(source, f"is {len(data)} bytes, over the {MAX_INPUT_BYTES}-byte limit: not read"))
        return result
    _read_into(data, source, result, depth=0)
    return result


def _read_into(data: bytes, source: str, result: ReadResult, depth: int) -> None:
    try:
        kind = _kind(data)
        if kind == "xml":
            result.reports.append(parse_xml(data, source))
            return
        if kind == "gzip":
            parts = [(source, _gunzip(data))]
        elif kind == "zip":
            parts = [(f"{source}:{name}", content) for name, content in _unzip(data)]
        elif depth == 0:
            parts = [(f"{source}:{name}", content) for name, content in _attachments(data)]
        else:
            raise Refused("is neither XML, gzip nor zip")
    except Refused as err:
        result.findings.append(unreadable(source, str(err)))
        return
    for name, content in parts:
        if depth >= 2:
            result.findings.append(unreadable(name, "is nested too deeply (an archive in an archive): not read"))
            continue
        _read_into(content, name, result, depth + 1)


def read_directory(directory: Path) -> ReadResult:
    """Every report in the .xml/.gz/.zip/.eml files under `directory` (recursively, sorted)."""
    result = ReadResult([], [])
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name.lower().endswith(EXTENSIONS)):
        source = str(path)
        try:
            size = path.stat().st_size
            if size > MAX_INPUT_BYTES:
                result.files += 1
                result.findings.append(unreadable(source, f"is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit: not read"))
                continue
            data = path.read_bytes()
        except OSError as err:
            result.files += 1
            result.findings.append(unreadable(source, f"cannot be read ({err.strerror or err})"))
            continue
        result.extend(read_bytes(data, source))
    return result


# --- the XML ---------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: Element | None, name: str) -> Element | None:
    if node is None:
        return None
    return next((c for c in node if _local(c.tag) == name), None)


def _children(node: Element | None, name: str) -> list[Element]:
    return [] if node is None else [c for c in node if _local(c.tag) == name]


def _text(node: Element | None, *path: str) -> str | None:
    for name in path:
        node = _child(node, name)
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def _required(node: Element | None, *path: str) -> str:
    value = _text(node, *path)
    if value is None:
        raise Refused(f"has no {'/'.join(path)}: not a DMARC aggregate report")
    return value


def _integer(value: str, what: str, *, maximum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise Refused(f"has {what} {value[:40]!r}, which is not a whole number") from None
    if not 0 <= number <= maximum:
        raise Refused(f"has {what} {number}, outside 0..{maximum}")
    return number


def _results(node: Element | None, name: str) -> tuple[AuthResult, ...]:
    return tuple(AuthResult((_text(r, "domain") or "").lower(), (_text(r, "result") or "none").lower())
                 for r in _children(node, name))


def _row(record: Element) -> Row:
    row = _child(record, "row")
    ip = _required(row, "source_ip")
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        raise Refused(f"has source_ip {ip[:60]!r}, which is not an IP address") from None
    evaluated = _child(row, "policy_evaluated")
    auth = _child(record, "auth_results")
    return Row(
        source_ip=ip,
        count=_integer(_required(row, "count"), "count", maximum=10**12),
        disposition=(_text(evaluated, "disposition") or "none").lower(),
        dkim_aligned=(_text(evaluated, "dkim") or "").lower() == "pass",
        spf_aligned=(_text(evaluated, "spf") or "").lower() == "pass",
        header_from=(_text(record, "identifiers", "header_from") or "").lower(),
        dkim=_results(auth, "dkim"),
        spf=_results(auth, "spf"),
    )


def parse_xml(data: bytes, source: str) -> Report:
    """One aggregate report; `Refused` for XML that is hostile, malformed or not a report."""
    if len(data) > MAX_XML_BYTES:
        raise Refused(f"is {len(data)} bytes of XML, over {MAX_XML_BYTES}: refused")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise Refused(f"is refused: it declares a DTD or entities ({type(err).__name__}), which reports never need "
                      "and entity-expansion attacks use") from None
    except ParseError as err:
        raise Refused(f"is not well-formed XML ({err})") from None
    if _local(root.tag) != "feedback":
        raise Refused(f"has root element <{_local(root.tag)}>, not <feedback>: not a DMARC aggregate report")
    metadata = _child(root, "report_metadata")
    published = _child(root, "policy_published")
    begin = _integer(_required(metadata, "date_range", "begin"), "date_range/begin", maximum=2**40)
    end = _integer(_required(metadata, "date_range", "end"), "date_range/end", maximum=2**40)
    if end < begin:
        raise Refused(f"has a date range that ends ({end}) before it begins ({begin})")
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    rfc9990_only = any(_child(published, f) is not None for f in ("np", "testing", "discovery_method"))
    pct = _text(published, "pct")
    policy = _required(published, "p").lower()
    if policy not in ("none", "quarantine", "reject"):
        raise Refused(f"has policy_published/p {policy[:40]!r}, not none, quarantine or reject")
    return Report(
        org_name=_required(metadata, "org_name"),
        org_email=_text(metadata, "email") or "",
        report_id=_required(metadata, "report_id"),
        begin=begin,
        end=end,
        domain=_required(published, "domain").lower().rstrip("."),
        policy=policy,
        subdomain_policy=(_text(published, "sp") or "").lower() or None,
        testing=(_text(published, "testing") or "n").lower() == "y",
        pct=_integer(pct, "pct", maximum=100) if pct is not None else None,
        schema="rfc9990" if namespace == RFC9990_NAMESPACE or rfc9990_only else "rfc7489",
        rows=tuple(_row(r) for r in _children(root, "record")),
        source=source,
    )


def deduplicate(reports: Iterable[Report]) -> tuple[list[Report], int]:
    """The reports with each (organisation, report id) once (the first seen), and how many copies were dropped."""
    seen: set[tuple[str, str]] = set()
    out: list[Report] = []
    dropped = 0
    for report in reports:
        if report.key in seen:
            dropped += 1
            continue
        seen.add(report.key)
        out.append(report)
    return out, dropped
