"""Delivery modes: how a person's SMTP credential is handed over. One class per mode.

A mode says what the roster needs for it (a PGP key, secret readers), what `SmtpSender` builds
and exports for it (`credential`), what the plain status output adds (`status`), and how
`ses-mail credentials` shows it (`handover`, `password_row`, `notes`). Adding a mode: one
subclass of `DeliveryMode` decorated with `@register_delivery` (docs/architecture.md).
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

from ses_mail.modes.registry import Registry
from ses_mail.specs.naming import person_resource, secret_description, secret_name, secret_tags
from ses_mail.specs.iam_policy import secret_read_policy
from ses_mail.specs.smtp_password import secret_value

#: Deleting a person's secret deletes it at once: its credential dies with the person's keys
#: anyway, and a recovery window would block re-adding the person under the same name.
SECRET_RECOVERY_DAYS = 0

_REGISTRY: Registry["DeliveryMode"] = Registry("delivery", default="output")


class DeliveryMode:
    """One way of handing a credential over; subclasses set `name` and override what differs."""

    name: ClassVar[str]
    #: The person needs `pgp_key` (and the provider encrypts the key's secret to it).
    uses_pgp_key: ClassVar[bool] = False
    #: The credential lives in a Secrets Manager secret readable by `secret_readers`.
    uses_secret: ClassVar[bool] = False
    #: The exported value is derived by the AWS provider for its own region, so SES must send from it.
    needs_provider_region: ClassVar[bool] = False

    def pgp_key(self, settings: Any) -> Any:
        """The access key's `pgp_key` input."""
        return settings.pgp_key if self.uses_pgp_key else None

    def credential(self, sender: Any, base: dict[str, Any], usable: bool) -> dict[str, Any]:
        """The person's entry of `smtp_credentials` (plain values and Outputs); sets `sender.password`
        (and `sender.secret` where the mode has one). `sender` is the `SmtpSender` being built."""
        raise NotImplementedError

    def status(self, address: str) -> dict[str, Any]:
        """What the person's `credential_status` entry adds (plain values only)."""
        return {}

    def handover(self, cred: dict[str, Any]) -> dict[str, Any]:
        """What `ses-mail credentials` shows, from the credential output; ValueError if it is incomplete."""
        raise NotImplementedError

    def password_row(self, shown: dict[str, Any]) -> str:
        raise NotImplementedError

    def notes(self, shown: dict[str, Any]) -> list[str]:
        return []


def register_delivery(cls: type[DeliveryMode]) -> type[DeliveryMode]:
    return _REGISTRY.register(cls)


def delivery_mode(name: str | None) -> DeliveryMode:
    """The registered mode called `name` (None: the default, `output`)."""
    return _REGISTRY.get(name)


def delivery_modes() -> tuple[str, ...]:
    return _REGISTRY.names()


def modes_where(flag: str) -> list[str]:
    """Names of the modes with a true class flag (for messages: `delivery pgp`)."""
    return [mode.name for mode in _REGISTRY.all() if getattr(mode, flag)]


@register_delivery
class OutputDelivery(DeliveryMode):
    """The password in the stack's secret output `smtp_credentials`."""

    name = "output"

    def credential(self, sender: Any, base: dict[str, Any], usable: bool) -> dict[str, Any]:
        derived = sender.derived_password()
        sender.password = derived if usable else sender.no_password()
        return {**base, "password": sender.password}

    def handover(self, cred: dict[str, Any]) -> dict[str, Any]:
        if not cred.get("password"):
            raise ValueError("has no password in the outputs")
        return {"password": cred["password"]}

    def password_row(self, shown: dict[str, Any]) -> str:
        return shown["password"]


@register_delivery
class PgpDelivery(DeliveryMode):
    """Only what the provider encrypted to the person's PGP key: no plain secret exists anywhere."""

    name = "pgp"
    uses_pgp_key = True
    needs_provider_region = True

    def credential(self, sender: Any, base: dict[str, Any], usable: bool) -> dict[str, Any]:
        sender.password = sender.no_password()
        key = sender.access_key
        credential = {**base, "delivery": self.name, "key_fingerprint": key.key_fingerprint}
        if usable:
            credential["encrypted_password"] = key.encrypted_ses_smtp_password_v4
            credential["encrypted_secret"] = key.encrypted_secret
        return credential

    def handover(self, cred: dict[str, Any]) -> dict[str, Any]:
        return {"encrypted_password": cred["encrypted_password"], "key_fingerprint": cred.get("key_fingerprint")}

    def password_row(self, shown: dict[str, Any]) -> str:
        return "PGP-encrypted, see below"

    def notes(self, shown: dict[str, Any]) -> list[str]:
        return ["Decrypt the password with your PGP key:\n"
                f"    echo '{shown['encrypted_password']}' | base64 --decode | gpg --decrypt"]


@register_delivery
class SecretsManagerDelivery(DeliveryMode):
    """One Secrets Manager secret per person, readable only by `secret_readers` (and the admins)."""

    name = "secrets_manager"
    uses_secret = True

    def credential(self, sender: Any, base: dict[str, Any], usable: bool) -> dict[str, Any]:
        derived = sender.derived_password()
        sender.password = derived if usable else sender.no_password()
        sender.secret = self._secret(sender, derived, usable)
        return {**base, "delivery": self.name, "secret_name": sender.secret.name, "secret_arn": sender.secret.arn}

    def status(self, address: str) -> dict[str, Any]:
        return {"secret_name": secret_name(address)}

    @staticmethod
    def _secret(sender: Any, password: Any, usable: bool) -> Any:
        pulumi, aws = sender.sdk("pulumi"), sender.sdk("pulumi_aws")
        address, region, settings, options = sender.address, sender.region, sender.settings, sender.secrets
        child = pulumi.ResourceOptions(parent=sender)
        secret = aws.secretsmanager.Secret(
            person_resource(address, "secret"),
            name=secret_name(address),
            description=secret_description(address),
            kms_key_id=options.kms_key,
            recovery_window_in_days=SECRET_RECOVERY_DAYS,
            region=region,
            tags=secret_tags(address),
            opts=child,
        )
        policy = aws.secretsmanager.SecretPolicy(
            person_resource(address, "secret-policy"),
            secret_arn=secret.arn,
            policy=json.dumps(secret_read_policy(settings.secret_readers, options.admins), sort_keys=True),
            block_public_policy=True,
            region=region,
            opts=child,
        )
        value = pulumi.Output.all(sender.username, password).apply(lambda args: secret_value(
            address, region, args[0], args[1] if usable else None, status=settings.status, key=settings.key))
        # The value is written only once the policy that keeps everyone else out exists (the
        # value does not refer to the policy, so without depends_on the engine could write it
        # first, and leave it there if the policy then failed).
        aws.secretsmanager.SecretVersion(
            person_resource(address, "secret-value"),
            secret_id=secret.arn,
            secret_string=pulumi.Output.secret(value),
            region=region,
            opts=pulumi.ResourceOptions(parent=sender, depends_on=[policy]),
        )
        return secret

    def handover(self, cred: dict[str, Any]) -> dict[str, Any]:
        return {"secret_name": cred["secret_name"], "secret_arn": cred["secret_arn"]}

    def password_row(self, shown: dict[str, Any]) -> str:
        return f"in AWS Secrets Manager secret {shown['secret_name']}, see below"

    def notes(self, shown: dict[str, Any]) -> list[str]:
        return ["Read the password (JSON: host, port, username, password) as a listed reader:\n"
                f"    aws secretsmanager get-secret-value --secret-id '{shown['secret_arn']}' "
                "--query SecretString --output text"]
