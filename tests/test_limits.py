"""The limits model (ses_mail/specs/limits.py): each limit passes at its maximum and is reported
one past it; the measuring helpers count as the services count; and every constant that an
AWS API model also carries equals the installed botocore's, so a drift in AWS's model fails here."""
from __future__ import annotations

import json
import re
import string
from urllib.parse import unquote

import botocore.session
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings, strategies as st

import ses_mail.specs.limits as L


# --- the Limit type -----------------------------------------------------------------------------

@pytest.mark.parametrize("limit", L.ALL_LIMITS, ids=lambda limit: limit.name)
def test_every_limit_has_a_source_and_positive_maximum(limit):
    assert limit.maximum > 0
    assert limit.unit.strip() and limit.name.strip()
    # A citation, not a placeholder: an RFC section, an AWS guide, or a botocore shape.
    assert re.search(r"RFC \d+ section|Guide|Reference|botocore \w+ \w+", limit.source), limit.source


def test_limit_names_are_unique():
    names = [limit.name for limit in L.ALL_LIMITS]
    assert len(names) == len(set(names))


def test_all_limits_holds_every_limit_defined_in_the_module():
    defined = {id(value) for value in vars(L).values() if isinstance(value, L.Limit)}
    assert defined == {id(limit) for limit in L.ALL_LIMITS}


@pytest.mark.parametrize("limit", L.ALL_LIMITS, ids=lambda limit: limit.name)
def test_at_the_limit_passes_and_one_past_is_reported(limit):
    assert limit.check(limit.maximum) is None
    assert limit.excess(limit.maximum) == 0
    message = limit.check(limit.maximum + 1)
    assert message is not None
    assert limit.name in message and limit.source in message
    assert f"{limit.maximum + 1:,} {limit.unit}, 1 over the limit of {limit.maximum:,} {limit.unit}" in message


def test_message_for_the_inline_policy_example():
    message = L.IAM_USER_INLINE_POLICIES.check(2_113)
    assert message == (
        "is 2,113 characters, 65 over the limit of 2,048 characters for IAM inline policies per user"
        " (total, whitespace not counted) (IAM User Guide: IAM and AWS STS quotas)")
    assert L.IAM_USER_INLINE_POLICIES.excess(2_000) == -48


def test_near_warns_from_the_fraction_up_to_the_limit_only():
    limit = L.IAM_USER_INLINE_POLICIES
    assert not limit.near(1_843)          # 0.9 * 2048 = 1843.2
    assert limit.near(1_844)
    assert limit.near(2_048)
    assert not limit.near(2_049)          # over: check's business
    assert limit.near(1_024, fraction=0.5) and not limit.near(1_023, fraction=0.5)
    with pytest.raises(ValueError):
        limit.near(10, fraction=0)


# --- IAM policy length ----------------------------------------------------------------------

def _policy_of_length(n: int) -> dict:
    """A send policy padded (in a Sid) to exactly n counted characters."""
    base = {"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Allow",
                                                    "Action": "ses:SendRawEmail", "Resource": "*"}]}
    pad = n - L.iam_policy_length(base)
    base["Statement"][0]["Sid"] = "S" * pad
    return base


def test_inline_policy_at_2048_passes_and_2049_is_reported():
    at, past = _policy_of_length(2_048), _policy_of_length(2_049)
    assert L.iam_policy_length(at) == 2_048
    assert L.IAM_USER_INLINE_POLICIES.check(L.iam_policy_length(at)) is None
    assert "1 over" in L.IAM_USER_INLINE_POLICIES.check(L.iam_policy_length(past))


def test_whitespace_between_tokens_is_not_counted_but_inside_strings_is():
    compact = '{"Sid":"a b","Action":["x"]}'
    pretty = '{\n  "Sid" : "a b",\n\t"Action": [ "x" ]\r\n}\n'
    assert L.iam_policy_length(pretty) == L.iam_policy_length(compact) == len(compact)
    # the space inside "a b" counts (conservative reading of "IAM does not count white space")
    assert L.iam_policy_length({"Sid": "a b"}) == len('{"Sid":"a b"}')
    # an escaped quote does not end the string: the spaces after it are still inside it
    assert L.iam_policy_length('{"k": "a\\" b"}') == len('{"k":"a\\" b"}')


