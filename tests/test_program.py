"""The whole program under the mock engine: what it registers, exports, keeps secret and stable."""
from __future__ import annotations

import json
import random

import pulumi
import pytest

from ses_mail.review.emulation import AwsMocks, fake_dkim_tokens, fake_secret_key, fake_zone_id
from ses_mail.review.engine import run_program
from ses_mail.project import Project
from tests.conftest import EXAMPLE_ROSTER

TWO_DOMAINS = """
domains:
  - name: test1.com
    dmarc:
      policy: quarantine
      rua: [dmarc@test1.com]
  - name: test2.com
    zone: test2.com
    mail_from: bounce
people:
  - email: taro@test1.com
    name: Taro Yamada
  - email: hanako@test1.com
  - email: jiro@test2.com
"""


def by_type(result, token):
    return {r.name: r for r in result.of_type(token)}


def test_each_domain_gets_an_identity_with_2048_bit_easy_dkim(run):
    result = run(TWO_DOMAINS)
    identities = by_type(result, "aws:sesv2/emailIdentity:EmailIdentity")
    assert set(identities) == {"test1.com-identity", "test2.com-identity"}
    for name, identity in identities.items():
        domain = name.removesuffix("-identity")
        assert identity.inputs["emailIdentity"] == domain
        assert identity.inputs["dkimSigningAttributes"] == {"nextSigningKeyLength": "RSA_2048_BIT"}
        assert identity.inputs["region"] == "eu-west-1"
        assert "domainSigningPrivateKey" not in identity.inputs["dkimSigningAttributes"]  # Easy DKIM
        assert result.options_of(identity).protect is True


def test_dns_records_in_the_zone_match_the_identity_tokens(run):
    result = run(TWO_DOMAINS)
    records = by_type(result, "aws:route53/record:Record")
    zone1 = fake_zone_id("test1.com")
    expected = {f"test1.com-dkim-{i + 1}": (f"{t}._domainkey.test1.com", "CNAME", [f"{t}.dkim.amazonses.com"])
                for i, t in enumerate(fake_dkim_tokens("test1.com"))}
    expected |= {
        "test1.com-mail-from-mx": ("mail.test1.com", "MX", ["10 feedback-smtp.eu-west-1.amazonses.com"]),
        "test1.com-mail-from-spf": ("mail.test1.com", "TXT", ["v=spf1 include:amazonses.com ~all"]),
        "test1.com-dmarc": ("_dmarc.test1.com", "TXT", ["v=DMARC1; p=quarantine; rua=mailto:dmarc@test1.com"]),
    }
    for name, (fqdn, rtype, values) in expected.items():
        record = records[name]
        assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (fqdn, rtype, values)
        assert record.inputs["zoneId"] == zone1 and record.inputs["ttl"] == 600.0
        assert not record.inputs.get("allowOverwrite")  # never silently take over a record
    assert records["test2.com-mail-from-mx"].inputs["name"] == "bounce.test2.com"
    assert len(records) == 12  # 3 DKIM + MX + SPF + DMARC, per domain


def test_mail_from_attributes_use_the_subdomain_and_wait_for_its_records(run):
    result = run(TWO_DOMAINS)
    mail_from = result.named("test2.com-mail-from")
    assert mail_from.inputs == {"emailIdentity": "test2.com", "mailFromDomain": "bounce.test2.com",
                                "behaviorOnMxFailure": "USE_DEFAULT_VALUE", "region": "eu-west-1"}
    deps = result.options_of(mail_from).dependencies
    assert any(d.endswith("::test2.com-mail-from-mx") for d in deps)


def test_zones_are_looked_up_once_each_as_public_zones(run):
    mocks = AwsMocks(region="eu-west-1")
    run(TWO_DOMAINS, mocks=mocks)
    lookups = [args for token, args in mocks.calls if token == "aws:route53/getZone:getZone"]
    assert sorted(a["name"] for a in lookups) == ["test1.com", "test2.com"]
    assert all(a["privateZone"] is False for a in lookups)


