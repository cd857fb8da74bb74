"""Service limits checked on the roster before anything is registered: each at the limit and one
past it, measured against the documents the program really registers."""
from __future__ import annotations

import json
import math
import textwrap
from types import SimpleNamespace

import pulumi
import pytest
import yaml

from ses_mail.roster import Deployment, Roster, RosterError, parse_roster, parse_roster_checked
from ses_mail.roster import limit_checks as LC
from ses_mail.roster.identifiers import normalize_address
from ses_mail.roster.restrictions import normalize_display_name
from ses_mail.specs import limits as L
from ses_mail.specs.dns_records import dmarc_value
from ses_mail.specs.iam_policy import default_secret_admins, secret_read_policy

REGION = "eu-west-1"


def roster(text: str, region: str | None = REGION, admins: tuple[str, ...] | None = None):
    return parse_roster_checked(textwrap.dedent(text).lstrip("\n"), "r.yaml", Deployment(region=region, admins=admins))


def problems(text: str, **kwargs) -> list[str]:
    try:
        roster(text, **kwargs)
    except RosterError as err:
        return [str(p) for p in err.problems]
    return []


def warnings(text: str, **kwargs) -> list[str]:
    return [str(w) for w in roster(text, **kwargs).warnings]


def line_of(text: str, needle: str) -> int:
    """The 1-based line of `needle` in the roster text as the loader reads it."""
    text = textwrap.dedent(text).lstrip("\n")
    return text[:text.index(needle)].count("\n") + 1


def ips(n: int) -> str:
    return "[" + ", ".join(f"203.0.{i // 250}.{i % 250}" for i in range(n)) + "]"


def person_with_policy_of(length: int, region: str = REGION) -> str:
    """A roster whose one person's send policy is exactly `length` characters (IAM's count),
    padded with the display name; measured here with json, independently of limit_checks."""
    def text(n_ips: int, display: str) -> str:
        # Without the stack's configuration set, whose ARN the policy would also name
        # (measured in test_the_configuration_set_arn_counts_in_the_send_policy).
        return f"""
            domains:
              - name: example.com
            deliverability:
              configuration_set: false
            people:
              - email: taro@example.com
                display_name: "{display}"
                allowed_ips: {ips(n_ips)}
            """

    def measured(n_ips: int, display: str) -> int:
        r = Roster.model_validate(yaml.safe_load(textwrap.dedent(text(n_ips, display))))  # no limit checks
        s = r.settings(r.people[0])
        arn = f"arn:aws:ses:{region}:123456789012:identity/example.com"
        document = {"Version": "2012-10-17", "Statement": [{
            "Sid": "SendAsOwnAddressOnly", "Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": arn,
            "Condition": {"StringEqualsIgnoreCase": {"ses:FromAddress": "taro@example.com"},
                          "StringEquals": {"ses:FromDisplayName": s.display_name},
                          "IpAddress": {"aws:SourceIp": list(s.allowed_ips)}}}, {
            "Sid": "NoAddressInDisplayName", "Effect": "Deny", "Action": "ses:SendRawEmail", "Resource": "*",
            "Condition": {"StringLike": {"ses:FromDisplayName": ["*@*", "*\uff20*", "*\ufe6b*"]}}}, {
            "Sid": "FeedbackToOwnAddressOnly", "Effect": "Deny", "Action": "ses:SendRawEmail", "Resource": "*",
            "Condition": {"StringNotEqualsIgnoreCase": {"ses:FeedbackAddress": "taro@example.com"},
                          "Null": {"ses:FeedbackAddress": "false"}}}]}
        return len(json.dumps(document, separators=(",", ":")))

    n_ips = 1
    while measured(n_ips + 1, "x") < length - 200:
        n_ips += 1
    pad = length - measured(n_ips, "x") + 1
    result = text(n_ips, "x" * pad)
    assert measured(n_ips, "x" * pad) == length
    return result


# --- IAM inline policy --------------------------------------------------------------------------