def test_non_ascii_is_counted_as_its_json_escape():
    # IAM takes U+0020-U+00FF only; anything else reaches it escaped (\\uXXXX, 6 characters)
    assert L.iam_policy_length({"k": "\u65e5"}) == len('{"k":"\\u65e5"}')


json_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(json_text, json_values, max_size=5), indent=st.sampled_from([None, 0, 1, 2, "\t"]))
def test_policy_length_is_the_compact_length_however_the_document_is_laid_out(document, indent):
    compact = json.dumps(document, separators=(",", ":"), ensure_ascii=True)
    laid_out = json.dumps(document, indent=indent, ensure_ascii=True)
    assert L.iam_policy_length(document) == len(compact)
    # the string scanner agrees with json's own parser on what lies outside strings
    reparsed = json.dumps(json.loads(laid_out), separators=(",", ":"), ensure_ascii=True)
    assert L.iam_policy_length(laid_out) == len(reparsed)
    # never less than the most generous reading (every whitespace character dropped)
    assert L.iam_policy_length(laid_out) >= len(compact) - sum(c.isspace() for c in compact)


# --- DNS names --------------------------------------------------------------------------------

def test_dns_name_of_253_passes_and_254_is_reported():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253 and L.dns_name_length(name) == 253
    assert L.check_dns_name(name) == []
    assert L.check_dns_name(name + ".") == []           # the trailing dot is not counted
    longer = name + "d"
    problems = L.check_dns_name(longer)
    assert len(problems) == 1 and "254 characters, 1 over the limit of 253" in problems[0]


def test_dns_label_of_63_passes_and_64_is_reported_by_label():
    assert L.check_dns_name("a" * 63 + ".example.com") == []
    problems = L.check_dns_name("mail." + "x" * 64 + ".example.com")
    assert problems == [f"label '{'x' * 64}' is 64 octets, 1 over the limit of 63 octets for a DNS label"
                        " (RFC 1035 section 2.3.4)"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=63),
                min_size=1, max_size=8))
def test_wire_length_is_presentation_length_plus_two(labels):
    name = ".".join(labels)
    if L.dns_name_length(name) > 253:
        assert L.check_dns_name(name)
        return
    wire = dns.name.from_text(name).to_wire()
    assert len(wire) == L.dns_name_length(name) + 2
    assert L.DNS_NAME_WIRE.check(len(wire)) is None


@pytest.mark.parametrize("name", ["müller.example", "bücher.de", "日本語.jp", "straße.example"])
def test_non_ascii_labels_count_as_their_a_labels(name):
    a_labels = dns.name.from_unicode(name, idna_codec=dns.name.IDNA_2008_Practical).to_text(omit_final_dot=True)
    assert a_labels.startswith("xn--")
    assert L.dns_name_length(name) == len(a_labels)


# --- TXT and Route 53 ---------------------------------------------------------------------------

def test_txt_string_of_255_octets_passes_and_256_is_reported():
    assert L.check_txt(["a" * 255]) == []
    problems = L.check_txt(["a" * 255, "é" * 128])          # 256 UTF-8 octets
    assert problems == ["string 2 is 256 octets, 1 over the limit of 255 octets for one TXT character-string"
                        " (RFC 1035 sections 3.3 and 3.3.14)"]


def test_route53_value_of_4000_passes_and_4001_is_reported():
    # 15 strings of 255 plus one of s: 16 * 2 quotes + 15 spaces + 15 * 255 + s
    fixed = 15 * 255 + 16 * 2 + 15
    strings = ["a" * 255] * 15 + ["b" * (4_000 - fixed)]
    assert L.route53_txt_value_length(strings) == 4_000
    assert L.check_txt(strings) == []
    strings[-1] += "b"
    assert L.check_txt(strings) == ["value is 4,001 characters, 1 over the limit of 4,000 characters for a Route 53"
                                    " record value (Route 53 API Reference: ResourceRecord;"
                                    " botocore route53 ResourceRecord.Value (RData))"]


