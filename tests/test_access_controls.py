"""display_name, allowed_ips, recipients, IAM path and permissions boundary: each policy option
is evaluated against requests that must pass and requests that must fail."""
from __future__ import annotations

import json

import pulumi
import pytest

from ses_mail.roster.errors import RosterError
from ses_mail.specs.iam_policy import SEND_ACTION, send_as_policy
from ses_mail.roster import Defaults, Person, parse_roster, resolve
from tests.credential_helpers import IDENTITY, POLICY, roster
from tests.iam_eval import Request, allows

TARO = "taro@test1.com"
NAME = "Taro Yamada"
OFFICE = "203.0.113.0/24"
OFFICE_V6 = "2001:db8:10::/48"


def send(from_address=TARO, *, display=None, ip=None, recipients=None, resource=IDENTITY) -> Request:
    """A SendRawEmail as SES's SMTP interface authorises it: the keys present only if known."""
    context = {"ses:FromAddress": from_address}
    if display is not None:
        context["ses:FromDisplayName"] = display
    if ip is not None:
        context["aws:SourceIp"] = ip
    if recipients is not None:
        context["ses:Recipients"] = recipients
    return Request(SEND_ACTION, resource, context)


def test_without_options_the_policy_allows_no_display_name_and_denies_address_like_ones():
    policy = send_as_policy(TARO, IDENTITY)
    assert policy["Statement"][0] == {
        "Sid": "SendAsOwnAddressOnly", "Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": IDENTITY,
        "Condition": {"StringEqualsIgnoreCase": {"ses:FromAddress": TARO},
                      "StringEqualsIfExists": {"ses:FromDisplayName": [""]}}}
    assert [s["Sid"] for s in policy["Statement"][1:]] == ["NoAddressInDisplayName", "FeedbackToOwnAddressOnly"]
    assert send_as_policy(TARO, IDENTITY, display_name=None, allowed_ips=(), recipients=()) == \
        send_as_policy(TARO, IDENTITY)


# --- display name ---------------------------------------------------------------------------

DISPLAY = send_as_policy(TARO, IDENTITY, display_name=NAME)


@pytest.mark.parametrize("display,expected", [
    (NAME, True),
    ("CEO", False),                 # the impersonation the option exists for
    ("taro yamada", False),         # StringEquals is case-sensitive
    ("Taro Yamada (CEO)", False),
    ("", False),
    (None, False),                  # no display name at all
])
def test_display_name_is_pinned(display, expected):
    assert allows(DISPLAY, send(display=display)) is expected


def test_display_name_does_not_loosen_the_from_address():
    assert not allows(DISPLAY, send("hanako@test1.com", display=NAME))
    assert not allows(DISPLAY, send(display=NAME, resource=IDENTITY.replace("test1.com", "test2.com")))


# --- source IP ------------------------------------------------------------------------------

IPS = send_as_policy(TARO, IDENTITY, allowed_ips=[OFFICE, OFFICE_V6])


@pytest.mark.parametrize("ip,expected", [
    ("203.0.113.7", True),
    ("203.0.113.255", True),
    ("203.0.114.1", False),
    ("198.51.100.7", False),
    ("2001:db8:10::25", True),
    ("2001:db8:11::25", False),
    (None, False),                 # no source address known (e.g. a VPC endpoint): refused
])
def test_source_ip_must_be_in_an_allowed_cidr(ip, expected):
    assert allows(IPS, send(ip=ip)) is expected


# --- recipients -----------------------------------------------------------------------------

RECIPIENTS = send_as_policy(TARO, IDENTITY, recipients=["*@test1.com", "partner@example.net"])


@pytest.mark.parametrize("recipients,expected", [
    (["hanako@test1.com"], True),
    (["hanako@test1.com", "partner@example.net"], True),
    (["partner@example.net"], True),
    (["someone@example.net"], False),
    (["hanako@test1.com", "someone@gmail.com"], False),   # all recipients must match
    (["hanako@test1.com.evil.example"], False),
    (["Hanako@TEST1.com"], False),                        # IAM StringLike is case-sensitive
    (None, False),                                        # no recipients key: Null false refuses
])
def test_every_recipient_must_match_a_pattern(recipients, expected):
    assert allows(RECIPIENTS, send(recipients=recipients)) is expected


def test_recipients_policy_guards_the_for_all_values_empty_set():
    condition = RECIPIENTS["Statement"][0]["Condition"]
    assert condition["ForAllValues:StringLike"] == {"ses:Recipients": ["*@test1.com", "partner@example.net"]}
    assert condition["Null"] == {"ses:Recipients": "false"}


