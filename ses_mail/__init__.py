"""ses-mail: a roster of sending domains and people becomes Amazon SES identities authenticated in
DNS and one SMTP credential per person that can send only as that person's own address.

`from ses_mail import SesMail, SesMailArgs` gives the Pulumi component. Both are loaded on first
use (module `__getattr__`), so the roster tools (`ses-mail validate`, the pre-commit hook) never
import the Pulumi SDK.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ses_mail.components.ses_mail import SesMail, SesMailArgs

__all__ = ["SesMail", "SesMailArgs"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ses_mail.components import ses_mail as component

        return getattr(component, name)
    raise AttributeError(f"module 'ses_mail' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
