"""Every AWS, DNS and RFC limit the program depends on, named once, each with its source.

Pure: the standard library only, no AWS calls. A `Limit` says what is limited, how far, in
which unit and where that number comes from; `check` turns a measurement into a message
fragment, `near` says when to warn. The measuring helpers below count the way the service
counts (IAM policy characters, Route 53 TXT values, DNS names), so a caller measures with
them and checks with the limit, and never re-derives either.

Sources are cited next to each number: an AWS documentation page (title, URL), a botocore
API model shape (`service Operation.Member`, checked against the installed botocore by
tests/test_limits.py so drift is caught) or an RFC section.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str          # what is limited, e.g. "IAM inline policies per user (total, whitespace not counted)"
    maximum: int       # the largest value allowed (inclusive)
    unit: str          # "characters", "bytes", "octets", "users", "tags", ...
    source: str        # short citation: AWS doc page title, botocore shape, or RFC section

    def excess(self, measured: int) -> int:
        """How far `measured` is past the maximum: >0 when over, 0 at the limit, <0 = headroom."""
        return measured - self.maximum

    def check(self, measured: int) -> str | None:
        """None within the limit; else a fragment to follow the thing's name, e.g.
        'is 2,113 characters, 65 over the limit of 2,048 characters for IAM inline policies
        per user (total, whitespace not counted) (IAM User Guide: IAM and AWS STS quotas)'."""
        over = self.excess(measured)
        if over <= 0:
            return None
        return (f"is {measured:,} {self.unit}, {over:,} over the limit of {self.maximum:,} {self.unit}"
                f" for {self.name} ({self.source})")

    def near(self, measured: int, fraction: float = 0.9) -> bool:
        """True when `measured` is within the limit but at or past `fraction` of it (for warnings;
        a value over the limit is `check`'s business, not a warning)."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], not {fraction!r}")
        return fraction * self.maximum <= measured <= self.maximum


# --- IAM ---------------------------------------------------------------------------------
# docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
_IAM_QUOTAS = "IAM User Guide: IAM and AWS STS quotas"

# "the total aggregate policy size (the sum size of all inline policies) per entity cannot
# exceed ...: User policy size cannot exceed 2,048 characters ... IAM does not count white
# space when calculating the size of a policy against these quotas." Measure with
# iam_policy_length, summed over all of a user's inline policies.
IAM_USER_INLINE_POLICIES = Limit(
    "IAM inline policies per user (total, whitespace not counted)", 2_048, "characters", _IAM_QUOTAS)
# The API's own ceiling on one PolicyDocument parameter (far above the 2,048 above, which is
# what bites): botocore iam PutUserPolicy.PolicyDocument, shape policyDocumentType max 131072.
IAM_POLICY_DOCUMENT = Limit(
    "one IAM policy document parameter", 131_072, "characters", "botocore iam PutUserPolicy.PolicyDocument (policyDocumentType)")
# "Users in an AWS account: 5000" (not adjustable).
IAM_USERS_PER_ACCOUNT = Limit("IAM users in an AWS account", 5_000, "users", _IAM_QUOTAS)
# "User name: 64 characters"; botocore iam CreateUser.UserName (userNameType) max 64, pattern below.
IAM_USER_NAME = Limit("an IAM user name", 64, "characters", _IAM_QUOTAS + "; botocore iam CreateUser.UserName")
# "Path: 512 characters"; botocore iam CreateUser.Path (pathType) max 512.
IAM_PATH = Limit("an IAM path", 512, "characters", _IAM_QUOTAS + "; botocore iam CreateUser.Path")
# "Access keys assigned to an IAM user: 2".
IAM_ACCESS_KEYS_PER_USER = Limit("access keys per IAM user", 2, "access keys", _IAM_QUOTAS)
# "Tag key: 128 characters", "Tag value: 256 characters"; "Tags that can be attached to an
# IAM user: 50"; botocore iam CreateUser.Tags (tagListType max 50, tagKeyType 128, tagValueType 256).
IAM_TAG_KEY = Limit("an IAM tag key", 128, "characters", _IAM_QUOTAS + "; botocore iam tagKeyType")
IAM_TAG_VALUE = Limit("an IAM tag value", 256, "characters", _IAM_QUOTAS + "; botocore iam tagValueType")
IAM_TAGS_PER_USER = Limit("tags on an IAM user", 50, "tags", _IAM_QUOTAS + "; botocore iam CreateUser.Tags")
# "Policy name: 128 characters"; botocore iam PutUserPolicy.PolicyName (policyNameType) max 128.
IAM_POLICY_NAME = Limit("an IAM inline policy name", 128, "characters", _IAM_QUOTAS + "; botocore iam PutUserPolicy.PolicyName")

# Names of users and inline policies: botocore userNameType / policyNameType pattern
# [\w+=,.@-]+ (a Java regex, where \w is ASCII-only: hence re.ASCII).
IAM_NAME_PATTERN = r"[\w+=,.@-]+"
IAM_NAME_RE = re.compile(IAM_NAME_PATTERN, re.ASCII)

# --- Secrets Manager -----------------------------------------------------------------------
# docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html
_SM_QUOTAS = "Secrets Manager User Guide: AWS Secrets Manager quotas"
# "Resource-based policy length: 20,480 characters"; botocore secretsmanager
# PutResourcePolicy.ResourcePolicy (NonEmptyResourcePolicyType) max 20480.
SECRET_RESOURCE_POLICY = Limit(
    "a Secrets Manager resource policy", 20_480, "characters", _SM_QUOTAS + "; botocore secretsmanager PutResourcePolicy.ResourcePolicy")
# "Secret value size: 65,536 bytes"; botocore CreateSecret.SecretString (SecretStringType) max
# 65536. Measure len(value.encode("utf-8")): the quota is in bytes, the model's max in
# characters; bytes is never less, so it is the safe reading.
SECRET_VALUE = Limit(
    "a Secrets Manager secret value", 65_536, "bytes", _SM_QUOTAS + "; botocore secretsmanager CreateSecret.SecretString")
# botocore secretsmanager CreateSecret.Name (NameType) max 512; its documentation: "ASCII
# letters, numbers, and the following characters: /_+=.@-".
SECRET_NAME = Limit("a Secrets Manager secret name", 512, "characters", "botocore secretsmanager CreateSecret.Name")
SECRET_NAME_RE = re.compile(r"[A-Za-z0-9/_+=.@-]+")
# botocore secretsmanager CreateSecret.Description (DescriptionType) max 2048.
SECRET_DESCRIPTION = Limit(
    "a Secrets Manager secret description", 2_048, "characters", "botocore secretsmanager CreateSecret.Description")

# --- SES (v2) --------------------------------------------------------------------------------
# docs.aws.amazon.com/ses/latest/dg/quotas.html
_SES_QUOTAS = "SES Developer Guide: Service quotas in Amazon SES"
# "Maximum number of identities that you can verify: 10,000 identities per AWS Region" (not adjustable).
# The identity name itself has no model maximum (botocore sesv2 Identity: min 1 only): a
# domain identity is bounded by DNS_NAME below, an address identity by SMTP_PATH.
SES_IDENTITIES_PER_REGION = Limit("SES identities per AWS Region", 10_000, "identities", _SES_QUOTAS)
# "Configuration set names can contain up to 64 alphanumeric characters ... hyphens (-) and
# underscores (_)"; the SES API Reference ConfigurationSet.Name says the same ("Contain 64
# characters or fewer"; botocore ses ConfigurationSet.Name documentation; the sesv2 shape
# ConfigurationSetName carries no constraint).
SES_CONFIGURATION_SET_NAME = Limit("an SES configuration set name", 64, "characters", _SES_QUOTAS)
SES_CONFIGURATION_SET_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
# botocore sesv2 Tag documentation: "A resource can have as many as 50 tags ... A tag key can
# contain as many as 128 characters. A tag value can contain as many as 256 characters."
SES_TAGS_PER_RESOURCE = Limit("tags on an SES resource", 50, "tags", "botocore sesv2 Tag (documentation)")
# "If Amazon SES is unable to detect the record within 72 hours, the domain's verification status
# changes to 'Failed'" (SES API Reference GetIdentityVerificationAttributes; the SES Developer Guide,
# "Verifying a DKIM domain identity", says the same of the DKIM CNAMEs): waiting longer is useless.
SES_VERIFICATION_WINDOW = Limit("the time SES looks for a domain's verification records", 72 * 60, "minutes",
                                "SES API Reference: GetIdentityVerificationAttributes")

# --- SNS and CloudWatch (for the releases that add them) --------------------------------------
# "Policy quotas ... Bytes: 30 kb" (SNS Developer Guide: Amazon SNS API permissions: Actions
# and resources reference). Whether "kb" means 30,000 or 30,720 is not said: we take the
# smaller, so a warning can come early but a rejection never comes as a surprise.
SNS_TOPIC_POLICY = Limit(
    "an SNS topic policy", 30_000, "bytes",
    "SNS Developer Guide: Amazon SNS API permissions: Actions and resources reference (Policy quotas)")
# botocore sns CreateTopic.Name documentation: "Topic names must be made up of only uppercase
# and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and
# 256 characters long" (a FIFO topic's name also ends with .fifo, inside the 256).
SNS_TOPIC_NAME = Limit("an SNS topic name", 256, "characters", "SNS API Reference: CreateTopic (botocore sns CreateTopic.Name)")
SNS_TOPIC_NAME_RE = re.compile(r"[A-Za-z0-9_-]+(\.fifo)?")
# botocore cloudwatch PutMetricAlarm.AlarmName (AlarmName) min 1 max 255.
CLOUDWATCH_ALARM_NAME = Limit("a CloudWatch alarm name", 255, "characters", "botocore cloudwatch PutMetricAlarm.AlarmName")

# --- DNS (RFC 1035) and Route 53 -------------------------------------------------------------
# RFC 1035 2.3.4 "labels 63 octets or less"; "names 255 octets or less" on the wire, which is
# 253 characters in presentation form without the trailing dot (each label's length octet
# becomes a dot, less one, plus the root's zero octet): see dns_name_length.
DNS_LABEL = Limit("a DNS label", 63, "octets", "RFC 1035 section 2.3.4")
DNS_NAME = Limit("a DNS name (presentation form, no trailing dot)", 253, "characters",
                 "RFC 1035 section 2.3.4 (255 octets on the wire)")
DNS_NAME_WIRE = Limit("a DNS name on the wire", 255, "octets", "RFC 1035 section 2.3.4")
# RFC 1035 3.3 <character-string>: "a single length octet followed by that number of
# characters", so at most 255; a TXT RDATA is one or more of them (3.3.14).
TXT_STRING = Limit("one TXT character-string", 255, "octets", "RFC 1035 sections 3.3 and 3.3.14")
# Route 53 API Reference ResourceRecord.Value: "not to exceed 4,000 characters"; botocore
# route53 ResourceRecord.Value (RData) max 4000. For TXT the value is the quoted, escaped
# strings (Route 53 Developer Guide: Supported DNS record types, TXT): measure with
# route53_txt_value_length.
ROUTE53_RECORD_VALUE = Limit("a Route 53 record value", 4_000, "characters",
                             "Route 53 API Reference: ResourceRecord; botocore route53 ResourceRecord.Value (RData)")
# "Records per hosted zone: 10,000" (Route 53 Developer Guide: Quotas, docs.aws.amazon.com/
# Route53/latest/DeveloperGuide/DNSLimitations.html); adjustable on request, and the zone's SOA
# and NS records count too. Records already in a zone are not known offline: warn, never refuse.
ROUTE53_RECORDS_PER_ZONE = Limit("records in a Route 53 hosted zone (default quota, adjustable)", 10_000, "records",
                                 "Route 53 Developer Guide: Quotas")

# --- SMTP addresses (RFC 5321 4.5.3.1) ----------------------------------------------------------
SMTP_LOCAL_PART = Limit("the local part of an address", 64, "octets", "RFC 5321 section 4.5.3.1.1")
SMTP_DOMAIN = Limit("the domain of an address", 255, "octets", "RFC 5321 section 4.5.3.1.2")
# The path includes the angle brackets: '<' + local@domain + '>', so an address is at most 254.
SMTP_PATH = Limit("a reverse-path or forward-path (address with <>)", 256, "octets", "RFC 5321 section 4.5.3.1.3")

ALL_LIMITS: tuple[Limit, ...] = (
    IAM_USER_INLINE_POLICIES, IAM_POLICY_DOCUMENT, IAM_USERS_PER_ACCOUNT, IAM_USER_NAME, IAM_PATH,
    IAM_ACCESS_KEYS_PER_USER, IAM_TAG_KEY, IAM_TAG_VALUE, IAM_TAGS_PER_USER, IAM_POLICY_NAME,
    SECRET_RESOURCE_POLICY, SECRET_VALUE, SECRET_NAME, SECRET_DESCRIPTION,
    SES_IDENTITIES_PER_REGION, SES_CONFIGURATION_SET_NAME, SES_TAGS_PER_RESOURCE, SES_VERIFICATION_WINDOW,
    SNS_TOPIC_POLICY, SNS_TOPIC_NAME, CLOUDWATCH_ALARM_NAME,
    DNS_LABEL, DNS_NAME, DNS_NAME_WIRE, TXT_STRING, ROUTE53_RECORD_VALUE, ROUTE53_RECORDS_PER_ZONE,
    SMTP_LOCAL_PART, SMTP_DOMAIN, SMTP_PATH,
)


# --- measuring helpers -------------------------------------------------------------------------
_JSON_WHITESPACE = frozenset(" \t\n\r")  # RFC 8259 section 2: ws outside tokens


def iam_policy_length(document: dict[str, object] | str) -> int:
    """The characters IAM counts for a policy against IAM_USER_INLINE_POLICIES.

    IAM's quota page says only that "IAM does not count white space". What is certain is
    that whitespace *between* JSON tokens is not counted. Whether whitespace *inside string
    values* (a space in a condition value, say) is dropped is not documented for
    IAM; AWS Organizations, documenting the same kind of policy quota, speaks of white space
    "between JSON elements and outside of quotation marks". So we count every character of
    a string value, spaces included: conservative (we may over-count, never under-count).

    A dict is measured as json.dumps with compact separators and ensure_ascii=True (the
    program's own json.dumps default; a non-Latin-1 character can only reach IAM escaped,
    as IAM takes U+0009, U+000A, U+000D and U+0020-U+00FF only, and the escape is the longer
    form). A str is measured as given: its characters less the whitespace outside strings.
    """
    if not isinstance(document, str):
        return len(json.dumps(document, separators=(",", ":"), ensure_ascii=True))
    count, in_string, escaped = 0, False, False
    for ch in document:
        if in_string:
            count += 1
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch in _JSON_WHITESPACE:
            continue
        else:
            count += 1
            in_string = ch == '"'
    return count


def _labels(name: str) -> list[str]:
    name = name[:-1] if name.endswith(".") else name
    return name.split(".") if name else []


def _label_length(label: str) -> int:
    """Octets of a label on the wire: an ASCII label as is; a non-ASCII one (U-label) as its
    A-label "xn--" + Punycode (RFC 5890/5891; stdlib punycode, lower-cased, no other mapping)."""
    if label.isascii():
        return len(label)
    return len("xn--") + len(label.lower().encode("punycode"))


def dns_name_length(name: str) -> int:
    """Characters of `name` in presentation form without the trailing dot, non-ASCII labels
    counted as their A-labels. The wire length is this plus 2 (DNS_NAME 253 <-> 255 octets)."""
    labels = _labels(name)
    return sum(_label_length(label) for label in labels) + max(len(labels) - 1, 0)


def check_dns_name(name: str) -> list[str]:
    """Messages for `name`: its total length against DNS_NAME and each label against DNS_LABEL
    (empty when it fits)."""
    problems = []
    total = DNS_NAME.check(dns_name_length(name))
    if total:
        problems.append(f"name {name!r} {total}")
    for label in _labels(name):
        over = DNS_LABEL.check(_label_length(label))
        if over:
            problems.append(f"label {label!r} {over}")
    return problems


def _route53_txt_escaped_length(text: str) -> int:
    """Characters of one string inside its quotes as Route 53 takes it (Developer Guide:
    Supported DNS record types, TXT): '"' and '\\' take a backslash; bytes outside printable
    ASCII (0x00-0x1F, 0x7F-0xFF, each UTF-8 octet) are written as \\ddd octal; space and the
    rest of 0x21-0x7E are themselves."""
    length = 0
    for octet in text.encode("utf-8"):
        if octet in (0x22, 0x5C):
            length += 2
        elif 0x20 <= octet <= 0x7E:
            length += 1
        else:
            length += 4
    return length


def route53_txt_value_length(strings: list[str]) -> int:
    """Characters of a TXT record value, as ROUTE53_RECORD_VALUE measures it, for the given
    character-strings: each in double quotes, escaped as Route 53 wants, separated by one
    space ('"a" "b"', the form the Developer Guide shows). The program writes adjacent
    strings with no space ('"a""b"'), one character shorter per boundary, so this is an
    upper bound for that form too."""
    if not strings:
        return 0
    return sum(2 + _route53_txt_escaped_length(s) for s in strings) + len(strings) - 1


def check_txt(strings: list[str]) -> list[str]:
    """Messages for a TXT record made of `strings`: each string against TXT_STRING (UTF-8
    octets, unescaped) and the whole value against ROUTE53_RECORD_VALUE."""
    problems = []
    for index, text in enumerate(strings):
        over = TXT_STRING.check(len(text.encode("utf-8")))
        if over:
            problems.append(f"string {index + 1} {over}")
    over = ROUTE53_RECORD_VALUE.check(route53_txt_value_length(strings))
    if over:
        problems.append(f"value {over}")
    return problems


# --- DMARC report URIs -------------------------------------------------------------------------
# RFC 7489 6.4 (and RFC 9989, DMARCbis, its dmarc-uri ABNF): a DMARC URI is a URI (RFC 3986)
# "within which any commas or exclamation points are percent-encoded"; ',' separates URIs in
# rua/ruf and '!' introduced RFC 7489's size suffix. ';' ends the tag, so it is encoded too.
# RFC 6068 section 2 (mailto): characters of an addr-spec that are not unreserved or
# some-delims ("!$'()*+,;:@") must be percent-encoded, as must '%'; non-ASCII is
# percent-encoded UTF-8 (we do so in the domain as well, which RFC 6068 allows, rather than
# converting to A-labels: the roster's domains are ASCII already).
_RFC3986_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DMARC_KEPT_DELIMS = frozenset("$'()*+:@")  # RFC 6068 some-delims less ',', '!', ';'


def dmarc_uri(address: str) -> str:
    """'mailto:' + `address`, percent-encoded for a DMARC rua/ruf tag: ',', '!', ';', '%',
    space, '=', '&', '?', '#', '"' and everything non-ASCII (as UTF-8 octets) are encoded;
    letters, digits, '-._~' and "$'()*+:@" are kept."""
    if "@" not in address:
        raise ValueError(f"not an address: {address!r}")
    out = []
    for ch in address:
        if ch in _RFC3986_UNRESERVED or ch in _DMARC_KEPT_DELIMS:
            out.append(ch)
        else:
            out.extend(f"%{octet:02X}" for octet in ch.encode("utf-8"))
    return "mailto:" + "".join(out)
