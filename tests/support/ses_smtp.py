"""An emulated SES SMTP endpoint on 127.0.0.1 for `ses-mail prove` (aiosmtpd, moto IAM/SNS).

What it does, in the order SES does it:
1. STARTTLS with a certificate for `email-smtp.<region>.amazonaws.com`, issued by a test CA made
   here with `cryptography` (`SmtpCertificates`); AUTH is refused before STARTTLS, and MAIL before
   AUTH ("530 Authentication required").
2. AUTH PLAIN/LOGIN: the user name is an access key ID of moto's IAM, the password must be the SES
   SMTP password derived from its secret for this region (ses_mail/specs/smtp_password.py), and
   the key must be Active; otherwise "535 Authentication Credentials Invalid".
3. DATA: the From header's domain and the envelope sender's domain must be verified identities,
   else "554 Message rejected: Email address is not verified. The following identities failed
   the check in region <REGION>: <addresses>".
4. Then the key owner's IAM policies (inline and attached, read from moto IAM: what the stack
   put there) are evaluated by tests/iam_eval.py for `ses:SendRawEmail` on the From domain's
   identity ARN and, when a configuration set applies, on the set's ARN; anything but Allow is
   "554 Access denied: User `<user ARN>' is not authorized to perform `ses:SendRawEmail' on
   resource `<ARN>'".
5. Accepted: "250 Ok <message id>". A message to bounce@ or complaint@simulator.amazonses.com
   through a configuration set with an SNS event destination becomes a Bounce or Complaint
   event, published to moto SNS only if the topic's policy lets `ses.amazonaws.com` publish
   with aws:SourceAccount = the account and aws:SourceArn = the set's ARN (tests/iam_eval.py,
   `decide_service`).

ASSUMPTIONS about SES (each is what `prove` records as live-only in its JSON; docs/prove.md):
- A1 `ses:FromAddress` is the address of the header From, never the envelope sender.
- A2 `ses:FromDisplayName` is the From display name decoded from RFC 2047 (email's default
  policy does the decoding); the key is absent when the From has no display name.
- A3 `ses:FeedbackAddress` is the SMTP envelope sender (MAIL FROM, the Return-Path), present
  whenever MAIL FROM is not the null sender `<>`.
- A4 `ses:Recipients` is every envelope recipient (RCPT TO: To, Cc and Bcc alike).
- A5 identity verification comes before any policy: an unverified From (or envelope sender)
  domain is refused as not verified, whatever the policy says.
- A6 `aws:SourceIp` is the SMTP client's address as SES sees it.
- A7 the configuration set that applies is an X-SES-CONFIGURATION-SET header, else the From
  identity's default set; sending is authorised on its ARN as well as the identity's.
- A8 refusals happen at DATA (the From header is needed), with the connection kept open.
- A9 event publishing through a configuration set puts SES's auto-tag `ses:caller-identity` (the
  sending IAM user's name) in `mail.tags`, and the event's `mail.destination` holds the recipients.
- A10 the texts are those of SES's documentation (SMTP response codes; sending errors); the
  Access denied text follows the IAM error message format.

Receiving (`SesAccount.receiving`, for `prove --receiver`): an accepted message to a recipient of a
rule of the active receipt rule set is handed to SES receiving, as SES's outbound servers deliver
it to the MX `inbound-smtp.<region>.amazonaws.com`:
- R1 outbound, SES replaces the Message-ID with `<message id@<region>.amazonses.com>`, adds a
  Feedback-ID, and signs twice, relaxed/relaxed: d=amazonses.com with its own key, then, on top,
  d=<From domain> with the identity's Easy DKIM key (selector: its first token); the envelope
  sender becomes `<message id>@<custom MAIL FROM domain>` (SES's own domain without one);
- R2 the outbound server is `Receiving.outbound_ip` / `outbound_helo` (a documentation address
  standing in for SES's egress ranges, which the test's stand-in amazonses.com SPF record lists);
- R3 receiving judges SPF (pyspf), every DKIM signature (dkimpy) and DMARC (authheaders) against
  the DNS the test serves (dnspython's default resolver), and prepends, in this order: Return-Path,
  Received (`from <helo> (<helo> [<ip>]) by inbound-smtp.<region>.amazonaws.com with SMTP id <id>
  for <recipient>; <date>`), X-SES-Spam-Verdict and X-SES-Virus-Verdict (PASS; only with scanning
  on), Received-SPF, Authentication-Results (`amazonses.com; spf=... (spfCheck: ...)
  client-ip=...; envelope-from=...; helo=...; dkim=... header.i=@<d>; dmarc=... header.from=...;`)
  and X-SES-RECEIPT: the layout of messages SES stores (AWS's receiving notification examples
  show the same headers);
- R4 the S3 action writes the message whole as `<prefix><id>` only when the bucket's policy
  (evaluated by tests/iam_eval.py) lets ses.amazonaws.com PutObject there with aws:SourceAccount
  = the account and aws:SourceArn = the rule's ARN; otherwise nothing is stored (`undelivered`).
"""
from __future__ import annotations