def test_send_policy_at_2048_passes_and_2049_is_refused_with_the_limit_and_the_excess():
    assert problems(person_with_policy_of(2_048)) == []
    text = person_with_policy_of(2_049)
    (message,) = problems(text)
    assert message.startswith(f"r.yaml:{line_of(text, '- email')}: people[0]: 'taro@example.com' has a send policy")
    assert "is 2,049 characters, 1 over the limit of 2,048 characters for IAM inline policies per user" in message
    assert "IAM User Guide: IAM and AWS STS quotas" in message
    assert "allowed_ips" in message and "this person's own" in message


def test_the_measure_is_the_length_of_the_policy_the_program_registers(run):
    """The estimate (placeholder account) equals IAM's count of the registered document."""
    text = person_with_policy_of(2_048)
    result = run(textwrap.dedent(text), region=REGION)
    (policy,) = [r for r in result.registrations if r.type == "aws:iam/userPolicy:UserPolicy"]
    assert L.iam_policy_length(policy.inputs["policy"]) == 2_048


def test_the_identity_arn_depends_on_the_region():
    text = person_with_policy_of(2_048, region="us-east-1")
    assert problems(text, region="us-east-1") == []
    # us-gov-west-1: partition aws-us-gov (+7) and a longer region (+4)
    assert "11 over the limit of 2,048" in problems(text, region="us-gov-west-1")[0]


def test_without_a_region_a_certain_excess_is_an_error_and_a_possible_one_a_warning():
    shortest = person_with_policy_of(2_048, region="us-east-1")
    assert problems(shortest, region=None) == []
    (warning,) = warnings(shortest, region=None)
    assert "people[0]" in warning and "in the region with the longest identity ARN" in warning
    assert "--region" in warning
    assert "1 over the limit of 2,048" in problems(person_with_policy_of(2_049, region="us-east-1"), region=None)[0]


def test_defaults_count_in_each_persons_policy_and_are_named_at_the_person():
    text = f"""
        domains:
          - name: example.com
        defaults:
          allowed_ips: {ips(150)}
          recipients: ['*@partner.example']
        people:
          - email: taro@example.com
          - email: hanako@example.com
            allowed_ips: any
        """
    (message,) = problems(text)
    assert message.startswith(f"r.yaml:{line_of(text, '- email')}: people[0]: 'taro@example.com' has a send policy")
    assert "allowed_ips" in message and "150 entries, from defaults.allowed_ips" in message
    assert "recipients" in message and "from defaults.recipients" in message


def test_display_name_true_counts_as_the_name_it_copies():
    def text(n: int, display: str = "any") -> str:
        return (f"domains:\n  - name: example.com\npeople:\n  - email: taro@example.com\n"
                f"    name: {'N' * 200}\n    allowed_ips: {ips(n)}\n"
                + (f"    display_name: {display}\n" if display else ""))
    most = next(n for n in range(10, 200) if problems(text(n + 1))) # the most IPs that fit without it
    assert problems(text(most)) == []
    (message,) = problems(text(most, "true"))
    assert "display_name" in message and "`name`, by display_name: true" in message
    (message,) = problems("defaults:\n  display_name: true\n" + text(most, ""))
    assert "`name`, by defaults.display_name" in message
    # The default (`name` or none) holds the name too.
    (message,) = problems(text(most, ""))
    assert "`name`, by defaults.display_name" in message


# --- DNS names ----------------------------------------------------------------------------------

def domain_of_length(length: int) -> str:
    labels, left = [], length - len(".com")
    while left > 63:
        labels.append("d" * 63)
        left -= 64
    name = ".".join([*labels, "e" * left]) + ".com"
    assert len(name) == length
    return name


