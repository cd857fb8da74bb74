"""Issue 10, deliverability: the configuration set and the send policies, the feedback topic and
its policy, the reputation alarms, verification waiting and DMARC report authorisations.

Policies are evaluated against requests that must pass and fail (tests/iam_eval.py), with the
ARNs the program really registers; nothing is compared as JSON text.
"""
from __future__ import annotations

import json

import pulumi
import pytest
from hypothesis import given, strategies as st

from ses_mail.roster import parse_roster
from ses_mail.specs import deliverability as spec
from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from ses_mail.specs.limits import SES_CONFIGURATION_SET_NAME, SES_CONFIGURATION_SET_NAME_RE
from tests.iam_eval import Request, allows, decide_service

REGION, ACCOUNT = "ap-northeast-1", "123456789012"
TEST1 = identity_arn(REGION, ACCOUNT, "test1.com")
OWN_SET = spec.configuration_set_arn(REGION, ACCOUNT, "ses-mail-prod")
OTHER_SET = spec.configuration_set_arn(REGION, ACCOUNT, "marketing")
TARO = send_as_policy("taro@test1.com", TEST1, configuration_set_arn=OWN_SET)

TYPES = {
    "set": "aws:sesv2/configurationSet:ConfigurationSet",
    "destination": "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination",
    "topic": "aws:sns/topic:Topic",
    "topic_policy": "aws:sns/topicPolicy:TopicPolicy",
    "subscription": "aws:sns/topicSubscription:TopicSubscription",
    "alarm": "aws:cloudwatch/metricAlarm:MetricAlarm",
    "suppression": "aws:sesv2/accountSuppressionAttributes:AccountSuppressionAttributes",
    "verification": "aws:ses/domainIdentityVerification:DomainIdentityVerification",
    "identity": "aws:sesv2/emailIdentity:EmailIdentity",
    "mail_from": "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes",
    "record": "aws:route53/record:Record",
}


def ses_send(from_address: str, *, configuration_set: str | None = OWN_SET,
             action: str = "ses:SendRawEmail") -> list[Request]:
    """What SES authorises for one SMTP message: SendRawEmail on the From address's identity and,
    when a configuration set applies (the identity's default, or X-SES-CONFIGURATION-SET), on
    the set too. The message is sent only if every one of them is allowed."""
    domain = from_address.rpartition("@")[2].lower()
    context = {"ses:FromAddress": from_address}
    requests = [Request(action, identity_arn(REGION, ACCOUNT, domain), context)]
    if configuration_set:
        requests.append(Request(action, configuration_set, context))
    return requests


def sent(policy, requests: list[Request]) -> bool:
    return all(allows(policy, r) for r in requests)


# --- the send policy with the configuration set -----------------------------------------------

@pytest.mark.parametrize("case,from_address,expected", [
    ("P1", "taro@test1.com", True),
    ("P2", "hanako@test1.com", False),
    ("P3", "taro@test2.com", False),
    ("P4", "hanako@test2.com", False),
])
def test_p1_to_p4_hold_through_the_stacks_set(case, from_address, expected):
    assert sent(TARO, ses_send(from_address)) is expected, case


def test_own_address_through_the_own_set_is_allowed_through_any_other_set_denied():
    assert sent(TARO, ses_send("taro@test1.com", configuration_set=OWN_SET))
    for other in [OTHER_SET, spec.configuration_set_arn(REGION, "210987654321", "ses-mail-prod"),
                  spec.configuration_set_arn("us-east-1", ACCOUNT, "ses-mail-prod"),
                  spec.configuration_set_arn(REGION, ACCOUNT, "ses-mail-prod-2")]:
        assert not sent(TARO, ses_send("taro@test1.com", configuration_set=other)), other


def test_the_trap_without_the_set_in_the_policy():
    """Why the set's ARN must be in the policy: the policy as it was denies every send once the
    identity has a default set (issue 10), while sends without any set still pass."""
    before = send_as_policy("taro@test1.com", TEST1)
    assert not sent(before, ses_send("taro@test1.com", configuration_set=OWN_SET))
    assert sent(before, ses_send("taro@test1.com", configuration_set=None))


