"""The whole stack: the stack's config becomes one `SesMail` component, whose outputs the stack exports.

A thin shell: the stack config is read here and parsed by ses_mail.stack_settings (the same code
`validate`, `doctor`, `audit` and `adopt` use); the component validates the roster and everything
else before the first resource is registered, so a bad roster never leaves a half-applied stack.
"""
from __future__ import annotations

from typing import Any

import pulumi

from ses_mail.components.ses_mail import SesMail, SesMailArgs
from ses_mail.stack_settings import AWS_REGION, DEFAULT_NAME, KEYS, SettingsError, StackSettings, from_config

#: The component's name in this program's stacks (its children are named by domain and address).
COMPONENT_NAME = DEFAULT_NAME


def read_config() -> dict[str, str]:
    """Every key the program reads, as `from_config` takes them (unset keys left out)."""
    config: dict[str, str] = {}
    for key in KEYS:
        value = pulumi.Config().get(key.config)
        if value is not None:
            config[key.qualified] = value
    namespace, name = AWS_REGION.split(":")
    region = pulumi.Config(namespace).get(name)
    if region is not None:
        config[AWS_REGION] = region
    return config


def settings_from_config() -> StackSettings:
    """The stack's settings; a pulumi.RunError names each bad key."""
    try:
        settings = from_config(read_config(), stack=pulumi.get_stack(), component=COMPONENT_NAME)
    except SettingsError as err:
        raise pulumi.RunError(str(err)) from None
    if settings.region is None:
        raise pulumi.RunError("no SES region: set `pulumi config set aws:region <region>` "
                              "(or `ses-mail:region` to send from another region than the provider's)")
    return settings


def args_from_config() -> SesMailArgs:
    """`SesMailArgs` from the stack config; a pulumi.RunError names a bad `ses-mail:` key."""
    args: Any = settings_from_config().as_args()
    return args


def build() -> SesMail:
    mail = SesMail(COMPONENT_NAME, args_from_config())
    pulumi.export("smtp_credentials", mail.smtp_credentials)
    pulumi.export("senders", mail.senders)
    # Plain facts, no secrets: who is suspended, how credentials are delivered, which key is current.
    pulumi.export("credential_status", mail.credential_status)
    pulumi.export("identities", mail.identities)
    pulumi.export("dns_records", mail.dns_records)
    pulumi.export("deliverability", mail.deliverability_summary)
    pulumi.export("verification", mail.verification)
    return mail


if __name__ == "__main__":
    build()
