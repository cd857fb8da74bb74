"""The one stack-settings object (ses_mail/stack_settings.py): every `ses-mail:` key with its
default, normalisation and error, read the same way by the program, the component and the CLI."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from ses_mail.live.target import TargetError, resolve_target
from ses_mail.stack_settings import (KEYS, SettingsError, StackSettings, default_configuration_set_name,
                                     from_args, from_config)
from tests.conftest import PROJECT_DIR

ACCOUNT = "123456789012"


def test_pulumi_yaml_declares_exactly_the_settings_keys_in_order():
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    assert list(declared) == [key.config for key in KEYS]
    # The declared defaults mean what the settings object defaults to.
    assert from_config({k.qualified: str(v["default"]) for k, v in zip(KEYS, declared.values(), strict=True)}) == StackSettings()


def test_defaults():
    settings = from_config({})
    assert settings == StackSettings(roster="config/roster.yaml", region=None, iam_path="/ses-smtp/",
                                     permissions_boundary=None, rotation_permissions_boundary=None,
                                     secrets_kms_key=None, secret_admins=(),
                                     bounce_rate_alarm=0.02, complaint_rate_alarm=0.0005)
    assert settings.configuration_set_name is None


def test_the_boundaries_default_to_the_conventional_ones_and_none_opts_out():
    """Unset: the account's `/ses-mail-boundary/` policies, in the caller's partition; `none` (any
    case): no boundary; an ARN: that one. The component arguments read the same way."""
    default = from_config({})
    assert default.smtp_boundary(ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:policy/ses-mail-boundary/ses-smtp-boundary"
    assert default.rotation_boundary(ACCOUNT, "aws-cn") == (
        f"arn:aws-cn:iam::{ACCOUNT}:policy/ses-mail-boundary/ses-mail-rotation-boundary")
    off = from_config({"ses-mail:permissionsBoundary": " None ", "ses-mail:rotationPermissionsBoundary": "none"})
    assert (off.permissions_boundary, off.smtp_boundary(ACCOUNT), off.rotation_boundary(ACCOUNT)) == ("none", None, None)
    assert from_args("mail", off.as_args(), stack="dev").smtp_boundary(ACCOUNT) is None
    own = from_config({"ses-mail:permissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/mine"})
    assert own.smtp_boundary(ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:policy/mine"
    assert own.rotation_boundary(ACCOUNT).endswith(":policy/ses-mail-boundary/ses-mail-rotation-boundary")
    with pytest.raises(SettingsError, match=r"ses-mail:rotationPermissionsBoundary 'off' is not a managed policy ARN"
                                            r" \(such as .*\) or `none`"):
        from_config({"ses-mail:rotationPermissionsBoundary": "off"})


def test_values_are_normalised():
    settings = from_config({
        "ses-mail:roster": " rosters/prod.yaml ", "aws:region": "eu-west-1", "ses-mail:iamPath": "/mail/",
        "ses-mail:secretAdmins": f'["arn:aws:iam::{ACCOUNT}:role/deploy"]',
        "ses-mail:bounceRateAlarm": "3%", "ses-mail:complaintRateAlarm": "0.0008",
    }, stack="prod")
    assert settings.roster == "rosters/prod.yaml" and settings.region == "eu-west-1"
    assert settings.secret_admins == (f"arn:aws:iam::{ACCOUNT}:role/deploy",)
    assert (settings.bounce_rate_alarm, settings.complaint_rate_alarm) == (0.03, 0.0008)
    # ses-mail:region wins over aws:region.
    assert from_config({"aws:region": "eu-west-1", "ses-mail:region": "us-east-1"}).region == "us-east-1"


def test_every_bad_key_is_named_with_its_value_and_the_stack_file():
    with pytest.raises(SettingsError) as caught:
        from_config({"ses-mail:iamPath": "x", "aws:region": "tokyo", "ses-mail:secretAdmins": "root",
                     "ses-mail:bounceRateAlarm": "12%"}, source="Pulumi.prod.yaml")
    expected = [
        "Pulumi.prod.yaml: stack config ses-mail:iamPath 'x' is not an IAM path: it starts and ends with / ",
        "Pulumi.prod.yaml: stack config ses-mail:secretAdmins: 'root' is not an IAM role or user ARN",
        "Pulumi.prod.yaml: stack config ses-mail:bounceRateAlarm '12%' must be above 0 and below AWS's pause level "
        "10.0% (write a percentage with %, e.g. 2%, or a fraction, e.g. 0.02)",
        "Pulumi.prod.yaml: stack config aws:region 'tokyo' is not an AWS region code such as eu-west-1",
    ]
    assert len(caught.value.problems) == len(expected)
    for problem, start in zip(caught.value.problems, expected, strict=True):
        assert problem.startswith(start), problem


def test_the_configuration_set_name_is_an_explicit_setting_with_the_names_of_before():
    """The program's component keeps `ses-mail-<stack>`; another component's name is added."""
    assert from_config({}, stack="dev").configuration_set_name == "ses-mail-dev"
    assert default_configuration_set_name("dev", "mail") == "ses-mail-dev-mail"
    assert from_args("mail", {"roster": "r.yaml"}, stack="dev").configuration_set_name == "ses-mail-dev-mail"
    assert from_args("ses-mail", {"roster": "r.yaml"}, stack="dev").configuration_set_name == "ses-mail-dev"


def test_the_component_arguments_and_the_stack_config_give_the_same_settings():
    config = {"ses-mail:roster": "r.yaml", "ses-mail:region": "eu-west-1", "ses-mail:iamPath": "/m/",
              "ses-mail:permissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/b",
              "ses-mail:rotationPermissionsBoundary": "none",
              "ses-mail:secretsKmsKey": "alias/mail", "ses-mail:secretAdmins": f"arn:aws:iam::{ACCOUNT}:role/a",
              "ses-mail:bounceRateAlarm": "2.5%", "ses-mail:complaintRateAlarm": "0.0007"}
    settings = from_config(config, stack="dev")
    assert from_args("ses-mail", settings.as_args(), stack="dev") == settings


def test_bad_component_arguments_are_all_named():
    with pytest.raises(SettingsError) as caught:
        from_args("mail", {"roster": "", "region": "mars", "secret_admins": "arn:x", "colour": 1}, stack="dev")
    assert caught.value.problems == [
        "colour: unknown argument (expected one of bounce_rate_alarm, complaint_rate_alarm, iam_path, "
        "permissions_boundary, region, roster, rotation_permissions_boundary, secret_admins, secrets_kms_key)",
        "region: 'mars' is not an AWS region code such as eu-west-1",
        "secret_admins: 'arn:x' is not a list of IAM role or user ARNs",
        "roster: required (the path of a roster file)",
    ]
    assert str(caught.value).startswith("SesMail mail: invalid arguments:\n  - colour:")


def _project(tmp_path, stack_config: str):
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    (tmp_path / "roster.yaml").write_text("domains:\n  - name: example.com\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n"
                                              + stack_config)


def test_doctor_and_audit_refuse_a_stack_config_the_program_refuses(tmp_path):
    """Before, doctor and audit read secretAdmins and secretsKmsKey not at all, and ignored a bad region."""
    _project(tmp_path, "  ses-mail:secretsKmsKey: not a key\n")
    with pytest.raises(TargetError, match=r"Pulumi.dev.yaml: stack config ses-mail:secretsKmsKey 'not a key'"):
        resolve_target(stack="dev", roster=None, region=None, project_dir=str(tmp_path))


def test_validate_refuses_a_stack_config_the_program_refuses(tmp_path):
    """Before, validate ignored a stack's bad region and passed a stack `pulumi up` refuses."""
    _project(tmp_path, "  ses-mail:region: tokyo\n")
    done = subprocess.run([sys.executable, "-m", "ses_mail", "validate"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Pulumi.dev.yaml: stack config ses-mail:region 'tokyo' is not an AWS region code" in done.stderr