@pytest.mark.parametrize("length, refused", [(209, False), (210, True)])
def test_dkim_record_names_of_253_pass_and_254_are_refused(length, refused):
    name = domain_of_length(length)
    found = problems(f"domains:\n  - name: {name}\n")
    assert len(f"{'x' * 32}._domainkey.{name}") == length + 44
    if not refused:
        assert found == []
    else:
        (message,) = found
        assert message.startswith(f"r.yaml:2: domains[0].name: '{name}' makes the name of its Easy DKIM records")
        assert "254 characters, 1 over the limit of 253 characters for a DNS name" in message


@pytest.mark.parametrize("length, refused", [(189, False), (190, True)])
def test_mail_from_domain_of_253_passes_and_254_is_refused(length, refused):
    found = problems(f"domains:\n  - name: {domain_of_length(length)}\n    mail_from: {'m' * 63}\n")
    if not refused:
        assert found == []
    else:
        (message,) = found
        assert message.startswith("r.yaml:3: domains[0].mail_from: 'mmm")
        assert "MAIL FROM domain" in message and "254 characters, 1 over the limit of 253" in message


# --- DMARC: one TXT value, URIs ------------------------------------------------------------------

def dmarc_roster_of_value_length(length: int) -> str:
    """A domain whose DMARC value (before it is split into strings) is exactly `length` characters."""
    def text(addresses: list[str]) -> str:
        rua = "\n".join(f"        - {a}" for a in addresses)
        return f"domains:\n  - name: example.com\n    dmarc:\n      rua:\n{rua}\n"

    def value_length(addresses: list[str]) -> int:
        return len(dmarc_value(Roster.model_validate(yaml.safe_load(text(addresses))).domains[0].dmarc))

    def address(i: int) -> str:  # 16 characters before the @: 36 more in the value
        return f"r{i:03d}{'x' * 12}@example.com"

    addresses = [address(0)]
    while value_length([*addresses, address(len(addresses))]) <= length:
        addresses.append(address(len(addresses)))
    need = length - value_length(addresses)
    local, domain = addresses[-1].split("@")
    addresses[-1] = f"{local}{'y' * need}@{domain}"
    assert value_length(addresses) == length
    return text(addresses)


def route53_length(value_length: int) -> int:
    """'"s1" "s2" ...': 255-character strings, each quoted, one space between."""
    strings = math.ceil(value_length / 255)
    return value_length + 2 * strings + strings - 1


def test_dmarc_value_at_4000_passes_and_4001_is_refused():
    # 3,953 characters make 16 strings: 3,953 + 32 quotes + 15 spaces = 4,000
    assert route53_length(3_953) == 4_000 and route53_length(3_954) == 4_001
    assert problems(dmarc_roster_of_value_length(3_953)) == []
    (message,) = problems(dmarc_roster_of_value_length(3_954))
    assert message.startswith("r.yaml:3: domains[0].dmarc: make a DMARC TXT record whose value is 4,001 characters,"
                              " 1 over the limit of 4,000 characters for a Route 53 record value")
    assert "rua" in message


def test_report_addresses_are_percent_encoded_in_the_record():
    domain = parse_roster("domains:\n  - name: example.com\n    dmarc:\n      rua: [a!b@example.com]\n"
                          "      ruf: [\"c=d@example.com\"]\n").domains[0]
    value = dmarc_value(domain.dmarc)
    assert "rua=mailto:a%21b@example.com" in value and "ruf=mailto:c%3Dd@example.com" in value


# --- Secrets Manager resource policy -------------------------------------------------------------

def secret_roster(readers: int) -> str:
    arns = "\n".join(f"      - arn:aws:iam::123456789012:role/reader-{i:04d}" for i in range(readers))
    return f"""
domains:
  - name: example.com
defaults:
  delivery: secrets_manager
  secret_readers:
{arns}
people:
  - email: taro@example.com
"""


def reader_arns(readers: int) -> list[str]:
    return [f"arn:aws:iam::123456789012:role/reader-{i:04d}" for i in range(readers)]