def test_the_set_is_allowed_only_for_sending_and_only_under_the_same_conditions():
    # Same conditions: the set's ARN does not relax the From check on its own.
    assert not allows(TARO, Request("ses:SendRawEmail", OWN_SET, {"ses:FromAddress": "hanako@test1.com"}))
    assert not allows(TARO, Request("ses:SendRawEmail", OWN_SET, {}))
    for action in ["ses:SendEmail", "ses:UpdateConfigurationSetEventDestination", "ses:DeleteConfigurationSet",
                   "ses:PutConfigurationSetSendingOptions", "sns:Publish", "cloudwatch:DeleteAlarms"]:
        assert not sent(TARO, ses_send("taro@test1.com", action=action)), action
    restricted = send_as_policy("taro@test1.com", TEST1, configuration_set_arn=OWN_SET, allowed_ips=["203.0.113.0/24"])
    at = lambda ip: [Request(r.action, r.resource, {**r.context, "aws:SourceIp": ip}) for r in ses_send("taro@test1.com")]
    assert sent(restricted, at("203.0.113.7")) and not sent(restricted, at("198.51.100.7"))


def test_the_deployed_policies_allow_exactly_the_deployed_set(run):
    result = run("""
        domains:
          - name: test1.com
          - name: test2.com
        people:
          - email: taro@test1.com
          - email: hanako@test2.com
    """, region=REGION, stack_config={"aws:region": REGION}, stack="prod")
    own_set = result.outputs["deliverability"]["configuration_set_arn"]
    assert own_set == OWN_SET  # named after the stack
    identities = result.outputs["identities"]
    for registration in result.of_type("aws:iam/userPolicy:UserPolicy"):
        person = registration.name.removesuffix("-send-policy")
        policy = json.loads(registration.inputs["policy"])
        for other in ["taro@test1.com", "hanako@test2.com", "someone@test1.com", "someone@test2.com"]:
            domain = other.rpartition("@")[2]
            requests = [Request("ses:SendRawEmail", arn, {"ses:FromAddress": other}) for arn in (identities[domain], own_set)]
            assert sent(policy, requests) is (other == person), (person, other)
            through_other = [requests[0], Request("ses:SendRawEmail", OTHER_SET, {"ses:FromAddress": other})]
            assert not sent(policy, through_other)
    # ...and it is the default set of every identity the stack manages.
    for identity in result.of_type(TYPES["identity"]):
        assert identity.inputs["configurationSetName"] == "ses-mail-prod"


# --- the configuration set --------------------------------------------------------------------

def test_the_set_has_reputation_metrics_sending_and_tls_optional_by_default(run):
    result = run()
    (cs,) = result.of_type(TYPES["set"])
    assert cs.name == "ses-mail-dev-configuration-set"
    assert cs.inputs["configurationSetName"] == "ses-mail-dev"
    assert cs.inputs["reputationOptions"] == {"reputationMetricsEnabled": True}
    assert cs.inputs["sendingOptions"] == {"sendingEnabled": True}
    assert cs.inputs["deliveryOptions"] == {"tlsPolicy": "OPTIONAL"}
    assert cs.inputs["region"] == "eu-west-1"
    assert result.outputs["deliverability"]["configuration_set_arn"] == "arn:aws:ses:eu-west-1:123456789012:configuration-set/ses-mail-dev"


def test_tls_can_be_required(run):
    result = run("domains: [{name: test1.com}]\ndeliverability: {tls: require}\n")
    (cs,) = result.of_type(TYPES["set"])
    assert cs.inputs["deliveryOptions"] == {"tlsPolicy": "REQUIRE"}


@pytest.mark.parametrize("stack,expected", [
    ("dev", "ses-mail-dev"),
    ("prod_eu-1", "ses-mail-prod_eu-1"),
    ("acme/ses-mail/prod", "ses-mail-prod"),
])
def test_configuration_set_names(stack, expected):
    assert spec.configuration_set_name(stack) == expected


def test_stack_names_ses_refuses_are_normalised_and_kept_apart():
    dotted, dashed = spec.configuration_set_name("eu.prod"), spec.configuration_set_name("eu-prod")
    assert dotted.startswith("ses-mail-eu-prod-") and dashed == "ses-mail-eu-prod" and dotted != dashed
    long = spec.configuration_set_name("x" * 200)
    assert len(long) == SES_CONFIGURATION_SET_NAME.maximum and long != spec.configuration_set_name("x" * 201)


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=120))
def test_every_stack_name_gives_a_valid_deterministic_set_name(stack):
    name = spec.configuration_set_name(stack)
    assert SES_CONFIGURATION_SET_NAME_RE.fullmatch(name) and len(name) <= SES_CONFIGURATION_SET_NAME.maximum
    assert name == spec.configuration_set_name(stack)


