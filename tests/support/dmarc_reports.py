"""DMARC aggregate reports made by the project, in the shapes the large receivers send them.

- Google: RFC 7489 XML without <version>, zipped, `google.com!<domain>!<begin>!<end>.zip`.
- Microsoft ("Enterprise Outlook"): RFC 7489 XML with <version>1.0</version>, xsd/xsi namespace
  declarations and envelope_to, gzipped, `enterprise.protection.outlook.com!...xml.gz`.
- Yahoo: the RFC 9990 schema (xmlns urn:ietf:params:xml:ns:dmarc-2.0, np, testing,
  discovery_method, generator), gzipped.
Any of them can be wrapped in an email as SES receiving stores it in S3 (`as_eml`).

Scenarios build rows from a seeded random generator and return them, so a test computes the
expected numbers from the rows themselves, never from the code under test.
"""
from __future__ import annotations

import gzip
import io
import random
import uuid
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

DAY = 86400
SES_IPS = ["54.240.8.12", "54.240.8.47", "23.251.226.3"]  # SES's sending ranges: aligned mail
STYLES = ("google", "microsoft", "yahoo")
ORG = {"google": ("google.com", "noreply-dmarc-support@google.com"),
       "microsoft": ("Enterprise Outlook", "dmarcreport@microsoft.com"),
       "yahoo": ("Yahoo", "dmarchelp@yahooinc.com")}
FILE_ORG = {"google": "google.com", "microsoft": "enterprise.protection.outlook.com", "yahoo": "yahoo.com"}


@dataclass(frozen=True)
class Row:
    ip: str
    count: int
    dkim_aligned: bool
    spf_aligned: bool
    header_from: str
    dkim: tuple[tuple[str, str], ...] = ()  # (domain, result) as the receiver evaluated it
    spf: tuple[tuple[str, str], ...] = ()

    @property
    def passes(self) -> bool:
        return self.dkim_aligned or self.spf_aligned

    @property
    def authenticated(self) -> bool:
        return any(result == "pass" for _, result in (*self.dkim, *self.spf))


def aligned(ip: str, count: int, domain: str) -> Row:
    """SES mail: Easy DKIM for the domain and SPF for its MAIL FROM subdomain, both aligned."""
    return Row(ip, count, True, True, domain, ((domain, "pass"),), ((f"mail.{domain}", "pass"),))


def third_party(ip: str, count: int, domain: str, vendor: str) -> Row:
    """A service sending as the domain but authenticating as itself: SPF and DKIM pass for the
    vendor's domain, neither aligned."""
    return Row(ip, count, False, False, domain, ((vendor, "pass"),), ((f"bounces.{vendor}", "pass"),))


def forged(ip: str, count: int, domain: str) -> Row:
    return Row(ip, count, False, False, domain, (), ((f"{ip.replace('.', '-')}.example.net", "fail"),))


def _record(row: Row, style: str, ns_envelope_to: bool) -> str:
    disposition = "none"
    dkim = "".join(f"<dkim><domain>{escape(d)}</domain><selector>s1</selector><result>{r}</result></dkim>"
                   for d, r in row.dkim)
    spf = "".join(f"<spf><domain>{escape(d)}</domain><scope>mfrom</scope><result>{r}</result></spf>" for d, r in row.spf)
    envelope_to = f"<envelope_to>{escape(row.header_from)}</envelope_to>" if ns_envelope_to else ""
    return (f"<record><row><source_ip>{row.ip}</source_ip><count>{row.count}</count>"
            f"<policy_evaluated><disposition>{disposition}</disposition>"
            f"<dkim>{'pass' if row.dkim_aligned else 'fail'}</dkim><spf>{'pass' if row.spf_aligned else 'fail'}</spf>"
            f"</policy_evaluated></row><identifiers>{envelope_to}<header_from>{escape(row.header_from)}</header_from>"
            f"</identifiers><auth_results>{dkim}{spf}</auth_results></record>")