# --- all together ---------------------------------------------------------------------------

ALL = send_as_policy(TARO, IDENTITY, display_name=NAME, allowed_ips=[OFFICE], recipients=["*@test1.com"])
GOOD = dict(display=NAME, ip="203.0.113.9", recipients=["a@test1.com"])


@pytest.mark.parametrize("change", [
    {}, {"display": "CEO"}, {"ip": "192.0.2.1"}, {"recipients": ["a@test1.com", "x@else.example"]},
    {"from_address": "ceo@test1.com"},
])
def test_options_and_together(change):
    assert allows(ALL, send(**{**GOOD, **change})) is (change == {})


def test_still_nothing_but_send_raw_email():
    for action in ("ses:SendEmail", "ses:*", "iam:CreateAccessKey", "ses:SendBulkEmail"):
        assert not allows(ALL, Request(action, IDENTITY, send(**GOOD).context))


# --- roster to policy: defaults and overrides -----------------------------------------------

DEFAULTS = f"  display_name: true\n  allowed_ips: [{OFFICE}]\n  recipients: ['*@test1.com']\n"


def settings_of(people: str, defaults: str = DEFAULTS):
    parsed = parse_roster(roster(people, defaults), "roster.yaml")
    return {p.email: parsed.settings(p) for p in parsed.people}


def test_stack_defaults_apply_and_people_override_them():
    s = settings_of(
        "  - email: taro@test1.com\n    name: Taro Yamada\n"
        "  - email: hanako@test1.com\n    name: Hanako\n    display_name: 'Hanako S. (Sales)'\n"
        "    allowed_ips: [198.51.100.7]\n    recipients: any\n"
        "  - email: bot@test1.com\n    display_name: false\n    allowed_ips: any\n")
    taro, hanako, bot = s["taro@test1.com"], s["hanako@test1.com"], s["bot@test1.com"]
    assert (taro.display_name, taro.allowed_ips, taro.recipients) == (NAME, (OFFICE,), ("*@test1.com",))
    assert (hanako.display_name, hanako.allowed_ips, hanako.recipients) == ("Hanako S. (Sales)", ("198.51.100.7/32",), ())
    assert (bot.display_name, bot.allowed_ips, bot.recipients) == (None, (), ("*@test1.com",))


def test_without_defaults_nothing_is_restricted():
    settings = resolve(Person(email=TARO, name=NAME))
    assert (settings.display_name, settings.allowed_ips, settings.recipients) == (None, (), ())
    assert Defaults().allowed_ips == "any" and Defaults().recipients == "any" and Defaults().display_name is False


def test_values_are_normalised():
    s = settings_of("  - email: taro@test1.com\n    name: Taro Yamada\n"
                    "    allowed_ips: [203.0.113.9, '2001:DB8::/32']\n"
                    "    recipients: ['*@Test1.COM', 'bob@bücher.example', '*@*.test1.com']\n")
    taro = s["taro@test1.com"]
    assert taro.allowed_ips == ("203.0.113.9/32", "2001:db8::/32")
    assert taro.recipients == ("*@test1.com", "bob@xn--bcher-kva.example", "*@*.test1.com")


def test_the_deployed_policy_is_the_evaluated_one(run):
    result = run(roster("  - email: taro@test1.com\n    name: Taro Yamada\n", DEFAULTS))
    deployed = json.loads(result.named("taro@test1.com-send-policy").inputs["policy"])
    assert deployed == send_as_policy(TARO, result.outputs["identities"]["test1.com"], display_name=NAME,
                                      allowed_ips=[OFFICE], recipients=["*@test1.com"],
                                      configuration_set_arn=result.outputs["deliverability"]["configuration_set_arn"])
    identity = result.outputs["identities"]["test1.com"]
    assert allows(deployed, send(resource=identity, **GOOD))
    assert not allows(deployed, send(resource=identity, **{**GOOD, "ip": "192.0.2.1"}))
    restrictions = result.outputs["credential_status"]["taro@test1.com"]["restrictions"]
    assert restrictions == {"display_name": NAME, "display_names": "exact", "allowed_ips": [OFFICE],
                            "recipients": ["*@test1.com"]}


