"""Nobody presents as a colleague: display names and feedback addresses, evaluated for every
person of a generated roster with the IAM evaluator (tests/iam_eval.py).

What SES's SMTP interface puts in the request context: ses:FromAddress (the From address),
ses:FromDisplayName (the From display name, absent when there is none) and ses:FeedbackAddress
(the Return-Path, absent unless set). The policies come from the same builder the program
deploys (tests/test_access_controls.py::test_the_deployed_policy_is_the_evaluated_one).
"""
from __future__ import annotations

import json

import pytest
import yaml

from ses_mail.roster import Roster
from ses_mail.roster.limit_checks import configuration_set_arn_for, identity_arn_bounds, send_policy_length
from ses_mail.specs import limits as L
from ses_mail.specs.iam_policy import SEND_ACTION, DisplayNames, send_as_policy
from tests.iam_eval import Request, allows, decide

REGION, ACCOUNT = "eu-west-1", "123456789012"
IDENTITY = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
ABSENT = object()

#: Display names that read as an address, including letter-case variants and the full-width @.
ADDRESS_LIKE = ["ceo@example.com", "CEO@EXAMPLE.COM", "Ceo@Example.Com", "cEo@eXaMpLe.cOm",
                "CEO <ceo@example.com>", "ceo@example.com (CEO)", "@", "ceo\uff20example.com", "ceo\ufe6bexample.com",
                "hanako@example.com"]


def generated_roster(n: int, *, defaults: dict | None = None) -> Roster:
    """n people, most with names (some differing from a colleague's only in case or spacing)."""
    people = []
    for i in range(n):
        person: dict = {"email": f"person{i:04d}@example.com"}
        if i % 7 != 3:
            person["name"] = ["Hanako Sato", "hanako sato", "Taro Yamada", "Taro  Yamada", "山田 太郎",
                              "O'Brien, Pat", "Ümit Öz"][i % 7] + f" {i:04d}"
        people.append(person)
    return Roster.model_validate({"domains": [{"name": "example.com"}], "people": people,
                                  **({"defaults": defaults} if defaults else {})})


def send(address: str, *, display=ABSENT, feedback=ABSENT) -> Request:
    context = {"ses:FromAddress": address}
    if display is not ABSENT:
        context["ses:FromDisplayName"] = display
    if feedback is not ABSENT:
        context["ses:FeedbackAddress"] = feedback
    return Request(SEND_ACTION, IDENTITY, context)


def policy_for(roster: Roster, i: int) -> dict:
    person = roster.people[i]
    settings = roster.settings(person)
    return send_as_policy(person.email, IDENTITY, display_names=settings.display_names,
                          allowed_ips=settings.allowed_ips, recipients=settings.recipients)


ROSTER = generated_roster(60)


@pytest.mark.parametrize("i", range(len(ROSTER.people)))
def test_every_person_sends_as_themselves_and_as_nobody_else(i):
    person = ROSTER.people[i]
    policy = policy_for(ROSTER, i)
    own = person.email
    # own address, with the own name or none (absent or empty: assumed to mean the same)
    if person.name:
        assert allows(policy, send(own, display=person.name))
        assert allows(policy, send(own.upper(), display=person.name))
    assert allows(policy, send(own))
    assert allows(policy, send(own, display=""))
    # own feedback address allowed (in any case); no feedback address is unaffected
    assert allows(policy, send(own, feedback=own))
    assert allows(policy, send(own, feedback=own.upper()))
    # every colleague's name denied, and every colleague's address as feedback address
    for colleague in ROSTER.people:
        if colleague is person:
            continue
        if colleague.name:
            assert not allows(policy, send(own, display=colleague.name)), colleague.name
        assert decide([policy], send(own, feedback=colleague.email)) == "ExplicitDeny"
        assert decide([policy], send(own, display=person.name or ABSENT, feedback=colleague.email)) \
            == "ExplicitDeny"
    # address-like names denied outright, whatever else
    for name in ADDRESS_LIKE:
        assert decide([policy], send(own, display=name)) == "ExplicitDeny", name


def test_names_that_differ_only_in_case_or_spacing_are_other_names():
    # StringEquals is case-sensitive: "hanako sato 0001" is not "Hanako Sato 0001"'s.
    policy = send_as_policy("a@example.com", IDENTITY, display_names=DisplayNames.own_or_none("Hanako Sato"))
    for other in ("hanako sato", "HANAKO SATO", "Hanako  Sato", "Hanako Sato ", " Hanako Sato", "Hanako"):
        assert not allows(policy, send("a@example.com", display=other)), other


def test_a_person_without_a_name_sends_with_no_display_name_only():
    roster = generated_roster(4)
    (i,) = [i for i, p in enumerate(roster.people) if not p.name]
    policy = policy_for(roster, i)
    assert allows(policy, send(roster.people[i].email))
    assert allows(policy, send(roster.people[i].email, display=""))
    assert not allows(policy, send(roster.people[i].email, display="Anyone"))


