"""What a live command checks: the roster, the SES region and the stack settings that matter.

`--stack S` reads `Pulumi.<S>.yaml` of the project (roster, `ses-mail:region` or `aws:region`,
`iamPath`, `permissionsBoundary`, `rotationPermissionsBoundary`, `bounceRateAlarm`, `complaintRateAlarm`, read by
ses_mail.stack_settings as the program reads them); `--roster FILE` takes
a roster alone, with the defaults. `--region` wins over both; without any, the standard AWS
configuration's region (AWS_REGION, the profile) is used.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ses_mail.project import ProjectError, find_project
from ses_mail.roster import Roster, RosterError, load_roster
from ses_mail.roster.identifiers import is_aws_region
from ses_mail.specs.deliverability import DEFAULT_BOUNCE_ALARM, DEFAULT_COMPLAINT_ALARM
from ses_mail.specs.naming import IAM_USER_PATH
from ses_mail.stack_settings import SettingsError, from_config

DEFAULT_STACK = "dev"


class TargetError(Exception):
    """Bad usage or input: the command exits 2 with this message."""


@dataclass(frozen=True)
class Target:
    roster: Roster
    roster_path: Path
    region: str
    stack: Optional[str] = None
    iam_path: str = IAM_USER_PATH
    #: The stack's boundary settings as written (None: the account's conventional one; `none`: off).
    permissions_boundary: Optional[str] = None
    rotation_permissions_boundary: Optional[str] = None
    bounce_alarm: float = DEFAULT_BOUNCE_ALARM
    complaint_alarm: float = DEFAULT_COMPLAINT_ALARM
    configuration_set: Optional[str] = None


def resolve_target(*, stack: Optional[str], roster: Optional[str], region: Optional[str],
                   project_dir: Optional[str] = None, configuration_set: Optional[str] = None) -> Target:
    """`configuration_set`: with a roster file alone, the name of the stack's configuration set
    (a stack names its own)."""
    if stack and roster:
        raise TargetError("give --stack or --roster, not both")
    if configuration_set is not None:
        _check_configuration_set(configuration_set, roster)
    config: dict[str, str] = {}
    source = ""
    if roster:
        path = Path(roster)
    else:
        stack = stack or DEFAULT_STACK
        try:
            project = find_project(project_dir)
        except ProjectError as err:
            raise TargetError(f"{err} (or give --roster FILE)") from None
        if not project.stack_file(stack).exists():
            raise TargetError(f"no stack {stack!r}: {project.stack_file(stack)} does not exist")
        try:
            config = project.stack_config(stack)
        except ProjectError as err:
            raise TargetError(str(err)) from None
        source = str(project.stack_file(stack))
        path = project.roster_of(config)
    try:
        settings = from_config(config, stack=None if roster else stack, source=source)
    except SettingsError as err:
        raise TargetError(str(err)) from None
    try:
        loaded = load_roster(path)
    except FileNotFoundError:
        raise TargetError(f"roster {path} does not exist") from None
    except RosterError as err:
        raise TargetError(str(err)) from None
    region = (region or settings.region
              or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _profile_region())
    if not region:
        raise TargetError("no region: give --region (or set ses-mail:region in the stack, or AWS_REGION)")
    if not is_aws_region(region):
        raise TargetError(f"{region!r} is not an AWS region code such as eu-west-1")
    if loaded.reports is not None:
        # As the stack publishes them: every domain's rua includes the reports address.
        from ses_mail.specs.report_receiving import with_reports
        loaded = loaded.model_copy(update={"domains": tuple(with_reports(loaded.domains, loaded.reports.address))})
    return Target(
        roster=loaded, roster_path=path, region=region, stack=None if roster else stack,
        iam_path=settings.iam_path,
        permissions_boundary=settings.permissions_boundary,
        rotation_permissions_boundary=settings.rotation_permissions_boundary,
        bounce_alarm=settings.bounce_rate_alarm,
        complaint_alarm=settings.complaint_rate_alarm,
        # The set the program makes the identities' default and allows in every send policy;
        # with a roster file alone the stack, and so the set's name, is not known.
        configuration_set=((configuration_set or settings.configuration_set_name)
                           if loaded.deliverability.configuration_set else None),
    )


def _check_configuration_set(name: str, roster: Optional[str]) -> None:
    from ses_mail.specs.limits import SES_CONFIGURATION_SET_NAME, SES_CONFIGURATION_SET_NAME_RE

    if not roster:
        raise TargetError("--configuration-set goes with --roster: a stack names its own configuration set")
    if not SES_CONFIGURATION_SET_NAME_RE.fullmatch(name) or len(name) > SES_CONFIGURATION_SET_NAME.maximum:
        raise TargetError(f"--configuration-set {name!r} is not a configuration set name "
                          "(letters, digits, '-' and '_', at most 64; no wildcard)")


def _profile_region() -> Optional[str]:
    try:
        import botocore.session

        return botocore.session.get_session().get_config_variable("region")
    except Exception:  # a broken profile is reported by the first AWS call instead
        return None
