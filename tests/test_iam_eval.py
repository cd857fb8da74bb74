"""The test evaluator against the IAM User Guide's stated rules, one rule per test.

If the evaluator were wrong, the P1-P4 proofs built on it would prove nothing, so each rule
it implements is pinned here with the documentation's own wording in the docstring.
"""
from __future__ import annotations

import pytest

from tests.iam_eval import Request, allows, decide, decide_service


def allow(condition=None, action="s3:GetObject", resource="*"):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


R = Request("s3:GetObject", "arn:aws:s3:::bucket/key")


def test_no_matching_statement_is_an_implicit_deny():
    """'By default, all requests are implicitly denied.'"""
    assert decide([allow(action="s3:PutObject")], R) == "ImplicitDeny"


def test_explicit_deny_overrides_allow():
    """'An explicit deny in any policy overrides any allows.'"""
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert decide([allow(), deny], R) == "ExplicitDeny"


def test_action_matching_is_case_insensitive_with_wildcards():
    """Action names are case-insensitive; * matches any run of characters, ? one character."""
    assert allows(allow(action="S3:getobject"), R)
    assert allows(allow(action="s3:Get*"), R)
    assert allows(allow(action="s3:GetObjec?"), R)
    assert not allows(allow(action="s3:Put*"), R)
    assert not allows(allow(action="s3:GetObject[s]"), R)  # no character classes in IAM


def test_resource_matching_is_case_sensitive():
    assert allows(allow(resource="arn:aws:s3:::bucket/*"), R)
    assert not allows(allow(resource="arn:aws:s3:::BUCKET/*"), R)


def test_not_action_matches_every_other_action():
    policy = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert allows(policy, R)
    assert not allows(policy, Request("iam:CreateUser", "*"))


def test_missing_key_makes_a_positive_operator_false():
    """'If the key that you specify in a policy condition is not present in the request context,
    the values do not match and the condition is false.'"""
    assert not allows(allow({"StringEquals": {"aws:username": "taro"}}), R)


def test_missing_key_makes_a_negated_operator_true():
    """'If the policy condition requires that the key is not matched, such as StringNotLike or
    ArnNotLike, and the right key is not present, the condition is true.'"""
    assert allows(allow({"StringNotLike": {"aws:username": "taro"}}), R)
    assert allows(allow({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}), R)


def test_if_exists_is_true_when_the_key_is_absent_and_checked_when_present():
    """'...IfExists: if the condition key is not present in the context, evaluate true.'"""
    policy = allow({"StringEqualsIfExists": {"aws:username": "taro"}})
    assert allows(policy, R)
    assert allows(policy, Request(R.action, R.resource, {"aws:username": "taro"}))
    assert not allows(policy, Request(R.action, R.resource, {"aws:username": "jiro"}))


def test_null_checks_presence():
    assert allows(allow({"Null": {"aws:username": "true"}}), R)
    assert not allows(allow({"Null": {"aws:username": "false"}}), R)