def test_any_opts_out_of_the_allow_list_but_never_of_the_address_deny():
    for roster in (generated_roster(8, defaults={"display_name": "any"}),
                   Roster.model_validate({"domains": [{"name": "example.com"}],
                                          "people": [{"email": "a@example.com", "name": "A", "display_name": "any"}]})):
        policy = policy_for(roster, 0)
        own = roster.people[0].email
        assert roster.settings(roster.people[0]).display_names.any
        assert allows(policy, send(own, display="Hanako Sato"))
        assert allows(policy, send(own))
        for name in ADDRESS_LIKE:
            assert decide([policy], send(own, display=name)) == "ExplicitDeny", name
        assert decide([policy], send(own, feedback="hanako@example.com")) == "ExplicitDeny"


@pytest.mark.parametrize("value,own_name,none,exact", [
    (False, "Taro", True, False),    # false: `name` or none (the default)
    (None, "Taro", True, False),     # unset: the stack default, false
    (True, "Taro", False, True),     # true: exactly `name`, as before
    ("Sales Desk", "Sales Desk", False, True),  # a text: exactly it, as before
])
def test_what_true_false_and_a_text_mean(value, own_name, none, exact):
    person = {"email": "taro@example.com", "name": "Taro"}
    if value is not None:
        person["display_name"] = value
    roster = Roster.model_validate({"domains": [{"name": "example.com"}], "people": [person]})
    policy = policy_for(roster, 0)
    assert allows(policy, send("taro@example.com", display=own_name))
    assert allows(policy, send("taro@example.com")) is none
    assert allows(policy, send("taro@example.com", display="")) is none
    assert allows(policy, send("taro@example.com", display="Taro" if exact and own_name != "Taro" else "Other")) is False
    assert (roster.settings(roster.people[0]).display_name is not None) is exact


def test_the_policy_does_not_grow_with_the_roster_and_fits_at_5000_people():
    """Measured: the longest send policy of a 5,000-person roster equals the longest of one
    person with the same longest name and address, in the region with the longest ARN."""
    big = generated_roster(5_000)
    _, longest_arn = identity_arn_bounds("example.com", None)
    set_arn = configuration_set_arn_for(longest_arn, "x" * L.SES_CONFIGURATION_SET_NAME.maximum)
    lengths = [send_policy_length(p.email, longest_arn, big.settings(p), set_arn=set_arn) for p in big.people]
    alone = generated_roster(1)
    one = send_policy_length(alone.people[0].email, longest_arn, alone.settings(alone.people[0]), set_arn=set_arn)
    # Each person's policy is the one they would have alone in the roster.
    for i in range(0, 5_000, 97):
        solo = Roster.model_validate({"domains": [{"name": "example.com"}],
                                      "people": [big.people[i].model_dump(exclude_unset=True)]})
        assert policy_for(solo, 0) == policy_for(big, i)
    # No policy names a colleague.
    policy = json.dumps(policy_for(big, 4_999))
    assert "person0000" not in policy and "Hanako Sato 0000" not in policy
    assert max(lengths) <= L.IAM_USER_INLINE_POLICIES.maximum
    # The worst case a roster can have: the longest display name (256) and local part (64).
    worst = Roster.model_validate({"domains": [{"name": "example.com"}], "people": [
        {"email": "x" * 64 + "@example.com", "name": "N" * 256}]})
    worst_length = send_policy_length(worst.people[0].email, longest_arn, worst.settings(worst.people[0]),
                                      set_arn=set_arn)
    assert worst_length <= L.IAM_USER_INLINE_POLICIES.maximum
    print(f"\nsend policy at 5,000 people: longest {max(lengths):,} characters (one person: {one:,}); "
          f"worst case (256-character name, 64-character local part): {worst_length:,} of "
          f"{L.IAM_USER_INLINE_POLICIES.maximum:,}")


def test_validation_refuses_address_like_names_and_texts():
    from ses_mail.roster.errors import RosterError
    from ses_mail.roster import parse_roster

    for person in ({"email": "a@example.com", "display_name": "ceo@example.com"},
                   {"email": "a@example.com", "name": "CEO@EXAMPLE.COM"},
                   {"email": "a@example.com", "name": "ceo\uff20example.com", "display_name": True}):
        text = yaml.safe_dump({"domains": [{"name": "example.com"}], "people": [person]}, allow_unicode=True)
        with pytest.raises(RosterError) as err:
            parse_roster(text, "r.yaml")
        assert "@" in str(err.value) and "r.yaml:" in str(err.value)
    # with display_name: any the name is only a tag, and the policy's Deny still holds
    ok = {"email": "a@example.com", "name": "CEO@EXAMPLE.COM", "display_name": "any"}
    parse_roster(yaml.safe_dump({"domains": [{"name": "example.com"}], "people": [ok]}), "r.yaml")
