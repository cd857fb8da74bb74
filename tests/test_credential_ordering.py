"""No credential exists before what restricts it: checked on the dependency graph the engine
receives (resource options as registered), not on values."""
from __future__ import annotations

import pytest

from tests.credential_helpers import KEY, POLICY, READER, SECRET_POLICY, SECRET_VERSION
from tests.test_delivery import PGP_KEY

ROSTER = f"""
domains:
  - name: test1.com
people:
  - email: out@test1.com
  - email: rotating@test1.com
    key: 2
    previous_key: 1
  - email: suspended@test1.com
    status: suspended
  - email: pgp@test1.com
    delivery: pgp
    pgp_key: {PGP_KEY}
    key: 3
    previous_key: 2
  - email: sm@test1.com
    delivery: secrets_manager
    secret_readers: [{READER}]
    key: 2
    previous_key: 1
  - email: sm-suspended@test1.com
    delivery: secrets_manager
    secret_readers: [{READER}]
    status: suspended
"""
PEOPLE = ["out@test1.com", "rotating@test1.com", "suspended@test1.com", "pgp@test1.com", "sm@test1.com",
          "sm-suspended@test1.com"]


@pytest.fixture(scope="module")
def graph():
    from ses_mail.review.engine import run_program
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.yaml"
        path.write_text(ROSTER.lstrip("\n"))
        result = run_program(roster=path, region="eu-west-1")
    return result


def depends_on(result, urn: str) -> set[str]:
    """Every URN `urn` depends on, directly or through other resources (parents excluded: a
    component's children are created in program order, which is what is being tested)."""
    by_urn = {options.urn: options for options in result.options.values()}
    seen: set[str] = set()
    todo = list(by_urn[urn].dependencies)
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(by_urn[dep].dependencies if dep in by_urn else ())
    return seen


def urn(result, type_: str, name: str) -> str:
    return result.options[(type_, name)].urn


@pytest.mark.parametrize("address", PEOPLE)
def test_every_access_key_waits_for_the_send_policy(graph, address):
    """An access key (and with pgp the encrypted password, an attribute of the key) is a
    credential; the send policy restricts it."""
    keys = [name for (type_, name) in graph.options if type_ == KEY and name.startswith(f"{address}-key")]
    assert keys
    policy = urn(graph, POLICY, f"{address}-send-policy")
    for key in keys:
        assert policy in depends_on(graph, urn(graph, KEY, key)), key


@pytest.mark.parametrize("address", ["sm@test1.com", "sm-suspended@test1.com"])
def test_a_secret_value_waits_for_the_secret_policy_and_the_send_policy(graph, address):
    version = urn(graph, SECRET_VERSION, f"{address}-secret-value")
    deps = depends_on(graph, version)
    assert urn(graph, SECRET_POLICY, f"{address}-secret-policy") in deps
    assert urn(graph, POLICY, f"{address}-send-policy") in deps


def test_every_credential_carrier_is_covered(graph):
    """Each resource type that holds a credential is one the tests above check: a new carrier
    (an exported key, a new delivery) must be added here and ordered after its restrictions."""
    carriers = {KEY, SECRET_VERSION}
    types = {type_ for (type_, _) in graph.options}
    assert types - carriers <= {
        "pulumi:pulumi:Stack", "pulumi:providers:aws", "ses-mail:index:SesMail", "ses-mail:index:SendingDomain",
        "ses-mail:index:SmtpSender",
        "aws:sesv2/emailIdentity:EmailIdentity", "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes",
        "aws:route53/record:Record", "aws:iam/user:User", POLICY, "aws:secretsmanager/secret:Secret", SECRET_POLICY,
        # Deliverability: feedback plumbing, no credential in any of it.
        "ses-mail:index:Deliverability", "aws:sesv2/configurationSet:ConfigurationSet",
        "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination", "aws:sns/topic:Topic",
        "aws:sns/topicPolicy:TopicPolicy", "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:ses/domainIdentityVerification:DomainIdentityVerification",
        "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes",
    }, types