import base64
import datetime
import email
import email.policy
import json
import logging
import socket
import ssl
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ses_mail.specs.iam_policy import SEND_ACTION, identity_arn
from ses_mail.specs.deliverability import configuration_set_arn
from ses_mail.specs.smtp_password import smtp_endpoint, smtp_password
from tests.iam_eval import Request, decide, decide_service

# aiosmtpd warns on every AUTH about an attribute it sets itself.
logging.getLogger("mail.log").setLevel(logging.ERROR)

SIMULATOR_BOUNCE = "bounce@simulator.amazonses.com"
SIMULATOR_COMPLAINT = "complaint@simulator.amazonses.com"

AUTH_INVALID = "535 Authentication Credentials Invalid"
AUTH_REQUIRED = "530 Authentication required"


# --- certificates -----------------------------------------------------------------------------

@dataclass
class SmtpCertificates:
    """A CA and a server certificate for `server_name` (and 127.0.0.1), written under `directory`."""

    directory: Path
    server_name: str
    ca_file: Path = field(init=False)
    cert_file: Path = field(init=False)
    key_file: Path = field(init=False)

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ses-mail prove test CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False, data_encipherment=False,
                                           key_agreement=False, encipher_only=False, decipher_only=False),
                             critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.server_name)]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(self.server_name)]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.directory / "ca.pem"
        self.cert_file = self.directory / "server.pem"
        self.key_file = self.directory / "server.key"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


# --- the account SES sees ---------------------------------------------------------------------

@dataclass
class SesAccount:
    """What SES knows besides IAM: verified domains, each domain's default configuration set, and
    each set's SNS event destination (topic ARN, or None for none)."""

    region: str
    account_id: str
    verified: set[str]
    default_set: dict[str, str] = field(default_factory=dict)
    sns_destination: dict[str, Optional[str]] = field(default_factory=dict)
    #: Every accepted message: (user name, envelope sender, recipients, request context)
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    #: SES receiving, when the account receives mail (R1-R4 above).
    receiving: Optional["Receiving"] = None


@dataclass
class ReceiptRule:
    """A rule of the active receipt rule set with its S3 action."""

    name: str
    rule_set: str
    recipients: list[str]
    bucket: str
    prefix: str
    scan: bool = True

    def matches(self, recipient: str) -> bool:
        # SES matches an address, a domain, or (leading dot) its subdomains.
        address = recipient.lower()
        domain = address.rpartition("@")[2]
        return any(r.lower() in (address, domain) or (r.startswith(".") and domain.endswith(r.lower()))
                   for r in self.recipients)


@dataclass
class Receiving:
    """SES receiving of the account (rules of the active set, bucket policies), and what SES's
    outbound side signs and sends with."""

    s3: Any
    rules: list[ReceiptRule]
    bucket_policies: dict[str, dict[str, Any]]
    #: From domain -> custom MAIL FROM domain
    mail_from: dict[str, str]
    #: From domain -> (selector, private key PEM) of its Easy DKIM signature
    dkim_keys: dict[str, tuple[str, bytes]]
    #: SES's own d=amazonses.com signature
    amazonses_key: tuple[str, bytes]
    outbound_ip: str = "198.51.100.25"
    outbound_helo: str = "e1-25.smtp-out.eu-west-1.amazonses.com"
    stored: list[dict[str, Any]] = field(default_factory=list)
    undelivered: list[dict[str, Any]] = field(default_factory=list)


