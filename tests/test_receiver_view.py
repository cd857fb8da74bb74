"""The receiver's view: what a receiving mail server concludes about mail sent through SES
under the records this project publishes (issue 11, item 4).

A real DNS server on 127.0.0.1 (tests/support/dns_server.py) serves the records the project's
own builders produce for a roster, plus stand-ins for what SES publishes on its side:

- `amazonses.com` TXT `v=spf1 ip4:198.51.100.0/24 -all`: a STAND-IN for SES's real SPF, which
  lists SES's egress ranges; 198.51.100.0/24 is a documentation range (RFC 5737) playing the
  part of SES's outbound servers;
- `<token>.dkim.amazonses.com` TXT `v=DKIM1; k=rsa; p=...`: the public half of a 2048-bit key
  generated here, standing in for the Easy DKIM key SES keeps behind each CNAME target.

Messages are then judged by the real libraries a receiver might use: pyspf (SPF), dkimpy
(DKIM) and authheaders (DMARC, with its packaged public suffix list), all asking only the
local server. P1 of the security model is the message under test: taro@test1.com sends as
taro@test1.com; SES signs it with d=test1.com and a selector among the Easy DKIM tokens, and
sends it from its own address space with the envelope sender at the custom MAIL FROM
domain mail.test1.com.
"""
from __future__ import annotations

import base64
import importlib.resources
import logging
from dataclasses import dataclass, field

import authheaders
import dkim
import dns.resolver
import pytest
import spf
from authheaders.dmarc_lookup import get_org_domain
import authres
import authres.dmarc
from authres import DKIMAuthenticationResult, SPFAuthenticationResult
from authres.dmarc import DMARCAuthenticationResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ses_mail.specs.dns_records import dkim_domain, dkim_records, route53_values, static_records
from ses_mail.roster import parse_roster
from tests.support.dns_server import LocalDnsServer, resolver_for, serve_zone

# pyspf 2.0.14 calls dnspython's deprecated dns.resolver.query(); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")

REGION = "ap-northeast-1"
# Easy DKIM tokens look like 32 lowercase base32 characters.
TOKENS = ["4yxk2qmbdn7fz3vhcw5tjlr6oepsiua2", "kq7vd3nzw2xb5hjm4coy6fres2lati7u", "zp3rm6cwx7ekq2vjd5ngh4bylosu2ait"]
SELECTOR = TOKENS[0]

SES_RANGE = "198.51.100.0/24"  # stand-in for SES's egress ranges (documentation range)
SES_IP = "198.51.100.25"  # one "SES outbound server" inside it
HELO = "e25-1.smtp-out.ap-northeast-1.amazonses.com"
OTHER_IP = "203.0.113.66"  # outside it: a spoofer's server
ENVELOPE = "0106018f2a3b4c5d-6e7f8a9b-0c1d-2e3f-4a5b-6c7d8e9f0a1b-000000@mail.test1.com"
#: SES's own envelope domain, used when the custom MAIL FROM's MX is missing (behavior on MX
#: failure USE_DEFAULT_VALUE, as components/sending_domain.py sets it). Stand-in: the apex.
SES_DEFAULT_ENVELOPE = "0106018f2a3b4c5d-6e7f8a9b-0c1d-2e3f-4a5b-6c7d8e9f0a1b-000000@amazonses.com"
AMAZONSES_SELECTOR = "ug7nbtf4gccmlpwj322ax3p6ow6yfsug"  # SES also signs every message as d=amazonses.com

#: The header fields the signatures cover: a representative set of what SES's signatures list
#: (the exact h= is SES's choice and nothing here depends on it). SES sets Message-ID and Date
#: before it signs; Return-Path is added by the receiving MTA and never signed.
SIGNED_HEADERS = [b"from", b"to", b"cc", b"subject", b"mime-version", b"content-type",
                  b"content-transfer-encoding", b"message-id", b"date", b"feedback-id"]

ROSTER = """
domains:
  - name: test1.com
people:
  - email: taro@test1.com
    name: Taro Yamada
"""


def roster_with_dmarc(settings: str) -> str:
    return ROSTER.replace("  - name: test1.com\n", f"  - name: test1.com\n    dmarc: {settings}\n")


