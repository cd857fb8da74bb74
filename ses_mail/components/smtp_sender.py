"""One person's SMTP credential: IAM user, send policy, access keys, and how they are handed over.

No `from __future__ import annotations`: the Args TypedDict's `NotRequired` markers must be
evaluated for its optional keys (`__optional_keys__`) to be right at run time.
"""

import importlib
import json
from dataclasses import dataclass
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ses_mail.modes.delivery import delivery_mode
from ses_mail.specs.iam_policy import send_as_policy
from ses_mail.specs.key_slots import KeySlot, key_slots
from ses_mail.specs.naming import IAM_USER_PATH, SEND_POLICY_NAME, iam_user_name, person_resource, user_tags
from ses_mail.roster import Person, Settings, resolve
from ses_mail.specs.smtp_password import SMTP_PORT, smtp_endpoint, smtp_password

INACTIVE = "Inactive"


@dataclass(frozen=True)
class SecretsManagerOptions:
    """Stack-level Secrets Manager settings for people with `delivery: secrets_manager`.

    `admins`: principals exempt from the secrets' Deny (those that run `pulumi up`);
    `kms_key`: customer managed key, or None for the account's `aws/secretsmanager` key.
    """

    admins: tuple[str, ...] = ()
    kms_key: str | None = None
    #: The stack's CredentialRotation, when someone has `delivery: rotation` (it holds their secrets).
    rotation: Any = None


class SmtpSenderArgs(TypedDict):
    """What `SmtpSender` builds from."""

    person: Person
    """The roster's person: the address the credential may send as, and the resources' names. Required."""
    region: str
    """SES region: the SMTP endpoint and the region the password is derived for. Required."""
    identity_arn: pulumi.Input[str]
    """ARN of the domain's SES identity, the one resource the send policy allows. Required."""
    settings: NotRequired[Settings]
    """The person's resolved settings (`Roster.settings(person)`). Default: the person's own, without roster defaults."""
    iam_path: NotRequired[str]
    """IAM path of the user. Default: /ses-smtp/."""
    permissions_boundary: NotRequired[Optional[str]]
    """Managed policy ARN set as the user's permissions boundary. Default: None."""
    secrets: NotRequired[Optional[SecretsManagerOptions]]
    """Secrets Manager settings for `delivery: secrets_manager`. Default: no admins, the account's key."""
    configuration_set_arn: NotRequired[Optional[pulumi.Input[str]]]
    """The stack's configuration set, which the send policy then allows too. Default: None."""