def test_values_for_one_key_or_keys_and_operators_and():
    """'multiple values for a context key ... logical OR'; 'multiple context keys ... logical AND';
    'multiple condition operators ... logical AND'; negated operator values: 'logical NOR'."""
    ctx = {"aws:username": "taro", "aws:SourceIp": "192.0.2.7"}
    req = Request(R.action, R.resource, ctx)
    assert allows(allow({"StringEquals": {"aws:username": ["jiro", "taro"]}}), req)
    assert not allows(allow({"StringEquals": {"aws:username": "taro", "aws:SourceIp": "198.51.100.1"}}), req)
    assert not allows(allow({"StringEquals": {"aws:username": "taro"},
                             "IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}), req)
    assert not allows(allow({"StringNotEquals": {"aws:username": ["jiro", "taro"]}}), req)


def test_condition_key_names_are_case_insensitive_values_are_not():
    req = Request(R.action, R.resource, {"aws:UserName": "Taro"})
    assert allows(allow({"StringEquals": {"aws:username": "Taro"}}), req)
    assert not allows(allow({"StringEquals": {"aws:username": "taro"}}), req)
    assert allows(allow({"StringEqualsIgnoreCase": {"aws:username": "taro"}}), req)


def test_string_like_wildcards():
    req = Request(R.action, R.resource, {"ses:FromAddress": "taro@test1.com"})
    assert allows(allow({"StringLike": {"ses:FromAddress": "*@test1.com"}}), req)
    assert not allows(allow({"StringLike": {"ses:FromAddress": "*@test2.com"}}), req)


def test_ip_address_matches_cidr_blocks():
    req = Request(R.action, R.resource, {"aws:SourceIp": "203.0.113.9"})
    assert allows(allow({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}), req)
    assert not allows(allow({"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}), req)


def test_for_all_values_and_for_any_value():
    """ForAllValues: 'every value in the request ... matches at least one value in the policy'
    (true when the key is absent); ForAnyValue: 'at least one ... matches' (false when absent)."""
    cond_all = allow({"ForAllValues:StringLike": {"ses:Recipients": ["*@example.com"]}})
    cond_any = allow({"ForAnyValue:StringLike": {"ses:Recipients": ["*@example.com"]}})
    both = Request(R.action, R.resource, {"ses:Recipients": ["a@example.com", "b@other.com"]})
    inside = Request(R.action, R.resource, {"ses:Recipients": ["a@example.com", "c@example.com"]})
    assert not allows(cond_all, both) and allows(cond_all, inside) and allows(cond_all, R)
    assert allows(cond_any, both) and not allows(cond_any, R)


def test_unknown_operators_are_refused_not_ignored():
    with pytest.raises(NotImplementedError):
        allows(allow({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}), R)


# --- service principals and the confused deputy (resource policies) --------------------------

TOPIC = "arn:aws:sns:eu-west-1:111122223333:t"


def service_policy(principal, condition=None):
    statement = {"Effect": "Allow", "Principal": principal, "Action": "SNS:Publish", "Resource": TOPIC}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def by_service(service, **context):
    return Request("sns:Publish", TOPIC, context, service=service)


def test_a_service_principal_matches_that_service_only():
    """'You specify a service principal using the Service element': it names the service that may
    act; another service, or an AWS account principal, is not it."""
    policy = service_policy({"Service": "ses.amazonaws.com"})
    assert decide_service(policy, by_service("ses.amazonaws.com")) == "Allow"
    assert decide_service(policy, by_service("cloudwatch.amazonaws.com")) == "ImplicitDeny"
    assert decide([policy], Request("sns:Publish", TOPIC, principal="arn:aws:iam::111122223333:user/u")) == "ImplicitDeny"


def test_an_aws_account_principal_never_matches_a_service():
    assert decide_service(service_policy({"AWS": "111122223333"}), by_service("ses.amazonaws.com")) == "ImplicitDeny"
    assert decide_service(service_policy("*"), by_service("ses.amazonaws.com")) == "Allow"


def test_source_account_and_source_arn_limit_for_whom_the_service_acts():
    """Confused deputy: 'use the aws:SourceArn and aws:SourceAccount global condition context keys in
    resource policies to limit the permissions that the service gives another service'. A request
    on behalf of another account, or of another resource, does not match; nor one without the keys
    ('If the key ... is not present in the request context, ... the condition is false')."""
    policy = service_policy({"Service": "ses.amazonaws.com"}, {
        "StringEquals": {"AWS:SourceAccount": "111122223333"},
        "ArnEquals": {"AWS:SourceArn": "arn:aws:ses:eu-west-1:111122223333:configuration-set/mine"}})
    ok = {"aws:SourceAccount": "111122223333", "aws:SourceArn": "arn:aws:ses:eu-west-1:111122223333:configuration-set/mine"}
    assert decide_service(policy, by_service("ses.amazonaws.com", **ok)) == "Allow"
    assert decide_service(policy, by_service("ses.amazonaws.com", **{**ok, "aws:SourceAccount": "444455556666"})) == "ImplicitDeny"
    assert decide_service(policy, by_service("ses.amazonaws.com", **{
        **ok, "aws:SourceArn": "arn:aws:ses:eu-west-1:111122223333:configuration-set/other"})) == "ImplicitDeny"
    assert decide_service(policy, by_service("ses.amazonaws.com")) == "ImplicitDeny"


def test_arn_equals_compares_each_component_case_sensitively():
    """ArnEquals: 'case-sensitive matching of the ARN. Each of the six colon-delimited components of
    the ARN is checked separately'."""
    policy = allow({"ArnEquals": {"aws:SourceArn": "arn:aws:ses:eu-west-1:111122223333:configuration-set/Mine"}})
    assert allows(policy, Request(R.action, R.resource, {"aws:SourceArn": "arn:aws:ses:eu-west-1:111122223333:configuration-set/Mine"}))
    assert not allows(policy, Request(R.action, R.resource, {"aws:SourceArn": "arn:aws:ses:eu-west-1:111122223333:configuration-set/mine"}))
    assert not allows(policy, Request(R.action, R.resource, {"aws:SourceArn": "arn:aws:ses:us-east-1:111122223333:configuration-set/Mine"}))


def test_a_trust_policy_matches_only_tokens_of_its_federated_provider():
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/idp"},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"StringEquals": {"idp:sub": "me"}}}]}
    ok = Request("sts:AssumeRoleWithWebIdentity", "arn:aws:iam::1:role/r", {"idp:sub": "me"},
                 federated="arn:aws:iam::1:oidc-provider/idp")
    assert decide([trust], ok) == "Allow"
    assert decide([trust], Request(ok.action, ok.resource, {"idp:sub": "you"}, federated=ok.federated)) == "ImplicitDeny"
    assert decide([trust], Request(ok.action, ok.resource, ok.context, federated="arn:aws:iam::1:oidc-provider/x")) == "ImplicitDeny"
    # An AWS principal never matches a Federated-only statement.
    assert decide([trust], Request(ok.action, ok.resource, ok.context, principal="arn:aws:iam::1:user/u")) == "ImplicitDeny"
