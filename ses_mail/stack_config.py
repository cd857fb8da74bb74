"""Stack configuration (`ses-mail:*`, `aws:region`), read and checked with clean errors."""
from __future__ import annotations

import json
from pathlib import Path

import pulumi

from ses_mail.roster.identifiers import is_aws_region

from ses_mail.project import DEFAULT_ROSTER


def ses_region() -> str:
    """`ses-mail:region`, else `aws:region`: the region SES identities and SMTP live in."""
    region = pulumi.Config().get("region") or pulumi.Config("aws").get("region")
    if not region:
        raise pulumi.RunError("no SES region: set `pulumi config set aws:region <region>` "
                              "(or `ses-mail:region` to send from another region than the provider's)")
    if not is_aws_region(region):
        raise pulumi.RunError(f"stack config region {region!r} is not an AWS region code such as eu-west-1")
    return region


def roster_path() -> Path:
    # Relative to the working directory: `pulumi up` runs the program in the project directory.
    return Path(pulumi.Config().get("roster") or DEFAULT_ROSTER)


def config_value(key: str, normalize, default=None):
    value = pulumi.Config().get(key)
    if value is None or not value.strip():
        return default
    try:
        return normalize(value)
    except ValueError as err:
        raise pulumi.RunError(f"stack config ses-mail:{key} {value.strip()!r} {err}") from None


def parse_list(raw: str | None) -> list[str]:
    """A list in stack config: a YAML/JSON list, or words separated by commas or spaces."""
    if not raw or not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        items = raw.replace(",", " ").split()
    if not isinstance(items, list):
        items = [items]
    return [str(item) for item in items]


def config_list(key: str, normalize) -> tuple[str, ...]:
    """A list in stack config (`parse_list`), each item normalized."""
    out = []
    for item in parse_list(pulumi.Config().get(key)):
        try:
            out.append(normalize(str(item)))
        except ValueError as err:
            raise pulumi.RunError(f"stack config ses-mail:{key}: {item!r} {err}") from None
    return tuple(out)


def alarm_thresholds() -> dict[str, float]:
    """`ses-mail:bounceRateAlarm` / `ses-mail:complaintRateAlarm` (`2%` or `0.02`), else the defaults."""
    from ses_mail.specs import deliverability as spec

    return {
        "bounce_alarm": config_value("bounceRateAlarm", lambda v: spec.parse_rate(v, pause_level=spec.BOUNCE_PAUSE),
                                     spec.DEFAULT_BOUNCE_ALARM),
        "complaint_alarm": config_value("complaintRateAlarm",
                                        lambda v: spec.parse_rate(v, pause_level=spec.COMPLAINT_PAUSE),
                                        spec.DEFAULT_COMPLAINT_ALARM),
    }