def _iam_backend(account_id: str):
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


def _key_owner(account: SesAccount, key_id: str) -> tuple[Any, Any] | None:
    """(user, key) of an access key, from moto's backend: SES knows each key's secret, and moto's
    API never returns a secret again after CreateAccessKey."""
    for user in _iam_backend(account.account_id).users.values():
        for key in user.access_keys:
            if key.access_key_id == key_id:
                return user, key
    return None


class SesHandler:
    def __init__(self, account: SesAccount, iam: Any, sns: Any) -> None:
        self.account, self.iam, self.sns = account, iam, sns

    # AUTH ---------------------------------------------------------------------------------
    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        found = _key_owner(self.account, login)
        if found is None:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        user, key = found
        if key.status != "Active" or password != smtp_password(key.secret_access_key, self.account.region):
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        return AuthResult(success=True, auth_data=user.name)

    async def handle_DATA(self, server, session, envelope) -> str:
        user_name = session.auth_data
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        try:
            sender = message["From"].addresses[0]
        except (TypeError, IndexError, AttributeError):
            return "554 Transaction failed: Missing final '@domain'"
        from_address = sender.addr_spec
        display = sender.display_name or None
        # A5: the From and the envelope sender must be verified identities, before any policy.
        unverified = [a for a in dict.fromkeys([from_address, envelope.mail_from or ""])
                      if a and a.rpartition("@")[2].lower() not in self.account.verified]
        if unverified:
            return self._refuse(user_name, "554 Message rejected: Email address is not verified. The following "
                                "identities failed the check in region " + self.account.region.upper() + ": "
                                + ", ".join(unverified))
        domain = from_address.rpartition("@")[2].lower()
        set_name = message.get("X-SES-CONFIGURATION-SET") or self.account.default_set.get(domain)
        context: dict[str, Any] = {"ses:FromAddress": from_address, "ses:Recipients": list(envelope.rcpt_tos),
                                   "aws:SourceIp": session.peer[0]}
        if display is not None:
            context["ses:FromDisplayName"] = display
        if envelope.mail_from:
            context["ses:FeedbackAddress"] = envelope.mail_from
        resources = [identity_arn(self.account.region, self.account.account_id, domain)]
        if set_name:
            resources.append(configuration_set_arn(self.account.region, self.account.account_id, set_name))
        policies = self._policies(user_name)
        user_arn = self.iam.get_user(UserName=user_name)["User"]["Arn"]
        for resource in resources:
            if decide(policies, Request(SEND_ACTION, resource, context)) != "Allow":
                return self._refuse(user_name, f"554 Access denied: User `{user_arn}' is not authorized to perform "
                                    f"`{SEND_ACTION}' on resource `{resource}'", context)
        message_id = f"0100{uuid.uuid4().hex}-000000"
        self.account.sent.append({"user": user_name, "mail_from": envelope.mail_from,
                                  "recipients": list(envelope.rcpt_tos), "context": context, "set": set_name})
        if set_name:
            self._publish(set_name, user_name, message_id, from_address, str(message["From"]),
                          list(envelope.rcpt_tos), session.peer[0], domain)
        if self.account.receiving is not None:
            for recipient in envelope.rcpt_tos:
                rule = next((r for r in self.account.receiving.rules if r.matches(recipient)), None)
                if rule is not None:
                    deliver(self.account, rule, envelope.original_content or envelope.content, message_id,
                            domain, recipient)
        return f"250 Ok {message_id}"

    def _refuse(self, user: str, reply: str, context: Optional[dict[str, Any]] = None) -> str:
        self.account.refused.append({"user": user, "reply": reply, "context": context})
        return reply

    def _policies(self, user_name: str) -> list[dict[str, Any]]:
        policies = []
        for name in self.iam.list_user_policies(UserName=user_name)["PolicyNames"]:
            document = self.iam.get_user_policy(UserName=user_name, PolicyName=name)["PolicyDocument"]
            policies.append(json.loads(document) if isinstance(document, str) else document)
        for attached in self.iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]:
            version = self.iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            document = self.iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                                   VersionId=version)["PolicyVersion"]["Document"]
            policies.append(json.loads(document) if isinstance(document, str) else document)
        return policies

    def _publish(self, set_name: str, user: str, message_id: str, source: str, from_header: str,
                 recipients: list[str], source_ip: str, domain: str) -> None:
        kinds = {SIMULATOR_BOUNCE: "Bounce", SIMULATOR_COMPLAINT: "Complaint"}
        topic = self.account.sns_destination.get(set_name)
        events = [(r, kinds[r]) for r in recipients if r in kinds]
        if topic is None or not events:
            return
        attributes = self.sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        policy = json.loads(attributes.get("Policy") or '{"Statement": []}')
        set_arn = configuration_set_arn(self.account.region, self.account.account_id, set_name)
        publish = Request("SNS:Publish", topic, {"aws:SourceAccount": self.account.account_id,
                                                 "aws:SourceArn": set_arn}, service="ses.amazonaws.com")
        if decide_service(policy, publish) != "Allow":
            return  # SES's delivery to SNS fails silently for the sender
        now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        for recipient, kind in events:
            detail = ({"bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": now,
                                  "bouncedRecipients": [{"emailAddress": recipient, "action": "failed",
                                                         "status": "5.1.1",
                                                         "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}
                      if kind == "Bounce" else
                      {"complaint": {"complainedRecipients": [{"emailAddress": recipient}], "timestamp": now,
                                     "complaintFeedbackType": "abuse"}})
            event = {"eventType": kind, **detail, "mail": {
                "timestamp": now, "source": from_header, "messageId": message_id,
                "sourceArn": identity_arn(self.account.region, self.account.account_id, domain),
                "sendingAccountId": self.account.account_id, "destination": recipients, "headersTruncated": False,
                "tags": {"ses:configuration-set": [set_name], "ses:caller-identity": [user],
                         "ses:from-domain": [domain], "ses:source-ip": [source_ip]}}}
            self.sns.publish(TopicArn=topic, Message=json.dumps(event))


#: What SES's signatures cover (the exact h= is SES's choice; nothing here depends on it).
SIGNED_HEADERS = [b"from", b"to", b"cc", b"subject", b"mime-version", b"content-type",
                  b"content-transfer-encoding", b"message-id", b"date", b"feedback-id"]


def outbound(account: SesAccount, raw: bytes, message_id: str, domain: str) -> tuple[bytes, str]:
    """R1: the message as SES sends it, and its envelope sender."""
    import dkim

    receiving = account.receiving
    assert receiving is not None
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    del message["Message-ID"]
    message["Message-ID"] = f"<{message_id}@{account.region}.amazonses.com>"
    message["Feedback-ID"] = f"::1.{account.region}.{uuid.uuid4().hex}=:AmazonSES"
    text = message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
    selector, key = receiving.amazonses_key
    text = dkim.sign(text, selector.encode(), b"amazonses.com", key, canonicalize=(b"relaxed", b"relaxed"),
                     include_headers=SIGNED_HEADERS) + text
    if domain in receiving.dkim_keys:
        selector, key = receiving.dkim_keys[domain]
        text = dkim.sign(text, selector.encode(), domain.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                         include_headers=SIGNED_HEADERS) + text
    envelope_domain = receiving.mail_from.get(domain) or f"{account.region}.amazonses.com"
    return text, f"{message_id}@{envelope_domain}"


def inbound_headers(account: SesAccount, rule: ReceiptRule, text: bytes, envelope_from: str, recipient: str,
                    inbound_id: str) -> bytes:
    """R3: what SES receiving prepends, its verdicts judged by the libraries against the test DNS."""
    import authheaders
    import dkim
    import spf
    from authres import DKIMAuthenticationResult, SPFAuthenticationResult

    receiving = account.receiving
    assert receiving is not None
    ip, helo = receiving.outbound_ip, receiving.outbound_helo
    result, explanation = spf.check2(i=ip, s=envelope_from, h=helo)
    spf_clause = f"{result} (spfCheck: {explanation}) client-ip={ip}; envelope-from={envelope_from}; helo={helo};"
    message = email.message_from_bytes(text, policy=email.policy.compat32)
    dkim_clauses, aligned_dkim = [], None
    from_domain = message["From"].rpartition("@")[2].strip(" >").lower()
    for idx in range(len(message.get_all("DKIM-Signature") or [])):
        verifier = dkim.DKIM(text, logger=logging.getLogger("ses-smtp.dkim"))
        try:
            ok = verifier.verify(idx=idx)
        except dkim.DKIMException:
            ok = False
        d = verifier.signature_fields.get(b"d", b"").decode()
        dkim_clauses.append(f"dkim={'pass' if ok else 'fail'} header.i=@{d};")
        if d == from_domain:
            aligned_dkim = DKIMAuthenticationResult(result="pass" if ok else "fail", header_d=d)
    dmarc = authheaders.check_dmarc(text, spf_result=SPFAuthenticationResult(result=result, smtp_mailfrom=envelope_from),
                                    dkim_result=aligned_dkim)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    lines = [f"Return-Path: <{envelope_from}>",
             f"Received: from {helo} ({helo} [{ip}])\r\n by inbound-smtp.{account.region}.amazonaws.com with SMTP id "
             f"{inbound_id}\r\n for {recipient};\r\n {now} (UTC)"]
    if rule.scan:
        lines += ["X-SES-Spam-Verdict: PASS", "X-SES-Virus-Verdict: PASS"]
    lines += [f"Received-SPF: {spf_clause}",
              "Authentication-Results: amazonses.com;\r\n spf=" + spf_clause + "".join(
                  f"\r\n {c}" for c in dkim_clauses) + f"\r\n dmarc={dmarc.result} header.from={from_domain};",
              f"X-SES-RECEIPT: {base64.b64encode(uuid.uuid4().bytes * 4).decode()}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def deliver(account: SesAccount, rule: ReceiptRule, raw: bytes, message_id: str, domain: str, recipient: str) -> None:
    """SES sends the accepted message to its receiving side, which stores it by the rule's S3 action (R4)."""
    receiving = account.receiving
    assert receiving is not None
    text, envelope_from = outbound(account, raw, message_id, domain)
    inbound_id = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    key = f"{rule.prefix}{inbound_id}"
    rule_arn = (f"arn:aws:ses:{account.region}:{account.account_id}:receipt-rule-set/{rule.rule_set}"
                f":receipt-rule/{rule.name}")
    put = Request("s3:PutObject", f"arn:aws:s3:::{rule.bucket}/{key}",
                  {"aws:SourceAccount": account.account_id, "aws:SourceArn": rule_arn, "aws:SecureTransport": "true"},
                  service="ses.amazonaws.com")
    policy = receiving.bucket_policies.get(rule.bucket) or {"Statement": []}
    if decide_service(policy, put) != "Allow":
        receiving.undelivered.append({"recipient": recipient, "rule": rule.name, "key": key})
        return
    body = inbound_headers(account, rule, text, envelope_from, recipient, inbound_id) + text
    receiving.s3.put_object(Bucket=rule.bucket, Key=key, Body=body)
    receiving.stored.append({"recipient": recipient, "rule": rule.name, "key": key, "envelope_from": envelope_from})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_ses_smtp(account: SesAccount, certificates: SmtpCertificates, iam: Any, sns: Any) -> Iterator[str]:
    """The emulated endpoint while the block runs; yields `127.0.0.1:<port>`."""
    handler = SesHandler(account, iam, sns)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname=smtp_endpoint(account.region),
                            tls_context=certificates.server_context(), require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=handler.authenticate,
                            decode_data=False, ready_timeout=10)
    controller.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        controller.stop()