def compact(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def admin_for_policy_of(length: int, readers: int) -> tuple[str, ...]:
    """One admin whose ARN makes the secret policy exactly `length` characters (json, compact);
    the admin appears twice (in both Denies' exemptions), each reader twice too, so every
    length reached has the same parity."""
    base = compact(secret_read_policy(reader_arns(readers), ["arn:aws:iam::123456789012:role/a"]))
    assert (length - base) % 2 == 0, "unreachable length: every ARN counts twice"
    admin = "arn:aws:iam::123456789012:role/ops/" + "a" * ((length - base) // 2 - 3)
    assert compact(secret_read_policy(reader_arns(readers), [admin])) == length
    return (admin,)


def test_secret_policy_at_20480_passes_and_20482_is_refused():
    # 214 readers make the lengths even: 20,480 is reachable, the next length is 20,482.
    readers = 214
    assert problems(secret_roster(readers), admins=admin_for_policy_of(20_480, readers)) == []
    (message,) = problems(secret_roster(readers), admins=admin_for_policy_of(20_482, readers))
    assert message.startswith(f"r.yaml:{line_of(secret_roster(readers), '- email')}: people[0]: 'taro@example.com'"
                              " has a secret resource policy that is "
                              "20,482 characters, 2 over the limit of 20,480 characters")
    assert "214 secret_readers (from defaults.secret_readers)" in message


def test_without_configured_admins_the_default_admin_patterns_are_measured():
    """Unconfigured, the admins are the /ses-mail-admin/ patterns of the stack's account: the same
    length in every account, so validate measures them, no warning about an unknown admin."""
    defaults = default_secret_admins("0" * 12, "aws-us-gov")
    readers = next(n for n in range(200, 240)
                   if compact(secret_read_policy(reader_arns(n))) <= 20_480
                   < compact(secret_read_policy(reader_arns(n), defaults)))
    (message,) = problems(secret_roster(readers), admins=None)
    assert "has a secret resource policy that" in message and "with the stack's secret admins" in message
    assert problems(secret_roster(readers - 1), admins=None) == [] or \
        compact(secret_read_policy(reader_arns(readers - 1), defaults)) > 20_480
    assert warnings(secret_roster(10), admins=None) == []


def test_the_program_refuses_before_registering_anything(run):
    """The program measures with the admins it will write, before registering any resource."""
    from ses_mail.review.emulation import AwsMocks
    defaults = default_secret_admins("123456789012")
    readers = next(n for n in range(200, 240) if compact(secret_read_policy(reader_arns(n), defaults)) > 20_480)
    mocks = AwsMocks(region=REGION)
    with pytest.raises(pulumi.RunError, match=r"has a secret resource policy that is 20,\d{3} characters, \d+ over"):
        run(secret_roster(readers), mocks=mocks)
    assert mocks.registrations == []


# --- counts against account quotas ----------------------------------------------------------------

def fake_roster(people: int = 1, domains: int = 1, dmarc: bool = True):
    domain = SimpleNamespace(hosted_zone="example.com", dmarc=SimpleNamespace(enabled=dmarc), existing=None, dns="route53")
    return SimpleNamespace(people=[None] * people, domains=[domain] * domains)


def counts(**kwargs) -> tuple[list[str], list[str]]:
    errors, warned = [], []

    def at(path, value, message, into=errors):
        into.append(f"{LC.field_name(path)}: {message}")
    LC._check_counts(fake_roster(**kwargs), at, warned)
    return errors, warned


def test_iam_users_5000_pass_with_a_warning_5001_are_refused_and_4499_say_nothing():
    assert counts(people=4_499) == ([], [])
    assert counts(people=4_500)[0] == [] and "4,500 of the 5,000 users" in counts(people=4_500)[1][0]
    assert counts(people=5_000)[0] == [] and len(counts(people=5_000)[1]) == 1
    (error,), _ = counts(people=5_001)
    assert error.startswith("people: need one IAM user each, and that is 5,001 users, 1 over the limit of 5,000")


def test_ses_identities_10000_pass_and_10001_are_refused():
    # 10,000 domains in one zone are past Route 53's (adjustable) quota: that is a warning only
    errors, warned = counts(domains=10_000)
    assert errors == [] and any("SES identities" in w for w in warned)
    (error,), _ = counts(domains=10_001)
    assert "10,001 identities, 1 over the limit of 10,000 identities" in error


def test_records_in_a_zone_warn_near_the_default_quota_and_never_refuse():
    # 2 (SOA, NS) + 6 per domain: 1,666 domains make 9,998, 1,500 make 9,002
    assert counts(domains=1_499) == ([], [])
    _, warned = counts(domains=1_500)
    assert len(warned) == 1 and "9,002 records in zone 'example.com'" in warned[0]
    errors, warned = counts(domains=1_667)
    assert errors == [] and "10,004 records" in warned[0]


def test_a_real_roster_of_4500_people_warns_through_the_loader():
    people = "\n".join(f"  - email: p{i}@example.com" for i in range(4_500))
    loaded = roster(f"domains:\n  - name: example.com\npeople:\n{people}\n")
    assert [w.field for w in loaded.warnings] == ["people"]
    assert str(loaded.warnings[0]).startswith("r.yaml:3: people: need one IAM user each: 4,500 of the 5,000")


# --- names the program derives: always within their limits ---------------------------------------

@pytest.mark.parametrize("address", ["a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 57]) + ".com",
                                     "o'brien+{x}@example.com", "x@example.com"])
def test_derived_names_fit_for_the_longest_and_oddest_addresses(address):
    address = normalize_address(address)
    text = f"""
        domains:
          - name: {address.split('@')[1]}
        people:
          - email: "{address}"
            name: {'N' * 300}
            display_name: any
            delivery: secrets_manager
            secret_readers: [arn:aws:iam::123456789012:role/r]
        """
    found = problems(text)
    assert not [p for p in found if "people[0]" in p], found


# --- local parts (RFC 5321) -------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["people", "rua"])
def test_local_part_of_64_passes_and_65_is_refused(field):
    def text(local: str) -> str:
        if field == "people":
            return f"domains:\n  - name: example.com\npeople:\n  - email: {local}@example.com\n"
        return f"domains:\n  - name: example.com\n    dmarc:\n      rua: [{local}@example.com]\n"
    assert problems(text("a" * 64)) == []
    (message,) = problems(text("a" * 65))
    assert "65 octets, 1 over the limit of 64 octets for the local part of an address (RFC 5321" in message


# --- the same checks for a value written out and reached by a shortcut ---------------------------

BAD_NAMES = ["Taro ${aws:username}", "CEO <ceo@example.com>", 'Taro "T" Yamada', "Taro\u0007", "x" * 257]


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize("shortcut", ["person", "defaults"])
def test_display_name_true_runs_name_through_the_display_name_checks(bad, shortcut):
    with pytest.raises(ValueError) as explicit:
        normalize_display_name(bad)
    flag = "    display_name: true\n" if shortcut == "person" else ""
    defaults = "defaults:\n  display_name: true\n" if shortcut == "defaults" else ""
    text = (f"domains:\n  - name: example.com\n{defaults}people:\n  - email: taro@example.com\n"
            f"    name: {json.dumps(bad)}\n{flag}")
    (message,) = problems(text)
    line = 5 if shortcut == "person" else 7
    via = "display_name: true" if shortcut == "person" else "defaults.display_name: true"
    assert message.startswith(f"r.yaml:{line}: people[0].name: ")
    assert f"is the From display name ({via}), and as one it {explicit.value}" in message
    # and with display_name: any the same name is fine (it is only a tag then)...
    opt_out = "    display_name: any\n" if shortcut == "person" else "defaults:\n  display_name: any\n"
    assert problems(text.replace(flag or defaults, opt_out)) == []
    # ...but by default (`name` or none) it is an allowed display name, checked the same way.
    (message,) = problems(text.replace(flag, "").replace(defaults, ""))
    assert "people[0].name: " in message and f"and as one it {explicit.value}" in message


def test_a_good_name_with_display_name_true_passes():
    assert problems("domains:\n  - name: example.com\npeople:\n  - email: taro@example.com\n"
                    "    name: Taro Yamada\n    display_name: true\n") == []


# --- how warnings reach the user ------------------------------------------------------------------

def test_validate_prints_warnings_without_failing_and_measures_for_the_region(tmp_path):
    from tests.test_validate import run_validate
    over = tmp_path / "over.yaml"
    text = textwrap.dedent(person_with_policy_of(2_048, region="us-east-1")).lstrip("\n")
    over.write_text(text)
    # Without a region: within the limit in us-east-1, over it in the longest region: a warning.
    done = run_validate(str(over))
    assert done.returncode == 0, done.stderr
    assert f"warning: {over}:" in done.stderr and "people[0]" in done.stderr
    assert "1 of 1 roster file valid" in done.stderr
    assert run_validate("--region", "us-east-1", str(over)).returncode == 0
    done = run_validate("--region", "us-gov-west-1", str(over))
    assert done.returncode == 1 and "11 over the limit of 2,048" in done.stderr
    assert run_validate("--region", "nowhere", str(over)).returncode == 2


def test_the_program_logs_each_warning_through_pulumi(monkeypatch, tmp_path):
    import ses_mail.components.ses_mail as program
    from ses_mail.roster import Loaded, Problem
    from ses_mail.roster.errors import NO_VALUE
    warning = Problem("r.yaml", 3, "people", NO_VALUE, "need one IAM user each: 4,500 of the 5,000 ...")
    seen: list[str] = []
    monkeypatch.setattr(program, "load_roster_checked", lambda path, deployment: Loaded(None, (warning,)))
    monkeypatch.setattr(program.pulumi.log, "warn", seen.append)
    program.read_roster(tmp_path / "r.yaml")
    assert seen == ["r.yaml:3: people: need one IAM user each: 4,500 of the 5,000 ..."]


def test_the_configuration_set_arn_counts_in_the_send_policy():
    """With the set on, the send policy also names the set's ARN: a policy that fits without it
    is refused with it, measured for the stack's set name when known, else for the longest name."""
    off = textwrap.dedent(person_with_policy_of(2_048)).lstrip("\n")
    assert problems(off) == []
    on = off.replace("deliverability:\n  configuration_set: false\n", "")
    assert "configuration_set" not in on
    (message,) = problems(on)
    assert "has a send policy" in message and "over the limit of 2,048" in message
    # Refused as well when the stack's set name is known (the program's case).
    with pytest.raises(RosterError, match=r"that is 2,\d{3} characters"):
        parse_roster_checked(on, "r.yaml", Deployment(region=REGION, configuration_set="ses-mail-dev"))


def test_referenced_and_external_domains_count_for_what_they_create():
    """A referenced domain gets no identity here and an external one no Route 53 records, so
    neither counts towards those quotas."""
    def problems_for(domain) -> tuple[list[str], list[str]]:
        errors, warned = [], []

        def at(path, value, message, into=errors):
            into.append(f"{LC.field_name(path)}: {message}")
        LC._check_counts(SimpleNamespace(people=[], domains=[domain] * 10_001), at, warned)
        return errors, warned

    def domain(**kw):
        return SimpleNamespace(**{"hosted_zone": "example.com", "dmarc": SimpleNamespace(enabled=True),
                                  "existing": None, "dns": "route53", **kw})

    errors, warned = problems_for(domain())
    assert any("SES identity" in e for e in errors) and any("records in zone" in w for w in warned)
    errors, warned = problems_for(domain(existing="reference"))
    assert errors == [] and warned == []
    errors, warned = problems_for(domain(dns="external"))
    assert any("SES identity" in e for e in errors) and not any("records in zone" in w for w in warned)
