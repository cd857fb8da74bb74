"""The program's DNS records as Cloudflare `DnsRecord` inputs, and Cloudflare's limits on them.

Pure: no Pulumi, no Cloudflare client. `ses_mail.modes.cloudflare` turns these into
`cloudflare.DnsRecord` resources; `ses_mail.adoption` compares what a zone holds with them.

What Cloudflare stores and returns, and so what is written here (a value in any other form is
rewritten by the API or compared unequal by the provider, and shows as drift on every refresh):

- **Names** are the complete name in Punycode, lower case, without the trailing dot: what the
  API returns (`name`: "Complete DNS record name, including the zone name, in Punycode").
  The provider suppresses a diff only between a short name and that FQDN; giving the FQDN
  leaves nothing to suppress.
- **TXT content** "must consist of quoted character strings (RFC 1035), each with a length of up
  to 255 bytes. Strings exceeding this allowed maximum length are automatically split" (API
  schema, TXTRecord.content). The API stores unquoted content as given (the dashboard adds the
  quotes and flags unquoted records), and the provider compares `content` byte for byte
  (terraform-provider-cloudflare, internal/services/dns_record/custom.go, ModifyPlan; its
  auto-quoting pull request 6331 was closed unmerged). So the content is written in the
  quoted, already-split zone-file form: each string at most 255 octets, in double quotes,
  `"` and `\\` escaped with a backslash, other octets outside printable ASCII as `\\DDD`,
  strings separated by one space. That is the form dnspython prints, and what the API keeps
  unchanged (tests/test_cloudflare_specs.py).
- **MX** content is the host alone; the preference goes in `priority`.
- **CNAME** content is the target host without the trailing dot (compared case-insensitively
  by the provider; the program's targets are lower case anyway).
- **proxied** is always False: mail records must never be proxied (a proxied CNAME answers
  with Cloudflare's addresses, and the DKIM key is never found).
- **TTL** is the roster's, in seconds. The roster allows 60-86400, which is Cloudflare's range
  for every plan; 1 ("automatic", 300 s) is never written, as it would hide the roster's value,
  and the Enterprise minimum of 30 is below what the roster accepts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ses_mail.specs.dns_records import DnsRecord, txt_strings
from ses_mail.specs.limits import Limit

#: Pulumi type token of the record resource (the import entries name it too).
DNS_RECORD_TYPE = "cloudflare:index/dnsRecord:DnsRecord"

# --- Cloudflare's limits (API schema for DNS records; developers.cloudflare.com/dns/manage-dns-records/reference/dns-record-types/)
_API = "Cloudflare API: DNS Records (record schema)"
_TYPES = "Cloudflare DNS docs: DNS record types"
#: "Value must be between 60 and 86400, with the minimum reduced to 30 for Enterprise zones";
#: 1 means automatic.
CLOUDFLARE_TTL = Limit("a Cloudflare record TTL", 86_400, "seconds", _API)
CLOUDFLARE_TTL_MIN = 60
CLOUDFLARE_TTL_MIN_ENTERPRISE = 30
CLOUDFLARE_TTL_AUTOMATIC = 1
#: `name`: "Complete DNS record name, including the zone name" (maxLength 255).
CLOUDFLARE_RECORD_NAME = Limit("a Cloudflare record name", 255, "characters", _API)
#: "Each DNS record has a maximum wire format size of 4,096 bytes."
CLOUDFLARE_RECORD_WIRE = Limit("a Cloudflare record's data in wire format", 4_096, "bytes", _TYPES)
#: "If you have multiple records with the same name and type, their combined content length
#: must not exceed 8,192 characters." (Each of the program's names holds one record.)
CLOUDFLARE_RRSET_CONTENT = Limit("the content of Cloudflare records sharing a name and type", 8_192,
                                 "characters", _TYPES)
#: One TXT character-string (RFC 1035 3.3; the API's "up to 255 bytes").
CLOUDFLARE_TXT_STRING = Limit("one TXT character-string at Cloudflare", 255, "bytes", _API)


@dataclass(frozen=True)
class CloudflareRecord:
    """One `cloudflare.DnsRecord`'s inputs (without `zone_id`), as Cloudflare returns them."""

    name: str
    type: str
    ttl: int
    content: str
    purpose: str
    priority: int | None = None
    proxied: bool = False

    def args(self) -> dict[str, Any]:
        """Keyword arguments of `cloudflare.DnsRecord` (zone_id and opts are the caller's)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "ttl": self.ttl,
                               "content": self.content, "proxied": self.proxied}
        if self.priority is not None:
            out["priority"] = self.priority
        return out

    def as_row(self) -> dict[str, object]:
        row: dict[str, object] = {"name": self.name, "type": self.type, "content": self.content, "ttl": self.ttl,
                                  "proxied": self.proxied}
        if self.priority is not None:
            row["priority"] = self.priority
        return row


def _escape(text: str) -> str:
    """One character-string inside its quotes, escaped as RFC 1035 5.1 presentation form (and
    dnspython) writes it."""
    out = []
    for octet in text.encode("utf-8"):
        if octet in (0x22, 0x5C):
            out.append("\\" + chr(octet))
        elif 0x20 <= octet <= 0x7E:
            out.append(chr(octet))
        else:
            out.append(f"\\{octet:03d}")
    return "".join(out)


def quoted_strings(strings: Iterable[str]) -> str:
    """Character-strings as TXT content: each quoted and escaped, separated by one space."""
    return " ".join(f'"{_escape(s)}"' for s in strings)


def txt_content(value: str) -> str:
    """A TXT value as Cloudflare stores and returns it: split into strings of at most 255
    octets (ses_mail.specs.dns_records.txt_strings, the split Route 53 gets too), quoted."""
    return quoted_strings(txt_strings(DnsRecord("", "TXT", 0, value, "")))


def content_strings(content: str) -> list[bytes]:
    """The character-strings of TXT content as a receiver gets them: the quoted strings of the
    presentation form, unescaped; unquoted content (made by hand) is one string."""
    text = content.strip()
    if not text.startswith('"'):
        return [text.encode("utf-8")]
    strings: list[bytes] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if text[i] != '"':
            raise ValueError(f"TXT content {content!r}: expected a quoted string at position {i}")
        i += 1
        current = bytearray()
        while True:
            if i >= len(text):
                raise ValueError(f"TXT content {content!r}: unterminated string")
            ch = text[i]
            if ch == '"':
                i += 1
                break
            if ch == "\\":
                digits = text[i + 1:i + 4]
                if len(digits) == 3 and digits.isdigit():
                    current.append(int(digits))
                    i += 4
                else:
                    current.extend(text[i + 1:i + 2].encode("utf-8"))
                    i += 2
                continue
            current.extend(ch.encode("utf-8"))
            i += 1
        strings.append(bytes(current))
    return strings


def txt_value(content: str) -> str:
    """The value a receiver reads from TXT content (its strings joined), whether the content is
    quoted or not. Inverse of txt_content."""
    return b"".join(content_strings(content)).decode("utf-8", errors="replace")


def fqdn(name: str) -> str:
    """The record name as Cloudflare returns it: A-labels, lower case, no trailing dot."""
    return name.rstrip(".").lower()


def cloudflare_record(spec: DnsRecord) -> CloudflareRecord:
    """One of the program's record specs (DKIM CNAME, MAIL FROM MX or SPF, DMARC, report
    authorisation, receiving MX, ...) as Cloudflare's record inputs."""
    name = fqdn(spec.name)
    if spec.type == "TXT":
        return CloudflareRecord(name, "TXT", spec.ttl, txt_content(spec.value), spec.purpose)
    if spec.type == "MX":
        preference, _, host = spec.value.partition(" ")
        return CloudflareRecord(name, "MX", spec.ttl, fqdn(host), spec.purpose, priority=int(preference))
    if spec.type == "CNAME":
        return CloudflareRecord(name, "CNAME", spec.ttl, fqdn(spec.value), spec.purpose)
    return CloudflareRecord(name, spec.type, spec.ttl, spec.value, spec.purpose)