def report_xml(style: str, *, domain: str, begin: int, end: int, rows: list[Row], report_id: str,
               policy: str = "none", testing: bool = False) -> bytes:
    org, address = ORG[style]
    records = "".join(_record(r, style, style == "microsoft") for r in rows)
    dates = f"<date_range><begin>{begin}</begin><end>{end}</end></date_range>"
    if style == "yahoo":  # RFC 9990
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">'
                f"<version>1.0</version><report_metadata><org_name>{org}</org_name><email>{address}</email>"
                f"<report_id>{report_id}</report_id>{dates}<generator>yahoo-dmarc 2.0</generator></report_metadata>"
                f"<policy_published><domain>{domain}</domain><p>{policy}</p><sp>{policy}</sp><np>{policy}</np>"
                f"<adkim>r</adkim><aspf>r</aspf><testing>{'y' if testing else 'n'}</testing>"
                f"<discovery_method>treewalk</discovery_method></policy_published>{records}</feedback>").encode()
    head = ('<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<version>1.0</version>") if style == "microsoft" else "<feedback>"
    return (f'<?xml version="1.0" encoding="UTF-8" ?>\n{head}<report_metadata><org_name>{org}</org_name>'
            f"<email>{address}</email><report_id>{report_id}</report_id>{dates}</report_metadata>"
            f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{policy}</p>"
            f"<sp>{policy}</sp><pct>100</pct><fo>0</fo></policy_published>{records}</feedback>").encode()


def report_id(style: str, rng: random.Random) -> str:
    if style == "google":
        return str(rng.randrange(10**19, 10**20))
    if style == "microsoft":
        return uuid.UUID(int=rng.getrandbits(128)).hex
    return f"{rng.randrange(1_600_000_000, 1_900_000_000)}.{rng.randrange(10**6)}"


def zipped(name: str, xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, xml)
    return buffer.getvalue()


def packaged(style: str, domain: str, begin: int, end: int, xml: bytes) -> tuple[str, bytes]:
    """The file name and bytes each receiver sends: Google zips, Microsoft and Yahoo gzip."""
    base = f"{FILE_ORG[style]}!{domain}!{begin}!{end}"
    if style == "google":
        return f"{base}.zip", zipped(f"{base}.xml", xml)
    return f"{base}.xml.gz", gzip.compress(xml, mtime=0)


def as_eml(style: str, domain: str, rid: str, filename: str, payload: bytes, to: str, when: int) -> bytes:
    """The report email as SES receiving stores it in S3: the raw message, headers first."""
    org, address = ORG[style]
    message = EmailMessage()
    message["Return-Path"] = f"<{address}>"
    message["Received"] = (f"from mail-sor-f69.{FILE_ORG[style]} by inbound-smtp.eu-west-1.amazonaws.com "
                           f"with SMTP id {rid[:20]}; {format_datetime(datetime.fromtimestamp(when, timezone.utc))}")
    message["From"] = address
    message["To"] = to
    message["Subject"] = f"Report domain: {domain} Submitter: {org} Report-ID: <{rid}>"
    message["Date"] = format_datetime(datetime.fromtimestamp(when, timezone.utc))
    message["Message-ID"] = f"<{rid}@{FILE_ORG[style]}>"
    message.set_content(f"This is an aggregate report from {org}.")
    maintype, subtype = ("application", "zip") if filename.endswith(".zip") else ("application", "gzip")
    message.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@dataclass
class Scenario:
    domain: str
    files: dict[str, bytes]
    rows: list[tuple[str, Row]]  # (reporting style, row) of every unique report
    days: int
    reports: int


def build(domain: str, *, days: int, end: int, daily: "callable", policy: str = "none", testing: bool = False,
          seed: int = 1, eml_every: int = 0, to: str = "dmarc@reports.example.com") -> Scenario:
    """One report per receiver per day for `days` days ending at `end` (Unix time, midnight UTC);
    `daily(rng, style, day)` gives a day's rows. Every `eml_every`-th report comes as an email."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    rows: list[tuple[str, Row]] = []
    n = 0
    for day in range(days):
        begin = end - (days - day) * DAY
        for style in STYLES:
            day_rows = daily(rng, style, day)
            if not day_rows:
                continue
            rid = report_id(style, rng)
            xml = report_xml(style, domain=domain, begin=begin, end=begin + DAY - 1 if style == "google" else begin + DAY,
                             rows=day_rows, report_id=rid, policy=policy, testing=testing)
            name, payload = packaged(style, domain, begin, begin + DAY, xml)
            n += 1
            if eml_every and n % eml_every == 0:
                files[f"{name}.eml"] = as_eml(style, domain, rid, name, payload, to, begin + DAY + 3600)
            else:
                files[name] = payload
            rows += [(style, r) for r in day_rows]
    return Scenario(domain, files, rows, days, n)


def clean_month(end: int) -> Scenario:
    """30 days of SES mail, all aligned, a trickle of forwarded mail and a little forgery."""
    def daily(rng, style, day):
        domain = "clean.example"
        out = [aligned(ip, rng.randrange(20, 60), domain) for ip in SES_IPS]
        if style == "google" and day % 10 == 0:
            out.append(third_party("209.85.220.41", 1, domain, "googlegroups.com"))  # a list forward
        if style == "microsoft" and day % 7 == 3:
            out.append(forged("203.0.113.66", 2, domain))
        return out
    return build("clean.example", days=30, end=end, daily=daily, seed=11, eml_every=5)


def forgotten_sender(end: int) -> Scenario:
    """Published reject, while a CRM sends ~5% of the mail authenticated only as itself."""
    def daily(rng, style, day):
        domain = "crm.example"
        out = [aligned(ip, rng.randrange(30, 50), domain) for ip in SES_IPS]
        out.append(third_party("198.51.100.25", rng.randrange(5, 9), domain, "crm-vendor.example"))
        return out
    return build("crm.example", days=30, end=end, daily=daily, policy="reject", seed=12)


def spoofing(end: int) -> Scenario:
    """A month at quarantine: all own mail aligned, and a large unauthenticated sender."""
    def daily(rng, style, day):
        domain = "spoofed.example"
        out = [aligned(ip, rng.randrange(20, 40), domain) for ip in SES_IPS]
        out.append(forged("192.0.2.200", rng.randrange(20, 40), domain))
        out.append(forged("192.0.2.201", rng.randrange(1, 5), domain))
        return out
    return build("spoofed.example", days=30, end=end, daily=daily, policy="quarantine", seed=13)


def too_little(end: int) -> Scenario:
    """A new domain: three days and a few dozen messages."""
    def daily(rng, style, day):
        return [aligned(SES_IPS[0], rng.randrange(2, 6), "new.example")] if style != "yahoo" else []
    return build("new.example", days=3, end=end, daily=daily, seed=14)


# --- hostile inputs --------------------------------------------------------------------------

BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']>\n<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>')
EXTERNAL_ENTITY = (b'<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                   b"<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>")


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9, mtime=0)


def zip_bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.xml", b" " * size)
    return buffer.getvalue()


def write(files: dict[str, bytes], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
