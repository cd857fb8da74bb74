"""The per-person sending policy, proven by evaluation against the P1-P4 matrix.

The second reference article's goal: each person sends only as their own address; other
addresses of the same domain (P2) and any address of another domain (P3, P4) fail. SES's SMTP
interface authorises each message as ses:SendRawEmail on the From address's identity, with the
From address in ses:FromAddress; the domain identity allow-list blocks unverified domains.
"""
from __future__ import annotations

import json

import pytest

from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from tests.iam_eval import Request, allows

REGION, ACCOUNT = "ap-northeast-1", "123456789012"
TEST1 = identity_arn(REGION, ACCOUNT, "test1.com")
TEST2 = identity_arn(REGION, ACCOUNT, "test2.com")
TARO = send_as_policy("taro@test1.com", TEST1)


def send(from_address: str, *, action: str = "ses:SendRawEmail") -> Request:
    domain = from_address.rpartition("@")[2].lower()  # SES matches identities case-insensitively
    return Request(action, identity_arn(REGION, ACCOUNT, domain), {"ses:FromAddress": from_address})


# The article's table, for the recommended setting (domain verified, DKIM, ses:FromAddress):
P_MATRIX = [
    ("P1", "taro@test1.com", True),
    ("P2", "hanako@test1.com", False),
    ("P3", "taro@test2.com", False),
    ("P4", "hanako@test2.com", False),
]


@pytest.mark.parametrize("case,from_address,expected", P_MATRIX)
def test_p1_to_p4(case, from_address, expected):
    assert allows(TARO, send(from_address)) is expected, case


def test_own_address_in_another_case_is_still_own():
    assert allows(TARO, send("Taro@Test1.com"))


def test_another_persons_address_is_denied_both_ways():
    hanako = send_as_policy("hanako@test1.com", TEST1)
    assert not allows(TARO, send("hanako@test1.com"))
    assert not allows(hanako, send("taro@test1.com"))
    assert allows(hanako, send("hanako@test1.com"))


def test_own_address_on_another_identity_arn_is_denied():
    # Even with the right From, the resource must be this domain's identity.
    assert not allows(TARO, Request("ses:SendRawEmail", TEST2, {"ses:FromAddress": "taro@test1.com"}))


def test_without_a_from_address_nothing_is_sent():
    assert not allows(TARO, Request("ses:SendRawEmail", TEST1, {}))


def test_look_alike_addresses_are_denied():
    for lookalike in ["taro@test1.com.evil.example", "xtaro@test1.com", "taro@sub.test1.com", "taro+x@test1.com", "*@test1.com"]:
        assert not allows(TARO, send(lookalike)), lookalike


@pytest.mark.parametrize("action", [
    "ses:SendEmail", "ses:SendTemplatedEmail", "ses:SendBulkTemplatedEmail", "ses:SendBounce",
    "ses:CreateEmailIdentity", "ses:DeleteEmailIdentity", "ses:PutEmailIdentityDkimAttributes",
    "ses:ListEmailIdentities", "iam:CreateAccessKey", "iam:PassRole", "s3:GetObject", "sts:AssumeRole",
])
def test_no_other_action_of_any_service_is_allowed(action):
    assert not allows(TARO, send("taro@test1.com", action=action))


def test_the_policy_is_a_single_narrow_allow():
    (statement,) = [s for s in TARO["Statement"] if s["Effect"] == "Allow"]
    assert statement["Action"] == "ses:SendRawEmail"
    assert statement["Resource"] == TEST1
    assert "*" not in json.dumps(statement)
    # Everything else is a Deny, of the one action only.
    assert {s["Action"] for s in TARO["Statement"] if s["Effect"] == "Deny"} == {"ses:SendRawEmail"}


def test_the_deployed_policy_is_the_one_proven(run):
    """The policy the program registers for each person behaves as above, with the real ARN."""
    result = run("""
        domains:
          - name: test1.com
          - name: test2.com
        people:
          - email: taro@test1.com
          - email: hanako@test2.com
    """, region="ap-northeast-1")
    policies = {r.name.removesuffix("-send-policy"): json.loads(r.inputs["policy"])
                for r in result.of_type("aws:iam/userPolicy:UserPolicy")}
    users = {r.name.removesuffix("-user"): r.inputs["name"] for r in result.of_type("aws:iam/user:User")}
    assert set(policies) == {"taro@test1.com", "hanako@test2.com"}
    identities = result.outputs["identities"]
    own_set = result.outputs["deliverability"]["configuration_set_arn"]
    for person, policy in policies.items():
        own_domain = person.rpartition("@")[2]
        assert policy["Statement"][0]["Resource"] == [identities[own_domain], own_set]
        for other in ["taro@test1.com", "hanako@test2.com", "someone@test1.com", "someone@test2.com"]:
            domain = other.rpartition("@")[2]
            # Every send goes through the identity's default set: both ARNs are authorised.
            requests = [Request("ses:SendRawEmail", arn, {"ses:FromAddress": other}) for arn in (identities[domain], own_set)]
            assert all(allows(policy, r) for r in requests) is (other == person), (person, other)
    # Each policy is attached to its own person's user, by the user's IAM name.
    for registration in result.of_type("aws:iam/userPolicy:UserPolicy"):
        person = registration.name.removesuffix("-send-policy")
        assert registration.inputs["user"] == users[person]