def test_route53_escapes_count():
    assert L.route53_txt_value_length([]) == 0
    assert L.route53_txt_value_length(["v=DMARC1; p=none"]) == len('"v=DMARC1; p=none"')
    assert L.route53_txt_value_length(['say "hi"']) == len(r'"say \"hi\""')
    assert L.route53_txt_value_length(["a\\b"]) == len(r'"a\\b"')
    assert L.route53_txt_value_length(["ä"]) == len(r'"\303\244"')      # two UTF-8 octets, octal each
    assert L.route53_txt_value_length(["a", "b"]) == len('"a" "b"')


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=255),
                min_size=1, max_size=6))
def test_route53_length_is_the_length_of_a_value_that_parses_back(strings):
    """Build the value Route 53 is sent (printable ASCII, so no octal escapes, which Route 53
    reads as octal and zone files as decimal) and let dnspython parse it back."""
    value = " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)
    assert L.route53_txt_value_length(strings) == len(value)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, value)
    assert [s.decode() for s in rdata.strings] == strings


# --- DMARC URIs --------------------------------------------------------------------------------

def test_dmarc_uri_plain_address_is_unchanged():
    assert L.dmarc_uri("dmarc-reports@example.com") == "mailto:dmarc-reports@example.com"


@pytest.mark.parametrize("address, expected", [
    ("a,b@example.com", "mailto:a%2Cb@example.com"),
    ("a!b@example.com", "mailto:a%21b@example.com"),
    ("a;b@example.com", "mailto:a%3Bb@example.com"),
    ('"a b"@example.com', "mailto:%22a%20b%22@example.com"),
    ("a%b@example.com", "mailto:a%25b@example.com"),
    ("a=b&c?d#e@example.com", "mailto:a%3Db%26c%3Fd%23e@example.com"),
    ("jürgen@exämple.com", "mailto:j%C3%BCrgen@ex%C3%A4mple.com"),
    ("a+tag.x_y~z$'()*@example.com", "mailto:a+tag.x_y~z$'()*@example.com"),
])
def test_dmarc_uri_encodes_what_dmarc_and_mailto_require(address, expected):
    assert L.dmarc_uri(address) == expected


def test_dmarc_uri_needs_an_address():
    with pytest.raises(ValueError):
        L.dmarc_uri("example.com")


@settings(max_examples=300, deadline=None)
@given(local=st.text(min_size=1, max_size=20), domain=st.text(min_size=1, max_size=20))
def test_dmarc_uri_round_trips_and_leaves_no_delimiter(local, domain):
    address = f"{local}@{domain}"
    uri = L.dmarc_uri(address)
    assert uri.startswith("mailto:")
    body = uri[len("mailto:"):]
    assert body.isascii() and not set(body) & set(",!; \t\r\n\"=&?#")
    assert unquote(body, errors="strict") == address


# --- agreement with the AWS API models (botocore) -------------------------------------------

_session = botocore.session.get_session()


def _member(service: str, operation: str, member: str):
    return _session.get_service_model(service).operation_model(operation).input_shape.members[member]


def _doc(shape) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shape.documentation or ""))


@pytest.mark.parametrize("limit, service, operation, member", [
    (L.IAM_USER_NAME, "iam", "CreateUser", "UserName"),
    (L.IAM_PATH, "iam", "CreateUser", "Path"),
    (L.IAM_POLICY_NAME, "iam", "PutUserPolicy", "PolicyName"),
    (L.IAM_POLICY_DOCUMENT, "iam", "PutUserPolicy", "PolicyDocument"),
    (L.SECRET_RESOURCE_POLICY, "secretsmanager", "PutResourcePolicy", "ResourcePolicy"),
    (L.SECRET_VALUE, "secretsmanager", "CreateSecret", "SecretString"),
    (L.SECRET_NAME, "secretsmanager", "CreateSecret", "Name"),
    (L.SECRET_DESCRIPTION, "secretsmanager", "CreateSecret", "Description"),
    (L.CLOUDWATCH_ALARM_NAME, "cloudwatch", "PutMetricAlarm", "AlarmName"),
], ids=lambda value: value.name if isinstance(value, L.Limit) else None)
def test_limit_equals_the_botocore_model_max(limit, service, operation, member):
    assert _member(service, operation, member).metadata.get("max") == limit.maximum