def test_changing_a_restriction_only_updates_the_policy(run):
    base = "  - email: taro@test1.com\n    name: Taro Yamada\n"
    before = {(r.type, r.name): r.inputs for r in run(roster(base)).registrations}
    after = {(r.type, r.name): r.inputs for r in run(roster(base + f"    allowed_ips: [{OFFICE}]\n")).registrations}
    assert {k for k in before if before[k] != after[k]} == {(POLICY, "taro@test1.com-send-policy")}


# --- IAM path and permissions boundary ------------------------------------------------------

BOUNDARY = "arn:aws:iam::123456789012:policy/ses-smtp-boundary"


def test_users_live_under_their_path_and_get_the_boundary(run):
    """By default the account's conventional boundary (the caller's account and partition);
    `none` opts out; an ARN is set as given."""
    plain = run(roster("  - email: taro@test1.com\n")).named("taro@test1.com-user").inputs
    assert plain["path"] == "/ses-smtp/"
    assert plain["permissionsBoundary"] == "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-smtp-boundary"
    off = run(roster("  - email: taro@test1.com\n"), config={"ses-mail:permissionsBoundary": "none"})
    assert "permissionsBoundary" not in off.named("taro@test1.com-user").inputs
    bounded = run(roster("  - email: taro@test1.com\n"),
                  config={"ses-mail:permissionsBoundary": BOUNDARY, "ses-mail:iamPath": "/mail/smtp/"})
    user = bounded.named("taro@test1.com-user")
    assert user.inputs["permissionsBoundary"] == BOUNDARY and user.inputs["path"] == "/mail/smtp/"
    assert user.outputs["arn"] == "arn:aws:iam::123456789012:user/mail/smtp/smtp-taro@test1.com"


def test_a_boundary_caps_what_the_policy_allows():
    """IAM: with a boundary, an action is allowed only if both the identity policy and the
    boundary allow it, so a boundary allowing only SendRawEmail keeps any later hand-attached
    policy from granting more."""
    boundary = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": SEND_ACTION, "Resource": "*"}]}
    hand_attached = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for request in (Request("iam:CreateUser", "*"), Request("s3:GetObject", "arn:aws:s3:::b/k")):
        assert allows(hand_attached, request) and not allows(boundary, request)
    assert allows([send_as_policy(TARO, IDENTITY)], send()) and allows(boundary, send())


@pytest.mark.parametrize("key,value,words", [
    ("ses-mail:permissionsBoundary", "ses-smtp-boundary", "is not a managed policy ARN"),
    ("ses-mail:permissionsBoundary", "arn:aws:iam::123456789012:role/x", "is not a managed policy ARN"),
    ("ses-mail:iamPath", "ses-smtp", "is not an IAM path"),
    ("ses-mail:iamPath", "/a//b/", "is not an IAM path"),
    # the secrets' admin path: every SMTP user there would be exempt from the secrets' Deny
    ("ses-mail:iamPath", "/ses-mail-admin/", "is the secret admin path /ses-mail-admin/"),
    ("ses-mail:iamPath", "/ses-mail-admin/smtp/", "is under the secret admin path /ses-mail-admin/"),
])
def test_bad_stack_config_is_a_clean_error_before_anything_is_registered(write_roster, key, value, words):
    from ses_mail.review.emulation import AwsMocks
    from ses_mail.review.engine import run_program
    mocks = AwsMocks()
    with pytest.raises(pulumi.RunError) as caught:
        run_program(roster=write_roster(roster("  - email: taro@test1.com\n")), config={key: value}, mocks=mocks)
    assert f"stack config {key} {value!r} {words}" in str(caught.value)
    assert mocks.registrations == []


# --- bad input: every new access field ------------------------------------------------------

