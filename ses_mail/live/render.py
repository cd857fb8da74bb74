"""Text output of the live commands: rich tables, coloured only on a terminal."""
from __future__ import annotations

import sys
from typing import Any, Iterable, Sequence, TextIO

from rich.console import Console
from rich.table import Table

from ses_mail.findings import ERROR, INFO, WARNING, Finding

_STYLE = {ERROR: "bold red", WARNING: "yellow", INFO: "cyan"}


def console(stream: TextIO | None = None) -> Console:
    stream = stream or sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    # Piped: no colour and lines as long as they are (width large), so grep and diff see whole rows.
    return Console(file=stream, highlight=False, soft_wrap=not tty, no_color=not tty,
                   width=None if tty else 200, emoji=False)


def table(title: str | None, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, box=None, header_style="bold")
    for h in headers:
        t.add_column(h, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def findings_table(findings: Sequence[Finding]) -> Table:
    t = Table(title="Findings", title_justify="left", show_edge=False, pad_edge=False, box=None,
              header_style="bold", show_lines=False)
    for h in ("SEVERITY", "CODE", "SUBJECT", "WHAT IS WRONG", "FIX"):
        t.add_column(h, overflow="fold")
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    for f in sorted(findings, key=lambda f: order.get(f.severity, 3)):
        t.add_row(f"[{_STYLE.get(f.severity, '')}]{f.severity}[/]", f.code, f.subject, f.message, f.fix)
    return t


def summary_line(findings: Sequence[Finding], ok: str) -> str:
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    infos = sum(f.severity == INFO for f in findings)
    if not errors and not warnings:
        return f"[green]{ok}[/]" + (f" ({infos} notes)" if infos else "")
    return f"[bold red]{errors} errors[/], [yellow]{warnings} warnings[/], {infos} notes"