def test_iam_tag_limits_equal_the_model():
    tags = _member("iam", "CreateUser", "Tags")
    assert tags.metadata["max"] == L.IAM_TAGS_PER_USER.maximum
    assert tags.member.members["Key"].metadata["max"] == L.IAM_TAG_KEY.maximum
    assert tags.member.members["Value"].metadata["max"] == L.IAM_TAG_VALUE.maximum


def test_iam_name_pattern_equals_the_model_and_behaves():
    assert _member("iam", "CreateUser", "UserName").metadata["pattern"] == L.IAM_NAME_PATTERN
    assert _member("iam", "PutUserPolicy", "PolicyName").metadata["pattern"] == L.IAM_NAME_PATTERN
    assert L.IAM_NAME_RE.fullmatch("ses-smtp-taro.yamada+x=1,2@test1.com")
    assert not L.IAM_NAME_RE.fullmatch("taro yamada")
    assert not L.IAM_NAME_RE.fullmatch("jürgen")      # Java's \w is ASCII-only


def test_route53_value_max_equals_the_model():
    shape = _session.get_service_model("route53").shape_for("ResourceRecord").members["Value"]
    assert shape.metadata["max"] == L.ROUTE53_RECORD_VALUE.maximum


def test_ses_identity_has_no_model_max_so_dns_and_smtp_limits_apply():
    # if AWS ever gives the identity name a maximum, this fails and a limit must be added
    assert "max" not in _member("sesv2", "CreateEmailIdentity", "EmailIdentity").metadata


def test_ses_configuration_set_name_equals_the_api_documentation():
    doc = _doc(_session.get_service_model("ses").shape_for("ConfigurationSet").members["Name"])
    assert int(re.search(r"(\d+) characters or fewer", doc).group(1)) == L.SES_CONFIGURATION_SET_NAME.maximum
    assert "letters (a-z, A-Z), numbers (0-9), underscores (_), or dashes (-)" in doc
    assert L.SES_CONFIGURATION_SET_NAME_RE.fullmatch("ses_mail-events-1")
    assert not L.SES_CONFIGURATION_SET_NAME_RE.fullmatch("ses.mail")


def test_ses_tags_per_resource_equals_the_model_documentation():
    doc = _doc(_session.get_service_model("sesv2").shape_for("Tag"))
    assert int(re.search(r"as many as (\d+) tags", doc).group(1)) == L.SES_TAGS_PER_RESOURCE.maximum


def test_sns_topic_name_equals_the_api_documentation():
    doc = _doc(_member("sns", "CreateTopic", "Name"))
    assert int(re.search(r"between 1 and (\d+) characters", doc).group(1)) == L.SNS_TOPIC_NAME.maximum
    assert L.SNS_TOPIC_NAME_RE.fullmatch("ses-bounces_eu.fifo")
    assert not L.SNS_TOPIC_NAME_RE.fullmatch("ses.bounces")


def test_secret_name_characters_equal_the_api_documentation():
    doc = _doc(_member("secretsmanager", "CreateSecret", "Name"))
    allowed = re.search(r"ASCII letters, numbers, and the following characters: (\S+)", doc).group(1)
    assert allowed == "/_+=.@-"
    assert L.SECRET_NAME_RE.fullmatch("ses-mail/smtp/taro@test1.com")
    assert not L.SECRET_NAME_RE.fullmatch("smtp taro")


# --- RFC 5321 -------------------------------------------------------------------------------------

def test_smtp_address_limits():
    local, domain = "a" * 64, ".".join(["b" * 63, "c" * 63, "d" * 61])   # 189
    address = f"{local}@{domain}"
    assert len(f"<{address}>") == 256
    assert L.SMTP_LOCAL_PART.check(len(local.encode())) is None
    assert L.SMTP_PATH.check(len(f"<{address}>")) is None
    assert "1 over" in L.SMTP_LOCAL_PART.check(len(("a" + local).encode()))
    assert "1 over" in L.SMTP_PATH.check(len(f"<a{address}>"))
    assert L.SMTP_DOMAIN.maximum == L.DNS_NAME_WIRE.maximum
