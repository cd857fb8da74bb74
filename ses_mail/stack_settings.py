"""The stack's settings: every `ses-mail:*` key (and `aws:region`), parsed once, with no Pulumi import.

One table, `KEYS`, says for each key of `Pulumi.yaml`'s `config:` what it is called as a stack
config key and as a `SesMail` argument, how its value is read and normalised, and its default.
Two front ends read through it:

- `from_config(mapping)`: the stack config as the Pulumi CLI hands it over (every value a string,
  keys namespaced: `ses-mail:iamPath`). The program, `validate`, `doctor`, `audit` and `adopt`.
- `from_args(name, args)`: `SesMailArgs` of the component (typed values: a list of ARNs, a float).

Both give a `StackSettings`, or raise a `SettingsError` naming every bad key with its value.
Adding a stack setting: one `Key` in `KEYS`, one field of `StackSettings`, its declaration in
Pulumi.yaml and its `SesMailArgs` field (docs/architecture.md, "Adding a stack setting").
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Optional

from ses_mail.project import DEFAULT_ROSTER, NAMESPACE
from ses_mail.roster.identifiers import is_aws_region
from ses_mail.roster.restrictions import (normalize_iam_path, normalize_kms_key, normalize_policy_arn,
                                          normalize_principal_arn)
from ses_mail.specs import boundary as boundaries
from ses_mail.specs import deliverability as spec
from ses_mail.specs.naming import IAM_USER_PATH

#: The name the program gives its one component; its configuration set is `ses-mail-<stack>`.
DEFAULT_NAME = "ses-mail"
#: The AWS provider's region key, the SES region unless `ses-mail:region` says otherwise.
AWS_REGION = "aws:region"


class SettingsError(ValueError):
    """Bad stack settings: `problems` holds one line per bad key (`stack config ses-mail:k 'v' why`)."""

    def __init__(self, problems: list[str], heading: str = "") -> None:
        self.problems = problems
        text = "\n".join(problems) if not heading else heading + "\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(text)


def parse_list(raw: Optional[str]) -> list[str]:
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


def _region(value: str) -> str:
    if not is_aws_region(value):
        raise ValueError("is not an AWS region code such as eu-west-1")
    return value


def _boundary(value: str) -> str:
    """A managed policy ARN, or `none` (no boundary); unset is the conventional one (specs.boundary)."""
    if boundaries.is_opt_out(value):
        return boundaries.NO_BOUNDARY
    try:
        return normalize_policy_arn(value)
    except ValueError:
        raise ValueError(f"is not a managed policy ARN (such as arn:aws:iam::123456789012:policy"
                         f"{boundaries.BOUNDARY_PATH}{boundaries.SMTP_BOUNDARY}) or `{boundaries.NO_BOUNDARY}`") from None


def _rate(pause: float) -> Callable[[str], float]:
    return lambda value: spec.parse_rate(str(value), pause_level=pause)


@dataclass(frozen=True)
class Key:
    """One stack setting: `ses-mail:<config>` in a stack file, `<arg>` of `SesMailArgs`."""

    config: str
    arg: str
    #: Text (an item of the list, for list keys) to its normalised value, or ValueError saying why.
    parse: Callable[[str], Any]
    default: Any = None
    is_list: bool = False

    @property
    def qualified(self) -> str:
        return f"{NAMESPACE}:{self.config}"


#: Every `ses-mail:` key, in Pulumi.yaml's order (tests/test_project_config.py checks the two agree).
KEYS: tuple[Key, ...] = (
    Key("roster", "roster", str.strip, DEFAULT_ROSTER),
    Key("region", "region", _region),
    Key("iamPath", "iam_path", normalize_iam_path, IAM_USER_PATH),
    Key("permissionsBoundary", "permissions_boundary", _boundary),
    Key("rotationPermissionsBoundary", "rotation_permissions_boundary", _boundary),
    Key("secretsKmsKey", "secrets_kms_key", normalize_kms_key),
    Key("secretAdmins", "secret_admins", normalize_principal_arn, (), is_list=True),
    Key("bounceRateAlarm", "bounce_rate_alarm", _rate(spec.BOUNCE_PAUSE), spec.DEFAULT_BOUNCE_ALARM),
    Key("complaintRateAlarm", "complaint_rate_alarm", _rate(spec.COMPLAINT_PAUSE), spec.DEFAULT_COMPLAINT_ALARM),
)


def default_configuration_set_name(stack: str, component: str = DEFAULT_NAME) -> str:
    """`ses-mail-<stack>` for the program's own component; another component's name is added, so
    two `SesMail` components in one stack never share a set."""
    return spec.configuration_set_name(configuration_set_key(stack, component))


def configuration_set_key(stack: str, component: str = DEFAULT_NAME) -> str:
    """What the set (and its `ses-mail:stack` tags) are named after."""
    return stack if component == DEFAULT_NAME else f"{stack}-{component}"


@dataclass(frozen=True)
class StackSettings:
    """The settings one stack (or one `SesMail` component) builds from, checked and normalised."""

    roster: str = DEFAULT_ROSTER
    #: `ses-mail:region`, else `aws:region`; None when neither is set (the provider's region then).
    region: Optional[str] = None
    iam_path: str = IAM_USER_PATH
    #: The SMTP users' boundary: None (unset) is the account's conventional `ses-smtp-boundary`,
    #: `none` is no boundary, else a policy ARN; `smtp_boundary()` resolves it.
    permissions_boundary: Optional[str] = None
    #: The rotation function's role's boundary, the same way (`ses-mail-rotation-boundary`).
    rotation_permissions_boundary: Optional[str] = None
    secrets_kms_key: Optional[str] = None
    secret_admins: tuple[str, ...] = ()
    bounce_rate_alarm: float = spec.DEFAULT_BOUNCE_ALARM
    complaint_rate_alarm: float = spec.DEFAULT_COMPLAINT_ALARM
    #: The stack's configuration set (and tag value) key: `configuration_set_key(stack, component)`;
    #: None when the stack is not known (a roster file checked alone).
    configuration_set_key: Optional[str] = field(default=None)

    @property
    def configuration_set_name(self) -> Optional[str]:
        """The stack's SES configuration set name (when the roster does not turn it off)."""
        return None if self.configuration_set_key is None else spec.configuration_set_name(self.configuration_set_key)

    def smtp_boundary(self, account_id: str, partition: str = "aws") -> Optional[str]:
        """The SMTP users' boundary ARN in this account, or None when the stack says `none`."""
        return boundaries.resolve_boundary(self.permissions_boundary, account_id, partition, boundaries.SMTP_BOUNDARY)

    def rotation_boundary(self, account_id: str, partition: str = "aws") -> Optional[str]:
        """The rotation role's boundary ARN in this account, or None when the stack says `none`."""
        return boundaries.resolve_boundary(self.rotation_permissions_boundary, account_id, partition,
                                           boundaries.ROTATION_BOUNDARY)

    def as_args(self) -> dict[str, Any]:
        """The `SesMailArgs` giving these settings (defaults left out, as a user would write them)."""
        args: dict[str, Any] = {}
        for key in KEYS:
            value = getattr(self, key.arg)
            if key.arg in ("roster", "bounce_rate_alarm", "complaint_rate_alarm") or value not in (None, ()):
                args[key.arg] = list(value) if key.is_list else value
        return args


