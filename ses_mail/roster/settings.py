"""One person's effective settings: their own values, else the stack defaults, resolved."""
from __future__ import annotations

from dataclasses import dataclass

from ses_mail.roster.model import ANY, Defaults, Delivery, Person, Status
from ses_mail.specs.iam_policy import DisplayNames


@dataclass(frozen=True)
class Settings:
    """One person's effective settings: their own values, else the stack defaults, resolved."""

    status: Status
    key: int
    previous_key: int | None
    display_name: str | None  # the exact display name required (true or a text), else None
    allowed_ips: tuple[str, ...]
    recipients: tuple[str, ...]
    delivery: Delivery
    pgp_key: str | None
    secret_readers: tuple[str, ...]
    display_names: DisplayNames = DisplayNames()

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"



def resolve(person: Person, defaults: Defaults | None = None) -> Settings:
    """A person's own settings, else the stack defaults, with `any` and `true` spelled out.

    display_name: a text or `true` (their `name`) allows exactly that name, as it always did;
    `false` (the default) allows their own `name` or none; `any` allows any (but never an @)."""
    d = defaults or Defaults()
    display = person.display_name if person.display_name is not None else d.display_name
    if display is True:
        display = person.name
    if display == ANY:
        names, display = DisplayNames.unrestricted(), None
    elif display:
        names = DisplayNames.exactly(display)
    else:
        # false (the default): the person's own name, or none.
        names, display = DisplayNames.own_or_none(person.name), None
    ips = person.allowed_ips if person.allowed_ips is not None else d.allowed_ips
    recipients = person.recipients if person.recipients is not None else d.recipients
    readers = person.secret_readers if person.secret_readers is not None else d.secret_readers
    delivery = person.delivery or d.delivery
    return Settings(
        status=person.status,
        key=person.key,
        previous_key=person.previous_key,
        display_name=display or None,
        allowed_ips=() if ips == ANY else tuple(ips),
        recipients=() if recipients == ANY else tuple(recipients),
        delivery=delivery,
        pgp_key=person.pgp_key,
        secret_readers=tuple(readers) if delivery == "secrets_manager" else (),
        display_names=names,
    )