def txt_strings(value: str) -> list[str]:
    """A long TXT value as the character-strings it is published as (255 characters each)."""
    return [value[i:i + 255] for i in range(0, len(value), 255)]


def published_rows(roster_text: str) -> list[tuple]:
    """Every record the project publishes for the roster, as Route53 would serve it."""
    rows = []
    for domain in parse_roster(roster_text).domains:
        for record in dkim_records(domain, TOKENS, REGION) + static_records(domain, REGION):
            for value in route53_values(record):
                # Route53 reads `a""b` (the provider adds the outer quotes) as two character-strings.
                rows.append((record.name, record.type, value.split('""') if record.type == "TXT" else value, record.ttl))
    return rows


@dataclass
class Key:
    private_pem: bytes  # PKCS#1, as dkimpy signs with
    txt: list[str]  # the DKIM key record's value, as published


def make_key() -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key(pem, txt_strings("v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()))


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    """One key per Easy DKIM selector, SES's own amazonses.com key, and an attacker's."""
    return {name: make_key() for name in [*TOKENS, AMAZONSES_SELECTOR, "attacker"]}


def ses_stand_ins(keys: dict[str, Key]) -> list[tuple]:
    rows = [("amazonses.com", "TXT", f"v=spf1 ip4:{SES_RANGE} -all", 300),
            (f"{AMAZONSES_SELECTOR}._domainkey.amazonses.com", "TXT", keys[AMAZONSES_SELECTOR].txt, 300)]
    rows += [(f"{token}.{dkim_domain(REGION)}", "TXT", keys[token].txt, 300) for token in TOKENS]
    return rows


@pytest.fixture(scope="module")
def server():
    with serve_zone() as running:
        yield running


def message(sender: str = "taro@test1.com", display: str = "Taro Yamada") -> bytes:
    return (
        f"From: {display} <{sender}>\r\n"
        "To: hanako@receiver.example\r\n"
        "Subject: Quarterly report\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "Message-ID: <0106018f2a3b4c5d-6e7f8a9b-0c1d-2e3f-4a5b-6c7d8e9f0a1b-000000@ap-northeast-1.amazonses.com>\r\n"
        "Date: Mon, 2 Jun 2025 09:00:00 +0000\r\n"
        "Feedback-ID: ::1.ap-northeast-1.xyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzx=:AmazonSES\r\n"
        "\r\n"
        "Hello Hanako,\r\n\r\nThe figures are attached.\r\n"
    ).encode()


def signed(msg: bytes, key: Key, selector: str = SELECTOR, domain: str = "test1.com") -> bytes:
    """`msg` with a DKIM-Signature on top, made as SES's Easy DKIM makes it (rsa-sha256, relaxed/relaxed)."""
    signature = dkim.sign(msg, selector.encode(), domain.encode(), key.private_pem,
                          canonicalize=(b"relaxed", b"relaxed"), include_headers=SIGNED_HEADERS)
    return signature + msg


def as_ses_sends(msg: bytes, keys: dict[str, Key]) -> bytes:
    """SES's two signatures: the domain's Easy DKIM one on top, then its own d=amazonses.com one."""
    with_amazonses = dkim.sign(msg, AMAZONSES_SELECTOR.encode(), b"amazonses.com", keys[AMAZONSES_SELECTOR].private_pem,
                               canonicalize=(b"relaxed", b"relaxed"), include_headers=SIGNED_HEADERS) + msg
    return signed(with_amazonses, keys[SELECTOR])


def received(msg: bytes, envelope: str) -> bytes:
    """The message as the receiving MTA stores it: Return-Path from the SMTP MAIL FROM on top."""
    return f"Return-Path: <{envelope}>\r\n".encode() + msg


@dataclass
class Receiver:
    """The receiving side, with each library pointed at the local DNS server."""

    server: LocalDnsServer
    keys: dict[str, Key]
    resolver: dns.resolver.Resolver
    dkim_log: list[str] = field(default_factory=list)

    def publish(self, roster_text: str = ROSTER, extra: tuple = ()) -> None:
        self.server.replace(published_rows(roster_text) + ses_stand_ins(self.keys) + list(extra))

    def dnsfunc(self, name, timeout: float = 5) -> str | None:
        """TXT lookup for dkimpy and authheaders: the first TXT record's strings joined, after
        any CNAME (dnspython follows the chain the server answers with), None if there is none."""
        if isinstance(name, bytes):
            name = name.decode()
        try:
            answer = self.resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings).decode()

    def spf(self, ip: str = SES_IP, envelope: str = ENVELOPE) -> SPFAuthenticationResult:
        result, explanation = spf.check2(i=ip, s=envelope, h=HELO)
        return SPFAuthenticationResult(result=result, reason=explanation, smtp_mailfrom=envelope, smtp_helo=HELO)

    def dkim(self, msg: bytes, idx: int = 0) -> DKIMAuthenticationResult:
        """dkimpy's verdict on signature `idx`; why it failed is in `dkim_log` (dkimpy logs the
        reason of a key problem and returns False; a message problem it raises)."""
        logger = logging.getLogger("receiver-view.dkim")
        logger.setLevel(logging.DEBUG)
        handler = _ListHandler(self.dkim_log)
        logger.addHandler(handler)
        verifier = dkim.DKIM(msg, logger=logger)
        try:
            ok = verifier.verify(idx=idx, dnsfunc=self.dnsfunc)
        except dkim.DKIMException as err:
            self.dkim_log.append(str(err))
            ok = False
        finally:
            logger.removeHandler(handler)
        if not verifier.signature_fields:
            return DKIMAuthenticationResult(result="none")  # unsigned (RFC 8601's dkim=none)
        header_d = verifier.signature_fields.get(b"d", b"").decode()
        return DKIMAuthenticationResult(result="pass" if ok else "fail", header_d=header_d)

    def dmarc(self, msg: bytes, spf_result=None, dkim_result=None) -> DMARCAuthenticationResult:
        return authheaders.check_dmarc(msg, spf_result=spf_result, dkim_result=dkim_result, dnsfunc=self.dnsfunc)

    def authentication_results(self, msg: bytes, ip: str = SES_IP, envelope: str = ENVELOPE,
                               use_dnsfunc: bool = True) -> dict[str, object]:
        """authheaders' one-call verdict, as an Authentication-Results header parsed back."""
        header = authheaders.authenticate_message(msg, "receiver.example", spf=True, ip=ip, mail_from=envelope,
                                                  helo=HELO, dnsfunc=self.dnsfunc if use_dnsfunc else None)
        parsed = _RESULTS.parse(header)  # with the DMARC extension, for header.from and policy.dmarc
        assert parsed.authserv_id == "receiver.example"
        return {r.method: r for r in parsed.results}


_RESULTS = authres.FeatureContext(authres.dmarc)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@pytest.fixture
def receiver(server, keys, monkeypatch, loopback_only) -> Receiver:
    """The default roster published; pyspf (and authheaders' SPF and DNS defaults) resolve
    through dnspython's default resolver, which is the local server for this test only."""
    resolver = resolver_for(server)
    monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
    r = Receiver(server, keys, resolver)
    r.publish()
    return r


def org_aligned(a: str, b: str) -> bool:
    return get_org_domain(a) == get_org_domain(b)


# --- the message P1 allows passes everything, aligned ---------------------------------------


def test_p1_message_from_ses_passes_spf_dkim_and_dmarc_aligned(receiver, keys):
    """taro@test1.com's message, as SES sends it under the published records, passes SPF (for the
    MAIL FROM domain mail.test1.com), DKIM (d=test1.com through the CNAME to SES's key) and
    DMARC; and DMARC would pass on either one alone, so each is aligned on its own: SPF by
    relaxed alignment (mail.test1.com and test1.com share the organisational domain), DKIM
    exactly (d= is the From domain)."""
    msg = received(as_ses_sends(message(), keys), ENVELOPE)

    spf_result = receiver.spf()
    assert (spf_result.result, spf_result.reason) == ("pass", "sender SPF authorized")

    dkim_result = receiver.dkim(msg)
    assert (dkim_result.result, dkim_result.header_d) == ("pass", "test1.com")
    assert dkim.verify(msg, dnsfunc=receiver.dnsfunc)  # the module-level call agrees

    both = receiver.dmarc(msg, spf_result, dkim_result)
    assert (both.result, both.header_from, both.policy) == ("pass", "test1.com", "none")
    assert both.result_comment == "Used From Domain Record"
    assert receiver.dmarc(msg, spf_result=receiver.spf()).result == "pass"  # SPF alone aligns (relaxed)
    assert receiver.dmarc(msg, dkim_result=dkim_result).result == "pass"  # DKIM alone aligns
    assert org_aligned("mail.test1.com", "test1.com") and "mail.test1.com" != "test1.com"

    # What was looked up, on the local server: the chain a receiver walks.
    asked = set(receiver.server.queries)
    assert {("mail.test1.com", "TXT"), ("amazonses.com", "TXT"), (f"{SELECTOR}._domainkey.test1.com", "TXT"),
            ("_dmarc.test1.com", "TXT")} <= asked


@pytest.mark.parametrize("use_dnsfunc", [True, False], ids=["dnsfunc", "library-default-dns"])
def test_authheaders_one_call_verdict(receiver, keys, use_dnsfunc):
    """authenticate_message, the one call a milter would make, gives the same verdict whether
    DKIM and DMARC lookups go through our dnsfunc or through the libraries' own dnspython code
    (which then uses the default resolver, i.e. the local server)."""
    msg = received(as_ses_sends(message(), keys), ENVELOPE)
    results = receiver.authentication_results(msg, use_dnsfunc=use_dnsfunc)
    assert results["spf"].result == "pass" and results["spf"].smtp_mailfrom == "mail.test1.com"
    assert results["dkim"].result == "pass" and results["dkim"].header_d == "test1.com"
    assert results["dmarc"].result == "pass" and results["dmarc"].header_from == "test1.com"


def test_public_suffix_list_is_the_packaged_copy_and_no_network_is_used(receiver):
    """authheaders finds organisational domains with publicsuffix2 reading the list packaged in
    authheaders (public_suffix_list.txt; `authheaders.findpsl`, a module to point it at another
    copy, is not installed): a real list, since it knows co.uk, and read with sockets confined to
    the loopback (the `loopback_only` guard is active in every test here)."""
    packaged = importlib.resources.files("authheaders") / "public_suffix_list.txt"
    assert packaged.is_file() and "co.uk" in packaged.read_text(encoding="utf-8")
    with pytest.raises(ModuleNotFoundError):
        __import__("authheaders.findpsl")
    assert get_org_domain("mail.test1.com") == "test1.com"
    assert get_org_domain("mail.example.co.uk") == "example.co.uk"


# --- failure cases, each for its own reason ------------------------------------------------


@pytest.mark.parametrize("third_party_dmarc", [None, "v=DMARC1; p=reject"], ids=["no-dmarc", "test2-p-reject"])
def test_unlisted_from_domain_borrows_nothing_from_test1(receiver, keys, third_party_dmarc):
    """(a) A From domain not in the roster (test2.com): even if the message came out of SES
    signed with test1.com's key and with test1.com's envelope (P1 stops it at SES; this is the
    receiver's second line), SPF and DKIM pass for test1.com but neither aligns with test2.com.
    With no DMARC record for test2.com DMARC is `none`; if test2.com's owner publishes p=reject,
    DMARC fails and asks for rejection."""
    extra = () if third_party_dmarc is None else (("_dmarc.test2.com", "TXT", third_party_dmarc, 300),)
    receiver.publish(extra=extra)
    msg = received(signed(message("taro@test2.com"), keys[SELECTOR]), ENVELOPE)

    spf_result, dkim_result = receiver.spf(), receiver.dkim(msg)
    assert spf_result.result == "pass" and dkim_result.result == "pass"
    assert dkim_result.header_d == "test1.com"  # d= is not the From domain...
    assert not org_aligned("test1.com", "test2.com")  # ...nor of its organisation
    verdict = receiver.dmarc(msg, spf_result, dkim_result)
    if third_party_dmarc is None:
        assert verdict.result == "none"  # no policy to pass or fail: nothing vouches for test2.com
        assert ("_dmarc.test2.com", "TXT") in receiver.server.queries
    else:
        assert (verdict.result, verdict.header_from, verdict.policy) == ("fail", "test2.com", "reject")


def test_missing_dkim_cname_fails_dkim_but_dmarc_passes_on_aligned_spf(receiver, keys):
    """(b) The CNAME of the signing selector is gone: DKIM fails because the key is not found
    (dkimpy: `missing public key: <selector>._domainkey.test1.com.`), not because the signature
    is wrong. DMARC still PASSES: SPF passes for mail.test1.com and aligns (relaxed), and DMARC
    needs only one aligned pass. So a missing DKIM record alone does not fail DMARC here."""
    receiver.server.remove(f"{SELECTOR}._domainkey.test1.com", "CNAME")
    msg = received(as_ses_sends(message(), keys), ENVELOPE)

    dkim_result = receiver.dkim(msg)
    assert dkim_result.result == "fail"
    assert f"missing public key: b'{SELECTOR}._domainkey.test1.com.'" in receiver.dkim_log
    assert not any(m.endswith("valid: False") for m in receiver.dkim_log)  # no signature check was reached
    spf_result = receiver.spf()
    assert spf_result.result == "pass"
    assert receiver.dmarc(msg, spf_result, dkim_result).result == "pass"
    assert receiver.dmarc(msg, dkim_result=dkim_result).result == "fail"  # only SPF carried it


def test_missing_dkim_cname_with_strict_spf_alignment_fails_dmarc(receiver, keys):
    """(b') With aspf=s (spf_alignment: strict) the MAIL FROM subdomain never aligns with the
    From domain, so SPF's pass cannot carry DMARC: without the DKIM key DMARC fails."""
    receiver.publish(roster_with_dmarc("{spf_alignment: strict}"))
    receiver.server.remove(f"{SELECTOR}._domainkey.test1.com", "CNAME")
    msg = received(as_ses_sends(message(), keys), ENVELOPE)
    spf_result, dkim_result = receiver.spf(), receiver.dkim(msg)
    assert spf_result.result == "pass" and dkim_result.result == "fail"
    assert receiver.dmarc(msg, spf_result, dkim_result).result == "fail"


def test_missing_dkim_cname_and_mail_from_spf_fails_dmarc(receiver, keys):
    """(b+c) Both the DKIM CNAME and the MAIL FROM SPF record gone: SPF `none`, DKIM key not
    found, DMARC fails (under the published p=none, so the receiver is asked to do nothing yet)."""
    receiver.server.remove(f"{SELECTOR}._domainkey.test1.com", "CNAME")
    receiver.server.remove("mail.test1.com", "TXT")
    msg = received(as_ses_sends(message(), keys), ENVELOPE)
    spf_result, dkim_result = receiver.spf(), receiver.dkim(msg)
    assert spf_result.result == "none"
    assert dkim_result.result == "fail"
    verdict = receiver.dmarc(msg, spf_result, dkim_result)
    assert (verdict.result, verdict.policy) == ("fail", "none")


def test_missing_mail_from_spf_gives_spf_none_and_dmarc_passes_on_dkim(receiver, keys):
    """(c) No SPF TXT at mail.test1.com: SPF is `none` (no record, not a fail: the sender
    published nothing), and DMARC passes on DKIM alone, which aligns even under adkim=s since
    SES signs with d= exactly the From domain."""
    for roster_text in (ROSTER, roster_with_dmarc("{dkim_alignment: strict}")):
        receiver.publish(roster_text)
        receiver.server.remove("mail.test1.com", "TXT")
        msg = received(as_ses_sends(message(), keys), ENVELOPE)
        spf_result, dkim_result = receiver.spf(), receiver.dkim(msg)
        assert spf_result.result == "none"
        assert dkim_result.result == "pass"
        assert receiver.dmarc(msg, spf_result, dkim_result).result == "pass"
        assert receiver.dmarc(msg, spf_result=spf_result).result == "fail"


def test_missing_mail_from_mx_makes_ses_use_its_own_envelope_and_only_dkim_aligns(receiver, keys):
    """(c') No MX at mail.test1.com: SES (behavior on MX failure USE_DEFAULT_VALUE) sends with its
    own envelope domain. SPF passes for amazonses.com, which does not align with test1.com;
    DMARC passes on DKIM alone, and fails if the DKIM key is missing too."""
    receiver.server.remove("mail.test1.com", "MX")
    msg = received(as_ses_sends(message(), keys), SES_DEFAULT_ENVELOPE)
    spf_result = receiver.spf(envelope=SES_DEFAULT_ENVELOPE)
    assert spf_result.result == "pass"
    assert not org_aligned("amazonses.com", "test1.com")
    assert receiver.dmarc(msg, spf_result=spf_result).result == "fail"
    assert receiver.dmarc(msg, spf_result, receiver.dkim(msg)).result == "pass"

    receiver.server.remove(f"{SELECTOR}._domainkey.test1.com", "CNAME")
    assert receiver.dmarc(msg, receiver.spf(envelope=SES_DEFAULT_ENVELOPE), receiver.dkim(msg)).result == "fail"


@pytest.mark.parametrize("envelope, spf_expected", [
    ("bounce@mail.test1.com", "softfail"),  # the MAIL FROM record ends in ~all
    ("bounce@test1.com", "none"),  # the project never publishes SPF at the apex
])
@pytest.mark.parametrize("signature", ["unsigned", "attacker-key"])
def test_spoof_under_p_reject_fails_dmarc_with_policy_reject(receiver, keys, envelope, spf_expected, signature):
    """With `dmarc: {policy: reject}` published by the builder, a message claiming to be
    taro@test1.com from a server outside SES's range fails SPF's authorisation (softfail at the
    MAIL FROM domain, none at the apex), fails DKIM (no signature, or one made with a key that
    is not the one behind the selector's CNAME), and fails DMARC with policy reject."""
    receiver.publish(roster_with_dmarc("{policy: reject}"))
    plain = message()
    msg = received(plain if signature == "unsigned" else signed(plain, keys["attacker"]), envelope)

    spf_result = receiver.spf(ip=OTHER_IP, envelope=envelope)
    assert spf_result.result == spf_expected
    dkim_result = receiver.dkim(msg)
    results = receiver.authentication_results(msg, ip=OTHER_IP, envelope=envelope)
    if signature == "unsigned":
        assert dkim_result.result == "none"
        assert results["dkim"].result == "fail"  # authheaders says fail, not none, for no signature
    else:
        # The key behind the selector's CNAME was found, and the signature does not verify with it.
        assert (dkim_result.result, dkim_result.header_d) == ("fail", "test1.com")
        assert "b'DKIM-Signature' valid: False" in receiver.dkim_log
        assert not any(m.startswith("missing public key") for m in receiver.dkim_log)
        assert results["dkim"].result == "fail"
    verdict = receiver.dmarc(msg, spf_result, dkim_result)
    assert (verdict.result, verdict.header_from, verdict.policy) == ("fail", "test1.com", "reject")
    assert results["spf"].result == spf_expected
    assert results["dmarc"].result == "fail" and results["dmarc"].policy == "reject"


# --- library behaviour this view depends on -------------------------------------------------


def test_authheaders_judges_only_the_topmost_dkim_signature(receiver, keys):
    """SES adds its own d=amazonses.com signature. dkimpy's DKIM.verify and authheaders check
    signature 0 only: if the amazonses.com one were on top, authheaders would report
    dkim=pass header.d=amazonses.com, which does not align, and DMARC would rest on SPF alone;
    dkimpy still verifies the test1.com signature when asked for it (idx=1)."""
    with_test1 = signed(message(), keys[SELECTOR])
    amazonses_on_top = dkim.sign(with_test1, AMAZONSES_SELECTOR.encode(), b"amazonses.com",
                                 keys[AMAZONSES_SELECTOR].private_pem, canonicalize=(b"relaxed", b"relaxed"),
                                 include_headers=SIGNED_HEADERS) + with_test1
    msg = received(amazonses_on_top, ENVELOPE)
    top = receiver.dkim(msg)
    assert (top.result, top.header_d) == ("pass", "amazonses.com")
    second = receiver.dkim(msg, idx=1)
    assert (second.result, second.header_d) == ("pass", "test1.com")
    assert receiver.dmarc(msg, dkim_result=top).result == "fail"
    assert receiver.dmarc(msg, receiver.spf(), top).result == "pass"


def test_authheaders_cuts_from_domains_at_a_hyphen():
    """authheaders (0.16) extracts the From domain with `@([a-z0-9.]+)`, so a hyphenated domain
    is cut short and its DMARC record is looked up at the wrong name: a receiver-view check of
    such a domain must not rely on authheaders' DMARC. This test fails when that is fixed."""
    assert authheaders.get_domain_part("taro@my-company.com") == "my"