assert {k.arg for k in KEYS} == {f.name for f in fields(StackSettings)} - {"configuration_set_key"}


def _from(values: Mapping[str, Any], problem: Callable[[Key, Any, str], None], *, typed: bool) -> dict[str, Any]:
    """Each key's value from `values` (by config key or argument name), parsed; problems reported."""
    out: dict[str, Any] = {}
    for key in KEYS:
        raw = values.get(key.arg if typed else key.qualified)
        if key.is_list:
            if typed:
                if raw is None:
                    raw = []
                if isinstance(raw, str) or not isinstance(raw, (list, tuple)):
                    problem(key, raw, "is not a list of IAM role or user ARNs")
                    continue
                items = list(raw)
            else:
                items = parse_list(raw)
            parsed = []
            for item in items:
                try:
                    parsed.append(key.parse(item if typed else str(item)))
                except ValueError as err:
                    problem(key, item, str(err))
            out[key.arg] = tuple(parsed)
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        numeric = isinstance(key.default, float) and isinstance(raw, (int, float))
        if typed and not isinstance(raw, str) and not numeric:
            problem(key, raw, "is not a plain string (Outputs are not accepted: the roster is validated "
                              "before anything is registered)")
            continue
        try:
            out[key.arg] = key.parse(raw.strip() if isinstance(raw, str) else str(raw))
        except ValueError as err:
            problem(key, raw.strip() if isinstance(raw, str) else raw, str(err))
    return out


def from_config(config: Mapping[str, str], *, stack: Optional[str] = None, component: str = DEFAULT_NAME,
                source: str = "") -> StackSettings:
    """Stack settings from stack config as the Pulumi CLI passes it (`ses-mail:iamPath` -> text).

    `stack`: the stack's name (names the configuration set); `source`: the stack file, named in errors.
    """
    problems: list[str] = []
    prefix = f"{source}: " if source else ""

    def problem(key: Key, value: Any, why: str) -> None:
        sep = ":" if key.is_list else ""
        problems.append(f"{prefix}stack config {key.qualified}{sep} {value!r} {why}")

    values = _from(config, problem, typed=False)
    if "region" not in values:
        raw = (config.get(AWS_REGION) or "").strip()
        if raw:
            if is_aws_region(raw):
                values["region"] = raw
            else:
                problems.append(f"{prefix}stack config {AWS_REGION} {raw!r} is not an AWS region code such as eu-west-1")
    if problems:
        raise SettingsError(problems)
    return StackSettings(**values, configuration_set_key=None if stack is None else configuration_set_key(stack, component))


def arg_names() -> list[str]:
    return [key.arg for key in KEYS]


def from_args(name: str, args: Mapping[str, Any], *, stack: str) -> StackSettings:
    """Stack settings from `SesMailArgs`; a SettingsError naming every bad or unknown argument."""
    problems: list[str] = []
    known = set(arg_names())
    for extra in sorted(set(args) - known):
        problems.append(f"{extra}: unknown argument (expected one of {', '.join(sorted(known))})")

    def problem(key: Key, value: Any, why: str) -> None:
        problems.append(f"{key.arg}: {value!r} {why}")

    values = _from(args, problem, typed=True)
    if "roster" not in values and not any(p.startswith("roster:") for p in problems):
        problems.append("roster: required (the path of a roster file)")
    if problems:
        raise SettingsError(problems, heading=f"SesMail {name}: invalid arguments:")
    return StackSettings(**values, configuration_set_key=configuration_set_key(stack, name))