def cloudflare_records(specs: Iterable[DnsRecord]) -> list[CloudflareRecord]:
    return [cloudflare_record(s) for s in specs]


# --- limits ----------------------------------------------------------------------------------

def _wire_length(record: CloudflareRecord) -> int:
    """Octets of the record's RDATA on the wire (what the 4,096-byte limit measures)."""
    if record.type == "TXT":
        return sum(1 + len(s) for s in content_strings(record.content))
    if record.type in ("CNAME", "MX"):
        host = sum(1 + len(label) for label in record.content.split(".") if label) + 1
        return host + (2 if record.type == "MX" else 0)
    return len(record.content.encode("utf-8"))


def check_ttl(ttl: int, *, enterprise: bool = False) -> str | None:
    """Why Cloudflare refuses `ttl` (None when it accepts it)."""
    low = CLOUDFLARE_TTL_MIN_ENTERPRISE if enterprise else CLOUDFLARE_TTL_MIN
    if ttl == CLOUDFLARE_TTL_AUTOMATIC or low <= ttl <= CLOUDFLARE_TTL.maximum:
        return None
    return (f"is outside Cloudflare's TTL range {low}-{CLOUDFLARE_TTL.maximum:,} seconds "
            f"({CLOUDFLARE_TTL.source}; 1 means automatic)")


def record_problems(record: CloudflareRecord) -> list[tuple[str, str]]:
    """Every Cloudflare limit `record` breaks, as (what: ttl, name or content, message); empty
    when it fits."""
    problems = []
    ttl = check_ttl(record.ttl)
    if ttl:
        problems.append(("ttl", f"TTL {record.ttl} {ttl}"))
    over = CLOUDFLARE_RECORD_NAME.check(len(record.name))
    if over:
        problems.append(("name", f"name {record.name!r} {over}"))
    if record.type == "TXT":
        for index, octets in enumerate(content_strings(record.content)):
            over = CLOUDFLARE_TXT_STRING.check(len(octets))
            if over:
                problems.append(("content", f"TXT string {index + 1} {over}"))
    over = CLOUDFLARE_RECORD_WIRE.check(_wire_length(record))
    if over:
        problems.append(("content", f"{record.type} data {over}"))
    over = CLOUDFLARE_RRSET_CONTENT.check(len(record.content))
    if over:
        problems.append(("content", f"{record.type} content {over}"))
    return problems


# --- names of resources ----------------------------------------------------------------------

def import_id(zone_id: str, record_id: str) -> str:
    """The provider's documented import id of a DNS record."""
    return f"{zone_id}/{record_id}"