def test_each_person_gets_user_policy_and_key(run):
    result = run(TWO_DOMAINS)
    users = by_type(result, "aws:iam/user:User")
    assert set(users) == {"taro@test1.com-user", "hanako@test1.com-user", "jiro@test2.com-user"}
    taro = users["taro@test1.com-user"].inputs
    assert taro["name"] == "smtp-taro@test1.com" and taro["path"] == "/ses-smtp/"
    assert taro["tags"] == {"ses-mail:address": "taro@test1.com", "ses-mail:name": "Taro Yamada"}
    assert taro["forceDestroy"] is True
    keys = by_type(result, "aws:iam/accessKey:AccessKey")
    assert keys["taro@test1.com-key"].inputs == {"user": "smtp-taro@test1.com"}
    policy = json.loads(result.named("jiro@test2.com-send-policy").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == ["arn:aws:ses:eu-west-1:123456789012:identity/test2.com",
                                                  "arn:aws:ses:eu-west-1:123456789012:configuration-set/ses-mail-dev"]
    assert policy["Statement"][0]["Condition"] == {"StringEqualsIgnoreCase": {"ses:FromAddress": "jiro@test2.com"},
                                                   "StringEqualsIfExists": {"ses:FromDisplayName": [""]}}


def test_outputs(run):
    result = run(TWO_DOMAINS)
    creds = result.outputs["smtp_credentials"]
    assert set(creds) == {"taro@test1.com", "hanako@test1.com", "jiro@test2.com"}
    assert creds["jiro@test2.com"] == {
        "username": result.named("jiro@test2.com-key").id,
        "password": creds["jiro@test2.com"]["password"],
        "host": "email-smtp.eu-west-1.amazonaws.com",
        "port": 587,
    }
    assert creds["jiro@test2.com"]["username"].startswith("AKIAFAKE")
    rows = result.outputs["dns_records"]
    assert len(rows) == 12 and all(set(r) == {"name", "type", "value", "ttl"} for r in rows)
    assert {"name": "_dmarc.test1.com", "type": "TXT", "ttl": 600,
            "value": "v=DMARC1; p=quarantine; rua=mailto:dmarc@test1.com"} in rows
    assert result.outputs["senders"]["taro@test1.com"] == {"iam_user": "smtp-taro@test1.com", "domain": "test1.com", "name": "Taro Yamada"}
    assert result.outputs["identities"]["test2.com"].endswith(":identity/test2.com")


def _secret_values(result) -> list[str]:
    secrets = []
    for key in result.of_type("aws:iam/accessKey:AccessKey"):
        secrets += [key.outputs["secret"], key.outputs["sesSmtpPasswordV4"]]
    secrets += [c["password"] for c in result.outputs["smtp_credentials"].values()]
    return secrets


def test_secrets_are_secret_and_nowhere_in_plain_text(run, capsys):
    result = run(TWO_DOMAINS)
    assert result.secret_outputs == {"smtp_credentials"}
    secrets = _secret_values(result)
    assert len(secrets) == 9 and all(secrets)
    plain_outputs = json.dumps({k: v for k, v in result.outputs.items() if k not in result.secret_outputs})
    inputs = json.dumps([r.inputs for r in result.registrations], default=str)
    printed = capsys.readouterr()
    for secret in secrets:
        assert secret not in plain_outputs
        assert secret not in inputs
        assert secret not in printed.out + printed.err


def test_password_output_is_a_pulumi_secret_inside_the_component():
    """The component's own password Output is secret, not only the stack output."""
    from ses_mail.components.outputs import gather
    from ses_mail.components.smtp_sender import SmtpSender
    from ses_mail.roster import Person

    seen = {}

    @pulumi.runtime.test
    def check():
        sender = SmtpSender("taro@test1.com", {"person": Person(email="taro@test1.com"), "region": "eu-west-1",
                                               "identity_arn": "arn:aws:ses:eu-west-1:123456789012:identity/test1.com"})
        credential = gather(sender.credential_tree, secret=True)

        async def secrecy():
            return await sender.password.is_secret(), await credential.is_secret()

        def record(args):
            password, (password_secret, credential_secret) = args
            seen.update(password=password, password_secret=password_secret, credential_secret=credential_secret)
        return pulumi.Output.all(sender.password, pulumi.Output.from_input(secrecy())).apply(record)

    from pulumi.runtime import settings
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(AwsMocks(region="eu-west-1"), project="ses-mail", stack="unit", preview=False)
    check()
    assert seen["password_secret"] is True and seen["credential_secret"] is True
    from ses_mail.specs.smtp_password import smtp_password
    assert seen["password"] == smtp_password(fake_secret_key("taro@test1.com-key"), "eu-west-1")


def _fingerprint(result):
    return {(r.type, r.name): r.inputs for r in result.registrations}


def test_reordering_the_roster_changes_nothing(run):
    lines = TWO_DOMAINS.strip().splitlines()
    people_at = lines.index("people:")
    people = [lines[i:i + 2] if i + 1 < len(lines) and lines[i + 1].startswith("    name") else [lines[i]]
              for i in range(people_at + 1, len(lines)) if lines[i].startswith("  - ")]
    shuffled_people = sum(reversed(people), [])
    reordered = "\n".join(lines[:people_at + 1] + shuffled_people) + "\n"
    # and the two domains swapped
    head = lines[:people_at]
    split = head.index("  - name: test2.com")
    reordered = "\n".join([head[0]] + head[split:] + head[1:split]) + "\n" + reordered.split("\n", people_at)[-1]
    assert reordered != TWO_DOMAINS
    assert _fingerprint(run(TWO_DOMAINS)) == _fingerprint(run(reordered))


def test_adding_a_person_adds_only_that_persons_resources(run):
    before = _fingerprint(run(TWO_DOMAINS))
    after = _fingerprint(run(TWO_DOMAINS + "  - email: saburo@test2.com\n"))
    added = set(after) - set(before)
    assert set(before) <= set(after)
    assert {name for _, name in added} == {"saburo@test2.com", "saburo@test2.com-user",
                                           "saburo@test2.com-send-policy", "saburo@test2.com-key"}
    assert all(after[k] == v for k, v in before.items())


def test_editing_a_display_name_retags_the_user_and_updates_its_policy(run):
    """By default the roster `name` is the one display name allowed besides none: the policy
    follows it, in place; nothing is replaced."""
    before = _fingerprint(run(TWO_DOMAINS))
    after = _fingerprint(run(TWO_DOMAINS.replace("Taro Yamada", "Taro YAMADA (Sales)")))
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("aws:iam/user:User", "taro@test1.com-user"),
                       ("aws:iam/userPolicy:UserPolicy", "taro@test1.com-send-policy")}
    assert "Taro YAMADA (Sales)" in after[("aws:iam/userPolicy:UserPolicy", "taro@test1.com-send-policy")]["policy"]
    assert after[("aws:iam/user:User", "taro@test1.com-user")]["name"] == "smtp-taro@test1.com"


