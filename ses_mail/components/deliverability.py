"""The stack's deliverability resources: configuration set, feedback topic, event destinations,
reputation alarms and (optionally) the account-level suppression list.

A thin shell over `ses_mail.specs.deliverability`: every value comes from there. The program
creates this before the domains and senders, and hands each of them what it needs through
`domain_options` and `sender_options`.

No `from __future__ import annotations`: the Args TypedDict's `NotRequired` markers must be
evaluated for its optional keys (`__optional_keys__`) to be right at run time.
"""

import json
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ses_mail.roster import Domain, Roster
from ses_mail.specs import deliverability as spec
from ses_mail.specs.dns_records import DnsRecord


class DeliverabilityArgs(TypedDict):
    """What `Deliverability` builds from."""

    roster: Roster
    """The validated roster: its `deliverability` section and the domains' report authorisations. Required."""
    stack: str
    """The configuration set key (`ses_mail.stack_settings`): names the set, the topic, the alarms
    and their `ses-mail:stack` tag. Required."""
    region: str
    """SES region of every resource. Required."""
    bounce_alarm: NotRequired[float]
    """Account bounce rate (a fraction) at which the alarm notifies the topic. Default: 0.02."""
    complaint_alarm: NotRequired[float]
    """Account complaint rate (a fraction) at which the alarm notifies the topic. Default: 0.0005."""