class SmtpSender(pulumi.ComponentResource):
    """An SMTP credential that can send only as `person.email`, within the person's settings.

    `username` is the current access key's id. With delivery `output`, `password` is derived
    from the current secret key for the SES region and is always a Pulumi secret; with `pgp`
    no plain secret exists anywhere (only the provider's encrypted values); with
    `secrets_manager` the password is written only into the person's secret.
    `credential_tree` is what the stack exports for the person (plain values and Outputs,
    gathered into one secret Output by `SesMail`) and `status_tree` the plain facts about it
    (status, delivery, which key is current).

    Children a program may read or adjust: `user`, `policy` (the send policy), `access_keys` (by
    generation; `access_key` is the current one, None when the keys are made inside the account)
    and `secret` (the Secrets Manager secret, None
    unless the delivery mode keeps one).
    """

    user: aws.iam.User
    policy: aws.iam.UserPolicy
    access_key: Optional[aws.iam.AccessKey]
    access_keys: dict[int, aws.iam.AccessKey]
    secret: Optional[aws.secretsmanager.Secret]
    username: Optional[pulumi.Output[str]]
    password: pulumi.Output[Any]
    credential_tree: dict[str, Any]
    status_tree: dict[str, Any]

    def __init__(self, name: str, args: SmtpSenderArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("ses-mail:index:SmtpSender", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        person, region, identity_arn = args["person"], args["region"], args["identity_arn"]
        configuration_set_arn = args.get("configuration_set_arn")
        address = person.email
        settings = args.get("settings") or resolve(person)
        self.settings = settings
        self.delivery = delivery_mode(settings.delivery)

        # Tag values allow fewer characters than addresses (o'brien@...): fit them, keep them readable.
        tags = user_tags(address, person.name, settings.suspended)
        self.user = aws.iam.User(
            person_resource(address, "user"),
            name=iam_user_name(address),
            path=args.get("iam_path", IAM_USER_PATH),
            permissions_boundary=args.get("permissions_boundary"),
            tags=tags,
            # Removing a person from the roster must delete the user even if someone added
            # keys or login profiles by hand.
            force_destroy=True,
            opts=child,
        )
        # Usually the domain identity's Output already, mapped as it is: Output.from_input of an
        # Output adds two more Outputs (and tasks) per person.
        arn: pulumi.Output[Any] = identity_arn if isinstance(identity_arn, pulumi.Output) else pulumi.Output.from_input(identity_arn)
        if configuration_set_arn is not None:
            # The stack's configuration set applies to every send: allow exactly it as well.
            arn = pulumi.Output.all(arn, configuration_set_arn)
        self.policy = aws.iam.UserPolicy(
            person_resource(address, "send-policy"),
            user=self.user.name,
            name=SEND_POLICY_NAME,
            policy=arn.apply(
                lambda arns: json.dumps(send_as_policy(
                    address, arns if isinstance(arns, str) else arns[0], display_names=settings.display_names,
                    allowed_ips=settings.allowed_ips, recipients=settings.recipients,
                    configuration_set_arn=None if isinstance(arns, str) else arns[1],
                    suspended=settings.suspended and not self.delivery.issues_keys), sort_keys=True)),
            opts=child,
        )

        # Every key (and, with delivery pgp, the encrypted password the provider derives from it)
        # is created only once the policy that restricts it exists: a key must never be usable,
        # even for a moment, with whatever else the user might be allowed.
        # --- keys: none registered when the mode's keys are made inside the account (rotation),
        # except a migrating person's old ones, kept as they are and marked retain_on_delete so
        # that leaving the program later releases them (ses_mail.modes.delivery.RotationDelivery).
        migrating = settings.migrating_from is not None
        slots = key_slots(settings.key, settings.previous_key) if self.delivery.issues_keys or migrating else []
        self.access_keys = {slot.generation: self._key(address, slot, settings, self.policy, retain=migrating)
                            for slot in slots}
        self.access_key = self.access_keys.get(settings.key)
        self.username = self.access_key.id if self.access_key is not None else None
        # --- end keys

        host = smtp_endpoint(region)
        base: dict[str, Any] = {"username": self.username, "host": host, "port": SMTP_PORT}
        usable = not settings.suspended
        self.address, self.region = address, region
        self.secrets = args.get("secrets") or SecretsManagerOptions()
        self.secret = None
        # The delivery mode builds the person's credential (and whatever holds it).
        credential = self.delivery.credential(self, base, usable)
        if not usable:
            credential["status"] = "suspended"
            credential["password"] = None
        # Plain values and Outputs; SesMail gathers everyone's at once (ses_mail.components.outputs).
        self.credential_tree = credential

        self.status_tree = {
            "status": settings.status,
            "delivery": settings.delivery,
            "key": settings.key,
            "previous_key": settings.previous_key,
            "access_keys": [{"generation": slot.generation, "id": self.access_keys[slot.generation].id,
                             "status": self.access_keys[slot.generation].status, "current": slot.current}
                            for slot in slots],
            "restrictions": {
                "display_name": settings.display_name,
                "display_names": "any" if settings.display_names.any else "exact" if settings.display_name else "own",
                "allowed_ips": list(settings.allowed_ips) or "any",
                "recipients": list(settings.recipients) or "any",
            },
            **self.delivery.status(address),
        }
        self.register_outputs({"username": self.username, "iam_user": self.user.name})

    def _key(self, address: str, slot: KeySlot, settings: Settings,
             policy: aws.iam.UserPolicy, retain: bool = False) -> aws.iam.AccessKey:
        """One generation's key in its slot; a newer generation in the slot replaces it."""
        return aws.iam.AccessKey(
            slot.resource_name(address),
            user=self.user.name,
            status=INACTIVE if settings.suspended else None,
            pgp_key=self.delivery.pgp_key(settings),
            opts=pulumi.ResourceOptions(
                parent=self,
                retain_on_delete=retain or None,
                # The slot's generation: raising it replaces the key, and the old key goes
                # first, so the user never holds more than IAM's two keys mid-update.
                delete_before_replace=True,
                replacement_trigger=slot.generation,
                depends_on=[policy],
            ),
        )

    def derived_password(self) -> pulumi.Output[str]:
        """The SMTP password derived from the current key's secret for the SES region.

        Wrapped explicitly: the secret must stay secret even where the engine does not honour the
        provider's own secret markings (as under mocks). `apply` keeps the secretness of what it
        maps, known or not, so the password needs no wrapper of its own."""
        region, key = self.region, self.access_key
        assert key is not None, "only modes that issue keys derive a password"
        # The SDK's Input[U] union makes mypy infer U as Never for an Output[str] argument.
        return pulumi.Output.secret(key.secret).apply(lambda secret: smtp_password(secret, region))  # type: ignore[arg-type]

    @staticmethod
    def no_password() -> pulumi.Output[Any]:
        return pulumi.Output.secret(None)

    @staticmethod
    def sdk(package: str) -> Any:
        """The Pulumi SDK or a provider package, for the pure delivery modes (ses_mail.modes)."""
        return importlib.import_module(package)


def finish_status(status: dict[str, Any]) -> dict[str, Any]:
    """A resolved status tree: a key without an explicit status is Active."""
    for key in status["access_keys"]:
        key["status"] = key["status"] or "Active"
    return status