def test_every_resource_name_is_a_domain_or_address_plus_a_fixed_role(run):
    result = run(TWO_DOMAINS)
    owners = {"test1.com", "test2.com", "taro@test1.com", "hanako@test1.com", "jiro@test2.com", "ses-mail-dev"}
    roles = {"identity", "mail-from", "mail-from-mx", "mail-from-spf", "dmarc", "dkim-1", "dkim-2", "dkim-3",
             "user", "send-policy", "key",
             # the stack's Deliverability, named after its configuration set
             "configuration-set", "feedback-topic", "feedback-topic-policy", "events-sns", "events-cloudwatch",
             "bounce-rate-alarm", "complaint-rate-alarm"}
    for r in result.registrations:
        if r.name in owners or r.type == "ses-mail:index:SesMail":  # the components themselves
            continue
        owner = next(o for o in sorted(owners, key=len, reverse=True) if r.name.startswith(o + "-"))
        assert r.name[len(owner) + 1:] in roles, r.name


def test_a_bad_roster_registers_nothing_and_raises_a_clean_run_error(write_roster):
    path = write_roster(TWO_DOMAINS + "  - email: bad@@test1.com\n  - email: x@unlisted.com\n")
    mocks = AwsMocks()
    with pytest.raises(pulumi.RunError) as caught:
        run_program(roster=path, mocks=mocks)
    message = str(caught.value)
    assert f"{path}:14: people[3].email: 'bad@@test1.com' is not a valid email address" in message
    assert "Traceback" not in message
    assert mocks.registrations == [] and mocks.calls == []


def test_a_missing_zone_names_the_zone_and_registers_nothing(write_roster):
    path = write_roster(TWO_DOMAINS)
    mocks = AwsMocks(zones={"test1.com"})
    with pytest.raises(pulumi.RunError) as caught:
        run_program(roster=path, mocks=mocks)
    assert "Route53 public hosted zone 'test2.com' (for test2.com) could not be looked up" in str(caught.value)
    assert "test1.com'" not in str(caught.value)
    assert mocks.registrations == []


