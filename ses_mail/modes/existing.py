"""What the stack does with a domain that may already exist in the account. One class per mode.

Adding a mode: one subclass of `ExistingMode` decorated with `@register_existing`.
"""
from __future__ import annotations

from typing import ClassVar

from ses_mail.modes.registry import Registry

_REGISTRY: Registry["ExistingMode"] = Registry("existing", default="create")


class ExistingMode:
    name: ClassVar[str]
    #: The stack creates (or takes over) the domain's identity, MAIL FROM and records.
    manages: ClassVar[bool] = True
    #: Removing the domain (or `pulumi destroy`) releases its resources instead of deleting them.
    retain_on_delete: ClassVar[bool] = False
    #: `ses-mail adopt` has something to read in the account for it.
    adopted: ClassVar[bool] = False


def register_existing(cls: type[ExistingMode]) -> type[ExistingMode]:
    return _REGISTRY.register(cls)


def existing_mode(name: str | None) -> ExistingMode:
    """The registered mode for the roster's `existing:` (None, unset: `create`)."""
    return _REGISTRY.get(name)


def existing_modes() -> tuple[str, ...]:
    return _REGISTRY.names()


def roster_values() -> tuple[str, ...]:
    """What the roster may write in `existing:` (the default, `create`, is written by leaving it out)."""
    return tuple(name for name in _REGISTRY.names() if name != _REGISTRY.default)


@register_existing
class CreateExisting(ExistingMode):
    """The program creates the domain (the roster does not say `existing:`)."""

    name = "create"


@register_existing
class AdoptExisting(ExistingMode):
    """Already set up: imported as it is (`ses-mail adopt`), never deleted by this stack."""

    name = "adopt"
    retain_on_delete = True
    adopted = True


@register_existing
class ReferenceExisting(ExistingMode):
    """Managed elsewhere: no resource here, only people's credentials against its identity."""

    name = "reference"
    manages = False
    adopted = True