def test_turning_the_set_off(run):
    """`configuration_set: false`: no set, no destinations, identities without a default set and
    send policies exactly as before; the topic and the alarms stay."""
    result = run("domains: [{name: test1.com}]\npeople: [{email: taro@test1.com}]\n"
                 "deliverability: {configuration_set: false}\n")
    assert not result.of_type(TYPES["set"]) and not result.of_type(TYPES["destination"])
    (identity,) = result.of_type(TYPES["identity"])
    assert "configurationSetName" not in identity.inputs
    policy = json.loads(result.named("taro@test1.com-send-policy").inputs["policy"])
    arn = result.outputs["identities"]["test1.com"]
    assert policy == send_as_policy("taro@test1.com", arn)
    assert sent(policy, [Request("ses:SendRawEmail", arn, {"ses:FromAddress": "taro@test1.com"})])
    # Any set someone else applies is refused: this is what docs/deliverability.md warns about.
    assert not allows(policy, Request("ses:SendRawEmail", OTHER_SET, {"ses:FromAddress": "taro@test1.com"}))
    assert len(result.of_type(TYPES["alarm"])) == 2 and result.of_type(TYPES["topic"])
    topic_policy = json.loads(result.of_type(TYPES["topic_policy"])[0].inputs["policy"])
    assert [s["Principal"]["Service"] for s in topic_policy["Statement"]] == ["cloudwatch.amazonaws.com"]
    assert result.outputs["deliverability"]["configuration_set"] is None


# --- feedback ---------------------------------------------------------------------------------

def test_event_destinations_send_feedback_to_the_topic_and_counts_per_person_to_cloudwatch(run):
    result = run()
    topic_arn = "arn:aws:sns:eu-west-1:123456789012:ses-mail-dev-feedback"
    assert result.of_type(TYPES["topic"])[0].inputs["name"] == "ses-mail-dev-feedback"
    destinations = {d.inputs["eventDestinationName"]: d.inputs for d in result.of_type(TYPES["destination"])}
    assert set(destinations) == {"sns", "cloudwatch"}
    for inputs in destinations.values():
        assert inputs["configurationSetName"] == "ses-mail-dev" and inputs["eventDestination"]["enabled"] is True
    sns = destinations["sns"]["eventDestination"]
    assert sns["snsDestination"] == {"topicArn": topic_arn}
    assert {"BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY", "RENDERING_FAILURE"} == set(sns["matchingEventTypes"])
    cloudwatch = destinations["cloudwatch"]["eventDestination"]
    assert {"SEND", "DELIVERY", "BOUNCE", "COMPLAINT"} <= set(cloudwatch["matchingEventTypes"])
    assert cloudwatch["cloudWatchDestination"]["dimensionConfigurations"] == [{
        "dimensionName": "ses:caller-identity", "dimensionValueSource": "MESSAGE_TAG", "defaultDimensionValue": "unknown"}]
    # The dimension's value is the SMTP user's IAM name, which the `senders` output lists per person.
    assert result.outputs["senders"]["taro@test1.com"]["iam_user"] == "smtp-taro@test1.com"


def _topic_policy_of(result):
    (registration,) = result.of_type(TYPES["topic_policy"])
    return registration.inputs["arn"], json.loads(registration.inputs["policy"])