@pytest.mark.parametrize("config,words", [
    ({"aws:region": ""}, "no SES region"),
    ({"aws:region": "tokyo"}, "is not an AWS region"),
])
def test_region_problems_are_clean_errors(write_roster, config, words):
    with pytest.raises(pulumi.RunError, match=words):
        run_program(roster=write_roster(TWO_DOMAINS), config=config)


def test_the_example_roster_runs(run):
    result = run(EXAMPLE_ROSTER, region=None)
    assert result.region == "ap-northeast-1"
    assert set(result.outputs["smtp_credentials"]) == {"taro@example.com", "hanako@example.com", "info@example.org"}


def test_runs_are_repeatable_in_one_process(run):
    rng = random.Random(7)
    results = [_fingerprint(run(TWO_DOMAINS)) for _ in range(3)]
    assert results[0] == results[rng.randrange(1, 3)]


def test_unusual_addresses_get_valid_iam_names_and_tag_values(run):
    """RFC 5322 allows o'brien@ or a#b@; IAM names and tag values do not: both are fitted."""
    from ses_mail.specs.naming import is_valid_iam_user_name

    result = run("""
        domains:
          - name: test1.com
        people:
          - email: o'brien@test1.com
          - email: a#b~c@test1.com
    """)
    tag_alphabet = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/=+-@")
    for user in result.of_type("aws:iam/user:User"):
        assert is_valid_iam_user_name(user.inputs["name"])
        assert set(user.inputs["tags"]["ses-mail:address"]) <= tag_alphabet
    policies = [json.loads(p.inputs["policy"]) for p in result.of_type("aws:iam/userPolicy:UserPolicy")]
    # The policy still names the exact address, which is what SES compares.
    assert {p["Statement"][0]["Condition"]["StringEqualsIgnoreCase"]["ses:FromAddress"] for p in policies} == {
        "o'brien@test1.com", "a#b~c@test1.com"}


def test_a_domain_with_external_dns_gets_no_zone_lookup_and_no_records(run):
    mocks = AwsMocks(region="eu-west-1", zones={"test1.com"})  # test2.com has no hosted zone here
    result = run(TWO_DOMAINS.replace("    zone: test2.com\n", "    dns: external\n"), mocks=mocks)
    lookups = [args["name"] for token, args in mocks.calls if token == "aws:route53/getZone:getZone"]
    assert lookups == ["test1.com"]
    records = {r.name for r in result.of_type("aws:route53/record:Record")}
    assert records and not any(name.startswith("test2.com") for name in records)
    assert result.named("test2.com-identity") and result.named("test2.com-mail-from")
    assert not any("route53" in d for d in result.options_of(result.named("test2.com-mail-from")).dependencies)
    # Its records are still listed, for whoever publishes them.
    names = {(r["name"], r["type"]) for r in result.outputs["dns_records"]}
    assert {("bounce.test2.com", "MX"), ("bounce.test2.com", "TXT")} <= names
    assert sum(1 for name, rtype in names if name.endswith("._domainkey.test2.com") and rtype == "CNAME") == 3


def test_two_components_in_one_stack_get_their_own_configuration_sets(tmp_path):
    """Another program may hold several SesMail components: the program's own (`ses-mail`) keeps
    `ses-mail-<stack>`, any other is named after the stack and its component name."""
    (tmp_path / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n")
    (tmp_path / "a.yaml").write_text("domains:\n  - name: a.example\npeople:\n  - email: x@a.example\n")
    (tmp_path / "b.yaml").write_text("domains:\n  - name: b.example\npeople:\n  - email: y@b.example\n")
    (tmp_path / "__main__.py").write_text(
        "from ses_mail import SesMail\n"
        "SesMail('ses-mail', {'roster': 'a.yaml', 'region': 'eu-west-1'})\n"
        "SesMail('marketing', {'roster': 'b.yaml', 'region': 'eu-west-1'})\n")
    result = run_program(project=Project(tmp_path), stack="prod", stack_config={"aws:region": "eu-west-1"})
    sets = sorted(r.inputs["configurationSetName"] for r in result.of_type("aws:sesv2/configurationSet:ConfigurationSet"))
    assert sets == ["ses-mail-prod", "ses-mail-prod-marketing"]
    identities = {r.inputs["emailIdentity"]: r.inputs["configurationSetName"]
                  for r in result.of_type("aws:sesv2/emailIdentity:EmailIdentity")}
    assert identities == {"a.example": "ses-mail-prod", "b.example": "ses-mail-prod-marketing"}
