"""The stack's deliverability resources: configuration set, feedback topic, event destinations,
reputation alarms and (optionally) the account-level suppression list.

A thin shell over `ses_mail.specs.deliverability`: every value comes from there. The program
creates this before the domains and senders, and hands each of them what it needs through
`domain_options` and `sender_options`.
"""
from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from ses_mail.roster import Domain, Roster
from ses_mail.specs import deliverability as spec


class Deliverability(pulumi.ComponentResource):
    """`configuration_set_name`/`configuration_set_arn` are None when the roster turns the set off."""

    configuration_set_name: Optional[pulumi.Output[str]]
    configuration_set_arn: Optional[pulumi.Output[str]]
    topic: aws.sns.Topic
    summary: pulumi.Output[dict]

    def __init__(self, roster: Roster, *, stack: str, region: str,
                 bounce_alarm: float = spec.DEFAULT_BOUNCE_ALARM,
                 complaint_alarm: float = spec.DEFAULT_COMPLAINT_ALARM,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        name = spec.configuration_set_name(stack)
        super().__init__("ses-mail:index:Deliverability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = roster.deliverability
        self._roster = roster
        self._report_records = spec.report_records_by_domain(roster.domains)

        self.configuration_set_name = None
        self.configuration_set_arn = None
        if settings.configuration_set:
            configuration_set = aws.sesv2.ConfigurationSet(
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

        alarms = spec.reputation_alarms(name, bounce_alarm, complaint_alarm)
        alarm_resources = [
            aws.cloudwatch.MetricAlarm(
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
        ]

        set_arn = self.configuration_set_arn if self.configuration_set_arn is not None else pulumi.Output.from_input(None)
        aws.sns.TopicPolicy(
            f"{name}-feedback-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, set_arn, *[a.arn for a in alarm_resources]).apply(
                lambda v: json.dumps(spec.topic_policy(v[0], v[0].split(":")[4], v[1], v[2:]), sort_keys=True)),
            region=region,
            opts=child,
        )

        if self.configuration_set_name is not None:
            for destination, definition in (
                    (spec.SNS_DESTINATION, self.topic.arn.apply(spec.sns_event_destination)),
                    (spec.CLOUDWATCH_DESTINATION, spec.cloudwatch_event_destination())):
                aws.sesv2.ConfigurationSetEventDestination(
                    f"{name}-events-{destination}",
                    configuration_set_name=self.configuration_set_name,
                    event_destination_name=destination,
                    # A plain dict with the ArgsDict's keys: the specs import no SDK types.
                    event_destination=definition,  # type: ignore[arg-type]
                    region=region,
                    opts=child,
                )

        subscribers = [spec.subscriber(s) for s in settings.notify]
        for sub in subscribers:
            aws.sns.TopicSubscription(
                f"{name}-notify-{sub.endpoint}",
                topic=self.topic.arn,
                protocol=sub.protocol,
                endpoint=sub.endpoint,
                region=region,
                opts=child,
            )

        if settings.account_suppression:
            aws.sesv2.AccountSuppressionAttributes(
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

    def domain_options(self, domain: Domain) -> dict[str, Any]:
        """SendingDomain keyword arguments: default set, records for other domains, waiting."""
        return {
            "configuration_set_name": self.configuration_set_name,
            "report_records": tuple(self._report_records.get(domain.name, ())),
            "verify_minutes": spec.verification_minutes(domain.wait_for_verification,
                                                        self._roster.deliverability.wait_for_verification),
        }

    def sender_options(self) -> dict[str, Any]:
        """SmtpSender keyword arguments: the set every send policy must allow."""
        return {"configuration_set_arn": self.configuration_set_arn}