class Deliverability(pulumi.ComponentResource):
    """The stack's configuration set, feedback topic, event destinations and reputation alarms.

    Children a program may read or adjust: `configuration_set` (None when the roster turns the
    set off, as are `configuration_set_name`/`configuration_set_arn`), `topic`, `topic_policy`,
    `alarms` (by key: `bounce-rate`, `complaint-rate`), `event_destinations` (by destination name),
    `subscriptions` (by endpoint) and `account_suppression` (None unless the roster asks for it).
    Resource names derive from the configuration set's name, whatever the component's name.
    """

    configuration_set: Optional[aws.sesv2.ConfigurationSet]
    configuration_set_name: Optional[pulumi.Output[str]]
    configuration_set_arn: Optional[pulumi.Output[str]]
    topic: aws.sns.Topic
    topic_policy: aws.sns.TopicPolicy
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    event_destinations: dict[str, aws.sesv2.ConfigurationSetEventDestination]
    subscriptions: dict[str, aws.sns.TopicSubscription]
    account_suppression: Optional[aws.sesv2.AccountSuppressionAttributes]
    summary: pulumi.Output[dict]

    def __init__(self, name: str, args: DeliverabilityArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("ses-mail:index:Deliverability", name, None, opts)
        roster, stack, region = args["roster"], args["stack"], args["region"]
        # The set's name names every child, so the component's own name never moves a resource.
        name = spec.configuration_set_name(stack)
        child = pulumi.ResourceOptions(parent=self)
        settings = roster.deliverability
        self._roster = roster
        self._report_records = spec.report_records_by_domain(roster.domains)

        self.configuration_set = None
        self.configuration_set_name = None
        self.configuration_set_arn = None
        if settings.configuration_set:
            configuration_set = self.configuration_set = aws.sesv2.ConfigurationSet(
                f"{name}-configuration-set",
                configuration_set_name=name,
                region=region,
                reputation_options={"reputation_metrics_enabled": True},
                sending_options={"sending_enabled": True},
                delivery_options={"tls_policy": spec.TLS_POLICIES[settings.tls]},
                tags={"ses-mail:stack": stack},
                opts=child,
            )
            self.configuration_set_name = configuration_set.configuration_set_name
            self.configuration_set_arn = configuration_set.arn

        self.topic = aws.sns.Topic(f"{name}-feedback-topic", name=spec.topic_name(name), region=region,
                                   tags={"ses-mail:stack": stack}, opts=child)

        alarms = spec.reputation_alarms(name, args.get("bounce_alarm", spec.DEFAULT_BOUNCE_ALARM),
                                        args.get("complaint_alarm", spec.DEFAULT_COMPLAINT_ALARM))
        self.alarms = {
            alarm.key: aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm.key}-alarm",
                name=alarm.name,
                alarm_description=alarm.description,
                namespace=spec.REPUTATION_NAMESPACE,
                metric_name=alarm.metric_name,
                statistic="Average",
                period=spec.ALARM_PERIOD_SECONDS,
                evaluation_periods=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                threshold=alarm.threshold,
                # No sending means no rate: not a reason to alarm.
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                region=region,
                tags={"ses-mail:stack": stack},
                opts=child,
            )
            for alarm in alarms
        }
        alarm_resources = list(self.alarms.values())

        set_arn = self.configuration_set_arn if self.configuration_set_arn is not None else pulumi.Output.from_input(None)
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-feedback-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, set_arn, *[a.arn for a in alarm_resources]).apply(
                lambda v: json.dumps(spec.topic_policy(v[0], v[0].split(":")[4], v[1], v[2:]), sort_keys=True)),
            region=region,
            opts=child,
        )

        self.event_destinations = {}
        if self.configuration_set_name is not None:
            for destination, definition in (
                    (spec.SNS_DESTINATION, self.topic.arn.apply(spec.sns_event_destination)),
                    (spec.CLOUDWATCH_DESTINATION, spec.cloudwatch_event_destination())):
                self.event_destinations[destination] = aws.sesv2.ConfigurationSetEventDestination(
                    f"{name}-events-{destination}",
                    configuration_set_name=self.configuration_set_name,
                    event_destination_name=destination,
                    # A plain dict with the ArgsDict's keys: the specs import no SDK types.
                    event_destination=definition,  # type: ignore[arg-type]
                    region=region,
                    opts=child,
                )

        subscribers = [spec.subscriber(s) for s in settings.notify]
        self.subscriptions = {}
        for sub in subscribers:
            self.subscriptions[sub.endpoint] = aws.sns.TopicSubscription(
                f"{name}-notify-{sub.endpoint}",
                topic=self.topic.arn,
                protocol=sub.protocol,
                endpoint=sub.endpoint,
                region=region,
                opts=child,
            )

        self.account_suppression = None
        if settings.account_suppression:
            self.account_suppression = aws.sesv2.AccountSuppressionAttributes(
                f"{name}-account-suppression",
                suppressed_reasons=list(spec.SUPPRESSION_REASONS),
                region=region,
                opts=child,
            )

        plain = spec.summary(set_name=name if settings.configuration_set else None, tls=settings.tls,
                             subscribers=subscribers, alarms=alarms, suppression=settings.account_suppression,
                             authorizations=spec.report_authorizations(roster.domains))
        self.summary = pulumi.Output.all(self.topic.arn, set_arn).apply(
            lambda v: {**plain, "feedback_topic": v[0], "configuration_set_arn": v[1]})
        self.register_outputs({"summary": self.summary})

    def domain_options(self, domain: Domain) -> "DomainOptions":
        """`SendingDomainArgs` fields it decides: default set, records for other domains, waiting."""
        return {
            "configuration_set_name": self.configuration_set_name,
            "report_records": tuple(self._report_records.get(domain.name, ())),
            "verify_minutes": spec.verification_minutes(domain.wait_for_verification,
                                                        self._roster.deliverability.wait_for_verification),
        }

    def sender_options(self) -> "SenderOptions":
        """`SmtpSenderArgs` fields it decides: the set every send policy must allow."""
        return {"configuration_set_arn": self.configuration_set_arn}


class DomainOptions(TypedDict):
    """The `SendingDomainArgs` fields the stack's deliverability decides."""

    configuration_set_name: Optional[pulumi.Input[str]]
    report_records: tuple[DnsRecord, ...]
    verify_minutes: Optional[int]


class SenderOptions(TypedDict):
    """The `SmtpSenderArgs` field the stack's deliverability decides."""

    configuration_set_arn: Optional[pulumi.Input[str]]
