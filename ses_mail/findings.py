"""One finding type for every command that checks something (doctor, audit, adopt).

A `Finding` says what is wrong (`message`) and what to do about it (`fix`), about a `subject`
(a domain, a record name, an address, an IAM user, or "account"), under a stable `code` that
scripts can match. Severities: `error` (broken, drifted, or cannot be done safely), `warning`
(needs attention: pending verification, stale or old keys, reputation near its alarm), `info`
(a fact worth knowing; never changes the exit status). Pure: plain data, no imports beyond the
standard library.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    subject: str
    message: str
    fix: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "subject": self.subject,
                "message": self.message, "fix": self.fix, "details": dict(self.details)}


def failing(findings: Iterable[Finding]) -> list[Finding]:
    """Findings that make a command exit 1 (`EXIT_FINDINGS`): errors and warnings."""
    return [f for f in findings if f.severity in (ERROR, WARNING)]
