"""`ses-mail prove --feedback`: the feedback loop, proven on the account. The only part of
`prove` that writes.

What it creates, and deletes again before it returns (also on failure, Ctrl-C or SIGTERM):
- one SQS queue `ses-mail-prove-<random>`, whose queue policy lets only the stack's feedback topic
  send to it;
- one SNS subscription of that queue to the stack's feedback topic
  (`<configuration set>-feedback`, ses_mail/specs/deliverability.py).

Then it sends as one person to bounce@ and complaint@simulator.amazonses.com, waits (at most
`timeout` seconds) for SES's Bounce and Complaint events on the queue, and checks that each
names the person's SMTP user (`iam_user_name`) in the auto-tag `ses:caller-identity`
(SES Developer Guide, "Contents of event data that Amazon SES publishes to Amazon SNS": event
publishing through a configuration set puts the message's tags, SES's auto-tags included, in
`mail.tags`).

API calls: sts:GetCallerIdentity, sns:GetTopicAttributes, sns:Subscribe, sns:Unsubscribe,
sqs:CreateQueue, sqs:GetQueueAttributes, sqs:SetQueueAttributes, sqs:ReceiveMessage,
sqs:DeleteMessage, sqs:DeleteQueue.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from ses_mail.live.prove import (BOUNCE, COMPLAINT, Credential, Envelope, Sender, classify, ACCEPTED,
                                 new_token)
from ses_mail.specs.deliverability import topic_name
from ses_mail.specs.naming import iam_user_name

QUEUE_PREFIX = "ses-mail-prove-"
CALLER_IDENTITY = "ses:caller-identity"
#: simulator address: (eventType, what SES's event names the recipient under)
EXPECTED_EVENTS = {BOUNCE: "Bounce", COMPLAINT: "Complaint"}
DEFAULT_TIMEOUT = 300.0


class FeedbackSetupError(Exception):
    """The stack's feedback topic cannot be found or used: exit 2."""


@dataclass
class FeedbackResult:
    person: str
    iam_user: str
    topic_arn: str
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    #: simulator address: {"send": reply, "event": eventType or None, "caller_identity": [...], "holds": bool}
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return bool(self.checks) and all(c["holds"] for c in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {"person": self.person, "iam_user": self.iam_user, "topic_arn": self.topic_arn,
                "created": self.created, "deleted": self.deleted, "checks": self.checks, "holds": self.holds}


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM (a CI runner cancelling the job) unwinds like Ctrl-C, so the cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def topic_arn_of(sts: Any, sns: Any, region: str, configuration_set: str) -> str:
    identity = sts.get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    arn = f"arn:{partition}:sns:{region}:{identity['Account']}:{topic_name(configuration_set)}"
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except Exception as err:  # noqa: BLE001 - botocore's NotFound has no stable class across clients
        raise FeedbackSetupError(f"the stack's feedback topic {arn} cannot be read: {err}") from None
    return arn


def prove_feedback(*, credential: Credential, display_name: Optional[str], region: str, configuration_set: str,
                   sts: Any, sns: Any, sqs: Any, send: Sender, timeout: float = DEFAULT_TIMEOUT,
                   poll_seconds: int = 10, clock: Callable[[], float] = time.monotonic) -> FeedbackResult:
    """Subscribe a temporary queue, send to the bounce and complaint simulators, check the events."""
    topic = topic_arn_of(sts, sns, region, configuration_set)
    result = FeedbackResult(credential.address, iam_user_name(credential.address), topic)
    queue_url: Optional[str] = None
    subscription: Optional[str] = None
    with interrupts_as_keyboard_interrupt():
        try:
            queue_url = sqs.create_queue(QueueName=QUEUE_PREFIX + new_token(),
                                         Attributes={"MessageRetentionPeriod": "3600"})["QueueUrl"]
            result.created.append(queue_url)
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(_queue_policy(queue_arn, topic))})
            subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                                         ReturnSubscriptionArn=True)["SubscriptionArn"]
            result.created.append(subscription)
            for target in EXPECTED_EVENTS:
                envelope = Envelope(credential.address, credential.address, display_name,
                                    encode_display_name=display_name is not None, recipients=(target,))
                code, text = send(credential, envelope, f"ses-mail prove feedback as {credential.address}")
                result.checks[target] = {"send": f"{code} {text}".strip(), "event": None, "caller_identity": [],
                                         "holds": False, "expected": f"{EXPECTED_EVENTS[target]} event naming "
                                                                     f"{result.iam_user}"}
                if classify(code, text) != ACCEPTED:
                    result.checks[target]["observed"] = f"send {classify(code, text)}"
            pending = {t for t, c in result.checks.items() if "observed" not in c}
            deadline = clock() + timeout
            while pending and clock() < deadline:
                wait = max(0, min(poll_seconds, int(deadline - clock())))
                for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=wait).get("Messages", []):
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    event = _event(message["Body"])
                    if event is None:
                        continue
                    for target in list(pending):
                        if target in (event.get("mail", {}).get("destination") or []):
                            names = list((event["mail"].get("tags") or {}).get(CALLER_IDENTITY) or [])
                            check = result.checks[target]
                            check.update(event=event.get("eventType") or event.get("notificationType"),
                                         caller_identity=names)
                            check["holds"] = (check["event"] == EXPECTED_EVENTS[target] and result.iam_user in names)
                            check["observed"] = (f"{check['event']} event, {CALLER_IDENTITY}="
                                                 f"{','.join(names) or 'missing'}")
                            pending.discard(target)
            for target in pending:
                result.checks[target]["observed"] = f"no event within {timeout:g}s"
        finally:
            # Each step on its own: a failed unsubscribe must not keep the queue alive.
            if subscription is not None:
                try:
                    sns.unsubscribe(SubscriptionArn=subscription)
                    result.deleted.append(subscription)
                except Exception:  # noqa: BLE001 - reported below as left behind
                    pass
            if queue_url is not None:
                try:
                    sqs.delete_queue(QueueUrl=queue_url)
                    result.deleted.append(queue_url)
                except Exception:  # noqa: BLE001
                    pass
            for resource in result.created:
                if resource not in result.deleted:
                    # Also when interrupted: whoever runs it must know what to delete by hand.
                    print(f"warning: could not delete {resource}: delete it by hand", file=sys.stderr)
    left = [r for r in result.created if r not in result.deleted]
    if left:
        raise FeedbackSetupError("could not delete what the feedback check created: " + ", ".join(left))
    return result


def _queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheFeedbackTopic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}


def _event(body: str) -> Optional[dict[str, Any]]:
    """The SES event inside an SNS notification (or a raw one)."""
    try:
        outer = json.loads(body)
        inner = json.loads(outer["Message"]) if isinstance(outer, dict) and "Message" in outer else outer
    except (ValueError, TypeError):
        return None
    return inner if isinstance(inner, dict) and "mail" in inner else None