def test_only_ses_of_this_account_for_this_set_and_the_stacks_alarms_may_publish(run):
    result = run()
    topic, policy = _topic_policy_of(result)
    own_set = result.outputs["deliverability"]["configuration_set_arn"]
    alarms = sorted(a.outputs["arn"] for a in result.of_type(TYPES["alarm"]))
    assert len(alarms) == 2

    def publish(service, **context):
        return decide_service(policy, Request("sns:Publish", topic, context, service=service))

    ses_ok = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": own_set}
    assert publish("ses.amazonaws.com", **ses_ok) == "Allow"
    # Confused deputy: SES acting for another account, or for another set, is refused.
    assert publish("ses.amazonaws.com", **{**ses_ok, "aws:SourceAccount": "444455556666",
                                           "aws:SourceArn": own_set.replace(ACCOUNT, "444455556666")}) == "ImplicitDeny"
    assert publish("ses.amazonaws.com", **{**ses_ok, "aws:SourceArn": OTHER_SET.replace(REGION, "eu-west-1")}) == "ImplicitDeny"
    assert publish("ses.amazonaws.com") == "ImplicitDeny"
    for alarm in alarms:
        assert publish("cloudwatch.amazonaws.com", **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm}) == "Allow"
        # The alarm's ARN is not the set's: SES cannot pass as an alarm, nor an alarm as SES.
        assert publish("ses.amazonaws.com", **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm}) == "ImplicitDeny"
    other_alarm = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:someone-elses"
    assert publish("cloudwatch.amazonaws.com", **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": other_alarm}) == "ImplicitDeny"
    assert publish("events.amazonaws.com", **ses_ok) == "ImplicitDeny"
    # No AWS principal of any account gets anything from the topic policy.
    for action in ["sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes"]:
        request = Request(action, topic, {}, principal="arn:aws:iam::444455556666:root")
        assert not allows(policy, request)
    assert not allows(policy, Request("sns:Subscribe", topic, ses_ok, service="ses.amazonaws.com"))


def test_subscribers_from_the_roster(run):
    result = run("""
        domains: [{name: test1.com}]
        deliverability:
          notify:
            - Postmaster@Test1.com
            - https://hooks.example.net/ses
            - arn:aws:sqs:eu-west-1:123456789012:ses-feedback
    """)
    subs = {s.inputs["protocol"]: s for s in result.of_type(TYPES["subscription"])}
    assert {p: s.inputs["endpoint"] for p, s in subs.items()} == {
        "email": "postmaster@test1.com", "https": "https://hooks.example.net/ses",
        "sqs": "arn:aws:sqs:eu-west-1:123456789012:ses-feedback"}
    topic_arn = result.outputs["deliverability"]["feedback_topic"]
    assert all(s.inputs["topic"] == topic_arn for s in subs.values())
    assert subs["email"].name == "ses-mail-dev-notify-postmaster@test1.com"  # named by endpoint, not position


@pytest.mark.parametrize("value,message", [
    ("http://hooks.example.net/ses", "plain HTTP"),
    ("arn:aws:sns:eu-west-1:123456789012:other", "not an SQS queue ARN"),
    ("not an address", "not an email address, https:// URL or SQS queue ARN"),
])
def test_bad_subscribers_are_refused(value, message):
    with pytest.raises(Exception) as caught:
        parse_roster(f"domains: [{{name: a.com}}]\ndeliverability: {{notify: ['{value}']}}\n", "r.yaml")
    assert "deliverability.notify[0]" in str(caught.value) and message in str(caught.value)


# --- guardrails -------------------------------------------------------------------------------

def test_reputation_alarms_default_well_below_aws_review_levels(run):
    result = run()
    alarms = {a.inputs["metricName"]: a.inputs for a in result.of_type(TYPES["alarm"])}
    topic_arn = result.outputs["deliverability"]["feedback_topic"]
    assert alarms["Reputation.BounceRate"]["threshold"] == 0.02 < spec.BOUNCE_REVIEW
    assert alarms["Reputation.ComplaintRate"]["threshold"] == 0.0005 < spec.COMPLAINT_REVIEW
    for inputs in alarms.values():
        assert inputs["namespace"] == "AWS/SES" and "dimensions" not in inputs  # the account's rate
        assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert inputs["alarmActions"] == [topic_arn] and inputs["okActions"] == [topic_arn]
        assert inputs["treatMissingData"] == "notBreaching" and inputs["region"] == "eu-west-1"
    assert {a.inputs["name"] for a in result.of_type(TYPES["alarm"])} == {"ses-mail-dev-bounce-rate", "ses-mail-dev-complaint-rate"}


def test_alarm_thresholds_from_stack_config(run):
    result = run(config={"ses-mail:bounceRateAlarm": "3%", "ses-mail:complaintRateAlarm": "0.0008"})
    alarms = {a.inputs["metricName"]: a.inputs["threshold"] for a in result.of_type(TYPES["alarm"])}
    assert alarms == {"Reputation.BounceRate": 0.03, "Reputation.ComplaintRate": 0.0008}


@pytest.mark.parametrize("key,value", [("bounceRateAlarm", "12%"), ("bounceRateAlarm", "two"),
                                       ("complaintRateAlarm", "0.5%"), ("complaintRateAlarm", "0")])
def test_alarm_thresholds_at_or_past_the_pause_level_are_refused(run, key, value):
    with pytest.raises(pulumi.RunError) as caught:
        run(config={f"ses-mail:{key}": value})
    assert f"stack config ses-mail:{key} {value!r}" in str(caught.value)


def test_account_suppression_is_off_by_default_and_managed_when_asked(run):
    assert not run().of_type(TYPES["suppression"])
    result = run("domains: [{name: test1.com}]\ndeliverability: {account_suppression: true}\n")
    (suppression,) = result.of_type(TYPES["suppression"])
    assert sorted(suppression.inputs["suppressedReasons"]) == ["BOUNCE", "COMPLAINT"]


# --- verification and MAIL FROM ---------------------------------------------------------------

def test_no_waiting_by_default_and_the_outputs_say_what_must_resolve(run):
    result = run()
    assert not result.of_type(TYPES["verification"])
    v = result.outputs["verification"]["test1.com"]
    dkim = [r for r in result.outputs["dns_records"] if r["type"] == "CNAME" and r["name"].endswith("._domainkey.test1.com")]
    assert v["must_resolve"] == dkim and len(dkim) == 3
    assert v["mail_from_must_resolve"] == [{"name": "mail.test1.com", "type": "MX", "ttl": 600,
                                            "value": "10 feedback-smtp.eu-west-1.amazonses.com"}]
    assert v["pulumi_up_waits_minutes"] is None and v["mail_from_on_mx_failure"] == "USE_DEFAULT_VALUE"


def test_waiting_for_verification_per_stack_and_per_domain(run):
    result = run("""
        domains:
          - name: test1.com
          - name: test2.com
            wait_for_verification: 20
          - name: test3.com
            wait_for_verification: false
        deliverability: {wait_for_verification: true}
    """)
    waits = {v.inputs["domain"]: v for v in result.of_type(TYPES["verification"])}
    assert set(waits) == {"test1.com", "test2.com"}
    assert result.options_of(waits["test1.com"]).custom_timeouts == {"create": "45m"}
    assert result.options_of(waits["test2.com"]).custom_timeouts == {"create": "20m"}
    # It waits only once the DKIM CNAMEs exist.
    dependencies = result.options_of(waits["test2.com"]).dependencies
    for slot in (1, 2, 3):
        record = result.named(f"test2.com-dkim-{slot}")
        assert result.options_of(record).urn in dependencies
    assert result.outputs["verification"]["test3.com"]["pulumi_up_waits_minutes"] is None


def test_mail_from_behaviour_on_mx_failure_is_a_roster_option(run):
    result = run("domains: [{name: test1.com, mail_from_mx_failure: reject}, {name: test2.com}]\n")
    behaviour = {m.inputs["emailIdentity"]: m.inputs["behaviorOnMxFailure"] for m in result.of_type(TYPES["mail_from"])}
    assert behaviour == {"test1.com": "REJECT_MESSAGE", "test2.com": "USE_DEFAULT_VALUE"}


# --- DMARC report authorisations --------------------------------------------------------------

def test_a_managed_report_domain_publishes_the_authorisation(run):
    result = run("""
        domains:
          - name: test1.com
            dmarc: {rua: [dmarc@reports.example], ruf: [forensic@reports.example]}
          - name: test2.com
            dmarc: {rua: [dmarc@test2.com]}
          - name: sub.test2.com
            dmarc: {rua: [dmarc@test2.com]}
          - name: reports.example
    """)
    records = [r for r in result.of_type(TYPES["record"]) if "._report._dmarc." in r.inputs["name"]]
    assert [(r.name, r.inputs["name"], r.inputs["type"], r.inputs["records"]) for r in records] == [
        ("reports.example-dmarc-report-auth-test1.com", "test1.com._report._dmarc.reports.example", "TXT", ["v=DMARC1"])]
    # In the report domain's own zone, and in the dns_records output.
    assert records[0].inputs["zoneId"] == result.named("reports.example-dmarc").inputs["zoneId"]
    assert {"name": "test1.com._report._dmarc.reports.example", "type": "TXT", "value": "v=DMARC1", "ttl": 600} \
        in result.outputs["dns_records"]
    (auth,) = result.outputs["deliverability"]["dmarc_report_authorizations"]
    assert auth["published_by"] == "this stack"


def test_an_outside_report_domain_is_named_in_the_outputs_and_the_plan(run):
    result = run("domains: [{name: test1.com, dmarc: {rua: [dmarc@reports.example]}}]\n")
    assert not [r for r in result.of_type(TYPES["record"]) if "._report._dmarc." in r.inputs["name"]]
    (auth,) = result.outputs["deliverability"]["dmarc_report_authorizations"]
    assert auth == {"domain": "test1.com", "report_domain": "reports.example", "published_by": "the report domain",
                    "name": "test1.com._report._dmarc.reports.example", "type": "TXT", "value": "v=DMARC1"}
    from ses_mail.cli.plan import render
    assert ("DMARC reports of test1.com go to reports.example: test1.com._report._dmarc.reports.example TXT v=DMARC1 "
            "(ACTION NEEDED: reports.example must publish it") in render(result)


def test_same_organisation_report_addresses_need_no_authorisation():
    roster = parse_roster("""
domains:
  - name: test1.com
    dmarc: {rua: [a@test1.com, b@sub.test1.com]}
  - name: sub.test1.com
    dmarc: {rua: [a@test1.com]}
""", "r.yaml")
    assert spec.report_authorizations(roster.domains) == []


# --- the plan ---------------------------------------------------------------------------------

def test_the_plan_shows_the_deliverability_group_and_notes(run):
    from ses_mail.cli.plan import render
    out = render(run("domains: [{name: test1.com}]\npeople: [{email: taro@test1.com}]\n"
                     "deliverability: {notify: [ops@test1.com], tls: require}\n"))
    assert "+ Deliverability ses-mail-dev" in out
    assert "name=ses-mail-dev tls=REQUIRE reputation_metrics=True sending=True" in out
    assert "AWS/SES Reputation.BounceRate >= 2% (Average over 3600s)" in out
    assert "email ops@test1.com (must confirm)" in out
    assert "configuration_set=ses-mail-dev" in out
    assert "alarm ses-mail-dev-complaint-rate: AWS/SES Reputation.ComplaintRate >= 0.05% (AWS reviews at 0.1%)" in out


def test_a_referenced_report_domain_must_publish_the_authorisation_itself(run):
    """A report domain this stack only references (managed elsewhere) gets no record from this
    stack: the plan says it must publish it, rather than claiming to publish it."""
    result = run("""
        domains:
          - name: test1.com
            dmarc: {rua: [dmarc@reports.example]}
          - name: reports.example
            existing: reference
    """)
    assert not [r for r in result.of_type(TYPES["record"]) if "._report._dmarc." in r.inputs["name"]]
    (auth,) = result.outputs["deliverability"]["dmarc_report_authorizations"]
    assert auth["report_domain"] == "reports.example" and auth["published_by"] == "the report domain"


def test_an_identity_gets_its_configuration_set_only_after_the_send_policies_allow_it(run):
    """SES authorizes every send on the identity's default set too: so on create and on upgrade
    the identity (which names the set) waits for its people's send policies (which allow it),
    and no send policy waits for the identity, so there is no moment of AccessDenied."""
    result = run("""
        domains:
          - name: test1.com
          - name: test2.com
        people:
          - email: taro@test1.com
          - email: hanako@test1.com
          - email: jiro@test2.com
    """)
    urn = {(r.type, r.name): result.options[(r.type, r.name)].urn for r in result.registrations}
    deps = {(r.type, r.name): set(result.options[(r.type, r.name)].dependencies) for r in result.registrations}
    identity = "aws:sesv2/emailIdentity:EmailIdentity"
    policy = "aws:iam/userPolicy:UserPolicy"
    assert {urn[(policy, "taro@test1.com-send-policy")], urn[(policy, "hanako@test1.com-send-policy")]} <= \
        deps[(identity, "test1.com-identity")]
    assert urn[(policy, "jiro@test2.com-send-policy")] not in deps[(identity, "test1.com-identity")]
    assert urn[(policy, "jiro@test2.com-send-policy")] in deps[(identity, "test2.com-identity")]
    for (type_, name), found in deps.items():
        if type_ == policy:
            assert not any(identity in d for d in found), name
    # The policy still names exactly the identity the provider creates.
    doc = __import__("json").loads(result.named("taro@test1.com-send-policy").inputs["policy"])
    assert result.named("test1.com-identity").outputs["arn"] in doc["Statement"][0]["Resource"]
