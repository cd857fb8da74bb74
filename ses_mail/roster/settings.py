"""One person's effective settings (defined in ses_mail.roster.model, which resolves them)."""
from ses_mail.roster.model import Settings, resolve

__all__ = ["Settings", "resolve"]