P = "  - email: taro@test1.com\n    name: Taro\n"
BAD = {
    "private network": (P + "    allowed_ips: [203.0.113.0/24, 10.0.0.0/8]\n", "people[0].allowed_ips[1]", "10.0.0.0/8", "private network"),
    "host bits": (P + "    allowed_ips: [203.0.113.5/24]\n", "people[0].allowed_ips[0]", "203.0.113.5/24", "host bits set: write 203.0.113.0/24"),
    "not a cidr": (P + "    allowed_ips: [office]\n", "people[0].allowed_ips[0]", "office", "not an IP address or CIDR"),
    "bare bad cidr": (P + "    allowed_ips: 300.1.1.1\n", "people[0].allowed_ips", "300.1.1.1", "not an IP address or CIDR"),
    "empty ips": (P + "    allowed_ips: []\n", "people[0].allowed_ips", [], "write `any` for no restriction"),
    "number ips": (P + "    allowed_ips: 42\n", "people[0].allowed_ips", 42, "should be a list of CIDRs"),
    "duplicate ips": (P + "    allowed_ips: [198.51.100.7, 198.51.100.7/32]\n", "people[0].allowed_ips[1]", "198.51.100.7/32", "listed twice"),
    "loopback v6": (P + "    allowed_ips: ['::1']\n", "people[0].allowed_ips[0]", "::1", "private network"),
    "recipient star": (P + "    recipients: ['*']\n", "people[0].recipients[0]", "*", "write `recipients: any`"),
    "recipient no at": (P + "    recipients: [partner.example]\n", "people[0].recipients[0]", "partner.example", "not a recipient pattern"),
    "recipient variable": (P + "    recipients: ['${aws:username}@test1.com']\n", "people[0].recipients[0]", "${aws:username}@test1.com",
                           "start of a variable"),
    "recipient bad domain": (P + "    recipients: ['a@exa_mple.com']\n", "people[0].recipients[0]", "a@exa_mple.com", "not a valid domain name"),
    "recipient not text": (P + "    recipients: [12]\n", "people[0].recipients[0]", 12, "is not"),
    "empty recipients": (P + "    recipients: []\n", "people[0].recipients", [], "is empty"),
    "display number": (P + "    display_name: 12\n", "people[0].display_name", 12, "should be the display name as text"),
    "display brackets": (P + "    display_name: 'CEO <ceo@test1.com>'\n", "people[0].display_name", "CEO <ceo@test1.com>", "give the name only"),
    "display empty": (P + "    display_name: ''\n", "people[0].display_name", "", "is empty"),
    "display variable": (P + "    display_name: '${aws:username}'\n", "people[0].display_name", "${aws:username}", "start of a variable"),
    "display true without name": ("  - email: taro@test1.com\n    display_name: true\n", "people[0].display_name", True, "this person has no name"),
    "default display without name": ("  - email: taro@test1.com\n", "people[0].name", None, "defaults.display_name pins"),
    "default display text": (P, "defaults.display_name", "Taro", "is true, false or any here"),
    "default private ip": (P, "defaults.allowed_ips[0]", "192.168.1.0/24", "private network"),
    "unknown defaults key": (P, "defaults.allowed_ip", None, "not a known field"),
    "email with variable": ("  - email: '${x}@test1.com'\n", "people[0].email", "${x}@test1.com", "start of a variable"),
}
DEFAULTS_FOR = {
    "default display without name": "  display_name: true\n",
    "default display text": "  display_name: Taro\n",
    "default private ip": "  allowed_ips: [192.168.1.0/24]\n",
    "unknown defaults key": "  allowed_ip: [203.0.113.0/24]\n",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_access_fields_name_file_line_field_and_value(case):
    people, field, value, words = BAD[case]
    text = roster(people, DEFAULTS_FOR.get(case, ""))
    with pytest.raises(RosterError) as caught:
        parse_roster(text, "roster.yaml")
    matching = [p for p in caught.value.problems if p.field == field and words in p.message]
    assert matching, [str(p) for p in caught.value.problems]
    problem = matching[0]
    key = field.split(".")[-1].split("[")[0]
    lines = text.splitlines()
    start = lines.index("people:") if field.startswith("people") else 0
    written = [i + 1 for i, line in enumerate(lines)
               if i >= start and line.strip().lstrip("- ").startswith(key + ":")]
    # a missing field is reported on its person's line
    expected_line = written[0] if written else start + 2
    assert (problem.file, problem.line) == ("roster.yaml", expected_line), str(problem)
    if value is not None:
        assert problem.value == value and repr(value) in str(problem)


def test_every_new_field_documents_its_default():
    """The editor's JSON Schema is generated from these descriptions."""
    from ses_mail.roster import Roster
    for model, names in [(Person, ["status", "key", "previous_key", "display_name", "allowed_ips", "recipients",
                                   "delivery", "pgp_key", "secret_readers"]),
                         (Defaults, list(Defaults.model_fields)), (Roster, ["defaults"])]:
        for name in names:
            description = model.model_fields[name].description or ""
            assert "Default" in description, f"{model.__name__}.{name}"
    schema = Roster.model_json_schema()
    person = schema["$defs"]["Person"]["properties"]
    assert {"status", "key", "previous_key", "allowed_ips", "delivery"} <= set(person)
    assert person["status"]["default"] == "active" and person["key"]["default"] == 1
