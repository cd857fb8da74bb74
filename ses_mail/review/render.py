"""Render plan diffs (`ses_mail.review.changes.StackDiff`) as terminal text, Markdown or JSON.

Pure functions from diff data to strings. Secrets are `Secret` objects by the time they get
here and print as `[secret]`; nothing else is ever hidden, so a reviewer sees every input.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Iterable

from ses_mail.review.changes import ABSENT, CREATE, DELETE, RELEASED, REPLACE, TRIGGER, UPDATE, Change, Group, PropertyChange, Secret, StackDiff
from ses_mail.resource_types import CLOUDFLARE_RECORD, RECORD

#: Hidden first line of the Markdown output: the PR workflow finds its own comment by it.
MARKER = "<!-- ses-mail:offline-plan-diff -->"
#: GitHub refuses comments longer than 65,536 characters; leave room for the footer.
MARKDOWN_LIMIT = 60_000
JSON_FORMAT_VERSION = 1
REMOVED_STACK = ("its stack file is deleted in the head, so nothing is planned for it and nothing is destroyed: "
                 "its resources stay in AWS, no longer deployed, until `pulumi destroy` is run for the stack")

_SYMBOL = {CREATE: "+", DELETE: "-", UPDATE: "~", REPLACE: "-/+"}
_VERB = {CREATE: "create", DELETE: "delete", UPDATE: "update", REPLACE: "replace"}
_DONE = {CREATE: "created", DELETE: "deleted", UPDATE: "updated", REPLACE: "replaced"}
_ANSI = {CREATE: "32", DELETE: "31", UPDATE: "33", REPLACE: "35", "bad": "1;31", "dim": "2", "bold": "1"}


@dataclass
class Report:
    """One stack's diff with where its two sides came from."""

    stack: str
    base: str
    head: str
    diff: StackDiff | None = None
    error: str = ""          # set when a side is invalid: the clean message
    error_side: str = ""     # "base" or "head"
    removed: bool = False    # the head deletes the stack's file: nothing is planned (REMOVED_STACK)

    @property
    def invalid(self) -> bool:
        return bool(self.error)


# --- values -------------------------------------------------------------------------------

def fmt(value: Any) -> str:
    if isinstance(value, Secret):
        return "[secret]"
    if value is ABSENT:
        return "(unset)"
    return json.dumps(_plain(value), ensure_ascii=False, separators=(", ", ": "), sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        return "[secret]"
    if value is ABSENT:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _json_document(value: Any) -> Any | None:
    """A JSON object or array held in a string (an IAM policy), else None."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def _pretty(document: Any) -> list[str]:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


#: Resource types shown as one DNS record line.
DNS_RECORD_TYPES = (RECORD, CLOUDFLARE_RECORD)


def record_line(inputs: dict[str, Any]) -> str:
    """A Route53 or Cloudflare record as a reviewer reads it: name, type, TTL and every value
    (a Cloudflare record's content as Cloudflare stores it, and whether it is proxied)."""
    if "records" not in inputs and "content" in inputs:
        priority = inputs.get("priority")
        content = inputs["content"]
        value = (f"{int(priority)} " if isinstance(priority, (int, float)) else "") + \
            (fmt(content) if isinstance(content, Secret) else str(content))
        ttl = inputs.get("ttl", "")
        ttl = int(ttl) if isinstance(ttl, float) else ttl
        proxied = "PROXIED" if inputs.get("proxied") else "not proxied"
        return f"{inputs.get('name', '?')} {inputs.get('type', '?')} {ttl} {value} (Cloudflare, {proxied})"
    records = inputs.get("records") or []
    values = " | ".join(fmt(v) if isinstance(v, Secret) else str(v) for v in records)
    ttl = inputs.get("ttl", "")
    return f"{inputs.get('name', '?')} {inputs.get('type', '?')} {ttl} {values}".rstrip()


def describe(change: Change, side: str) -> tuple[str, list[str]]:
    """(one-line summary, extra lines) of a resource's inputs on one side."""
    resource = change.after if side == "after" else change.before
    if resource is None:
        return "", []
    inputs = dict(resource.inputs)
    if change.type in DNS_RECORD_TYPES:
        return record_line(inputs), []
    summary: list[str] = []
    extra: list[str] = []
    for key in sorted(inputs):
        document = _json_document(inputs[key])
        if document is not None:
            extra.append(f"{key}:")
            extra += ["  " + line for line in _pretty(document)]
        else:
            summary.append(f"{key}={fmt(inputs[key])}")
    return " ".join(summary), extra


def property_lines(change: Change) -> list[str]:
    """Every changed input of an update or replacement, policies as a unified diff."""
    lines: list[str] = []
    if change.type in DNS_RECORD_TYPES:
        lines.append(f"was: {record_line(dict(change.before.inputs))}")  # type: ignore[union-attr]
        lines.append(f"now: {record_line(dict(change.after.inputs))}")   # type: ignore[union-attr]
    for prop in change.properties:
        lines += _property_lines(prop)
    if change.protect_changed:
        lines.append(f"protect: {fmt(change.before.protect)} → {fmt(change.after.protect)}"  # type: ignore[union-attr]
                     " (resource option; nothing changes in AWS)")
    # A changed option means the resource is on both sides: before and after are set.
    if change.retain_changed:
        lines.append(f"retain_on_delete: {fmt(change.before.retain_on_delete)} → "  # type: ignore[union-attr]
                     f"{fmt(change.after.retain_on_delete)} (resource option; nothing changes in AWS; "  # type: ignore[union-attr]
                     + ("a later removal deletes it from AWS)" if not change.after.retain_on_delete  # type: ignore[union-attr]
                        else "a later removal only releases it)"))
    return lines


def _property_lines(prop: PropertyChange) -> list[str]:
    tag = " (forces replacement)" if prop.forces_replace else ""
    old_doc, new_doc = _json_document(prop.before), _json_document(prop.after)
    if old_doc is not None or new_doc is not None:
        old = _pretty(old_doc) if old_doc is not None else ([] if prop.before is ABSENT else [fmt(prop.before)])
        new = _pretty(new_doc) if new_doc is not None else ([] if prop.after is ABSENT else [fmt(prop.after)])
        body = list(difflib.unified_diff(old, new, lineterm="", n=3))[2:]  # drop ---/+++ headers
        return [f"{prop.path}:{tag}"] + ["  " + line for line in body]
    return [f"{prop.path}: {fmt(prop.before)} → {fmt(prop.after)}{tag}"]


def group_status(changes: list[Change]) -> str:
    component = next((c for c in changes if not c.custom and c.group.name == c.name), None)
    if component is not None and component.op == CREATE:
        return "new"
    if component is not None and component.op == DELETE:
        return "removed"
    return "changed"


def summary_counts(diff: StackDiff) -> str:
    parts = [f"{diff.count(op)} to {_VERB[op]}" for op in (CREATE, UPDATE, REPLACE, DELETE) if diff.count(op)]
    if diff.released():
        parts.append(f"{diff.released()} released, not deleted")
    parts.append(f"{diff.unchanged} unchanged")
    return ", ".join(parts)


def replace_reason_text(change: Change) -> str:
    reasons = []
    for top in change.replace_reasons:
        if top == TRIGGER:
            prop = next(p for p in change.properties if p.top == TRIGGER)
            reasons.append(f"replacement trigger {fmt(prop.before)} → {fmt(prop.after)}")
        else:
            reasons.append(f"{top} changed")
    text = ", ".join(reasons)
    if change.after is not None and change.after.delete_before_replace:
        text += "; the old one is deleted before the new one is created"
    return text


def rotation_lines(diff: StackDiff) -> list[str]:
    return [f"{group.label}: {text}" for group, text in diff.rotations]


def attention_lines(diff: StackDiff) -> list[str]:
    return [f"{c.group.label}: {c.short_type} {c.name}: {c.attention}" for c in diff.attention]


def destructive_lines(diff: StackDiff) -> list[str]:
    """One line per domain or person: what its destructive changes do, most serious first."""
    lines = []
    for group, changes in diff.destructive_by_group():
        status = group_status([c for c in diff.changes if c.group == group])
        consequences: dict[str, int] = {}
        for change in changes:
            text = change.consequence
            if change.op == REPLACE:
                text += f" ({replace_reason_text(change)})"
            if change.blocked_by_protect:
                text += (f" [{change.short_type} {change.name} is protected: `pulumi up` fails until "
                         "`protect: false` has been applied first]")
            consequences[text] = consequences.get(text, 0) + 1
        parts = [f"{n} × {text}" if n > 1 else text for text, n in consequences.items()]
        lines.append(f"{group.label} ({status}): " + "; ".join(parts))
    return lines


# --- text ---------------------------------------------------------------------------------

def render_text(reports: Iterable[Report], color: bool = False) -> str:
    def paint(code: str, text: str) -> str:
        return f"\x1b[{_ANSI[code]}m{text}\x1b[0m" if color and text else text

    out: list[str] = []
    for report in reports:
        out.append(paint("bold", f"Plan diff for stack '{report.stack}'"))
        out.append(f"  base: {report.base}")
        out.append(f"  head: {report.head}")
        if report.removed:
            out += [paint("bad", f"  STACK FILE DELETED: {REMOVED_STACK}."), ""]
            continue
        if report.invalid:
            out.append(paint("bad", f"  invalid {report.error_side} roster:"))
            out += ["    " + line for line in report.error.splitlines()]
            out.append("")
            continue
        diff = report.diff
        assert diff is not None
        out.append(paint("dim", "  (offline: the real program under the mock engine; ids and DKIM tokens are "
                                "emulated; secrets are never shown)"))
        out.append("")
        if not diff.has_changes:
            out.append(f"No changes: both sides register the same {diff.unchanged} resources.")
            out.append("")
            continue
        if diff.destructive:
            count = len(diff.destructive)
            out.append(paint("bad", f"DESTRUCTIVE CHANGES ({count} resource{'s' if count != 1 else ''}):"))
            out += [paint("bad", f"  ! {line}") for line in destructive_lines(diff)]
            out.append("")
        if diff.attention:
            out.append(paint(UPDATE, "ATTENTION:"))
            out += [paint(UPDATE, f"  ! {line}") for line in attention_lines(diff)]
            out.append("")
        if diff.rotations:
            out.append("Key rotations:")
            out += [f"  * {line}" for line in rotation_lines(diff)]
            out.append("")
        out.append(f"Summary: {summary_counts(diff)}.")
        for type_ in diff.unknown_types:
            out.append(paint("bad", f"  note: no replacement rules for {type_}; `pulumi preview` decides "
                                    "whether its updates replace it"))
        out.append("")
        for group, changes in diff.groups():
            title = f"{group.kind.capitalize()} {group.name}".rstrip()
            out.append(paint("bold", f"{title} ({group_status(changes)})"))
            for change in changes:
                out += _text_change(change, paint)
            out.append("")
        if diff.outputs_changed:
            out.append("Stack outputs that change: " + ", ".join(diff.outputs_changed))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def change_lines(change: Change) -> list[tuple[str, str, bool]]:
    """(colour/diff code, text, is_header) lines of one change: a header, then details."""
    header = f"{change.short_type:<32} {change.name}"
    if change.op in (CREATE, DELETE):
        summary, extra = describe(change, "after" if change.op == CREATE else "before")
        if change.released:
            released = change.consequence
            header += f"  ({released})" if released != RELEASED else "  (released, not deleted: stays in AWS)"
        return [(change.op, f"{header}  {summary}".rstrip(), True)] + [(change.op, line, False) for line in extra]
    if change.op == REPLACE:
        header += "  (replace" + ("; delete first" if change.after and change.after.delete_before_replace else "") + ")"
    if change.renamed_from:
        header += f"  (renamed from {change.renamed_from})"
    lines = [(change.op, header, True)]
    for line in property_lines(change):
        if line.startswith(("  +", "now: ")):
            code = CREATE
        elif line.startswith(("  -", "was: ")):
            code = DELETE
        else:
            code = change.op
        lines.append((code, line, False))
    return lines


def _text_change(change: Change, paint) -> list[str]:
    return [paint(code, f"  {_SYMBOL[change.op]:>3} {text}" if header else f"        {text}")
            for code, text, header in change_lines(change)]


# --- markdown -----------------------------------------------------------------------------

_MD_SYMBOL = {CREATE: "+", DELETE: "-", UPDATE: "!", REPLACE: "!"}


def render_markdown(reports: list[Report], limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: hidden marker, summary, destructive changes, then per group."""
    head = [MARKER, "## Offline plan diff", "",
            "_What `pulumi up` would change, computed from the roster by the real program under the "
            "mock engine, without AWS credentials. Ids and DKIM tokens are emulated; secrets are never "
            "shown._", ""]
    body: list[str] = []
    for report in reports:
        body += _markdown_report(report)
    text = "\n".join(head + body).rstrip() + "\n"
    if len(text) > limit:
        cut = text[:limit].rsplit("\n", 1)[0]
        if cut.count("```") % 2:
            cut += "\n```"
        cut += "\n</details>" * (cut.count("<details") - cut.count("</details>"))
        text = (cut + "\n\n**The diff is too long for one comment and was cut here.** "
                "Run `venv/bin/ses-mail diff` locally, or read the workflow run's summary, for all of it.\n")
    return text


def _markdown_report(report: Report) -> list[str]:
    out = [f"### Stack `{report.stack}`", "", f"base `{report.base}` → head `{report.head}`", ""]
    if report.removed:
        return out + ["> [!WARNING]", f"> **Stack file deleted**: {REMOVED_STACK}.", ""]
    if report.invalid:
        out += ["> [!WARNING]", f"> **The {report.error_side} roster is invalid**; nothing was planned.", "",
                "```", *report.error.replace("```", "'''").splitlines(), "```", ""]
        return out
    diff = report.diff
    assert diff is not None
    if not diff.has_changes:
        return out + [f"**No changes.** Both sides register the same {diff.unchanged} resources.", ""]
    out += [f"**{summary_counts(diff)}**", ""]
    if diff.destructive:
        count = len(diff.destructive)
        out += ["> [!CAUTION]", f"> **Destructive: {count} resource{'s' if count != 1 else ''} deleted or replaced**"]
        out += [f"> - {_md_inline(line)}" for line in destructive_lines(diff)]
        out.append("")
    if diff.attention:
        out += ["> [!WARNING]", "> **Sending stops for**"]
        out += [f"> - {_md_inline(line)}" for line in attention_lines(diff)]
        out.append("")
    if diff.rotations:
        out += ["> [!NOTE]", "> **Key rotations**"]
        out += [f"> - {_md_inline(line)}" for line in rotation_lines(diff)]
        out.append("")
    for type_ in diff.unknown_types:
        out += ["> [!NOTE]", f"> No replacement rules for `{type_}`: `pulumi preview` decides whether its "
                "updates replace it.", ""]
    groups = diff.groups()
    collapse = len(groups) > 10
    for group, changes in groups:
        counts = {op: sum(1 for c in changes if c.op == op and c.custom and not c.released)
                  for op in (CREATE, UPDATE, REPLACE, DELETE)}
        tally = ", ".join([f"{n} {_DONE[op]}" for op, n in counts.items() if n]
                          + [f"{n} released, not deleted" for n in [sum(1 for c in changes if c.released and c.custom)] if n])
        title = f"{group.kind} <code>{_html(group.name)}</code>" if group.name else group.kind
        out.append(f"<details{'' if collapse else ' open'}><summary><b>{title}</b> — "
                   f"{group_status(changes)} ({tally or 'component only'})</summary>")
        out += ["", "```diff"]
        for change in changes:
            out += [_fence_safe(_markdown_line(change, code, text, header))
                    for code, text, header in change_lines(change)]
        out += ["```", "", "</details>", ""]
    if diff.outputs_changed:
        out += ["Stack outputs that change: " + ", ".join(f"`{o}`" for o in diff.outputs_changed), ""]
    return out


def _markdown_line(change: Change, code: str, text: str, header: bool) -> str:
    """A line of a `diff` block: its first column colours it, so inner +/- signs are dropped."""
    if header:
        return f"{_MD_SYMBOL[code]} {text}"
    if change.op in (UPDATE, REPLACE) and code not in (CREATE, DELETE):
        return f"      {text}"  # unchanged context and plain details: not coloured
    if text.startswith(("  +", "  -")):
        text = "   " + text[3:]
    return f"{_MD_SYMBOL[code]}     {text}"


def _fence_safe(text: str) -> str:
    return text.replace("```", "'''")


def _md_inline(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- json ---------------------------------------------------------------------------------

def render_json(reports: list[Report]) -> str:
    return json.dumps({"version": JSON_FORMAT_VERSION, "stacks": [_json_report(r) for r in reports]},
                      indent=2, ensure_ascii=False) + "\n"


def _json_report(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"stack": report.stack, "base": report.base, "head": report.head}
    if report.removed:
        out["status"] = "stack-removed"
        out["message"] = REMOVED_STACK
        return out
    if report.invalid:
        out["status"] = "invalid"
        out["error"] = {"side": report.error_side, "message": report.error}
        return out
    diff = report.diff
    assert diff is not None
    out["status"] = "changes" if diff.has_changes else "no-changes"
    out["summary"] = {**{op: diff.count(op) for op in (CREATE, UPDATE, REPLACE, DELETE)}, "released": diff.released(),
                      "unchanged": diff.unchanged}
    out["destructive"] = [{"group": _group(c.group), "type": c.type, "name": c.name, "op": c.op,
                           "consequence": c.consequence, "protected": c.blocked_by_protect,
                           "replace_reasons": c.replace_reasons} for c in diff.destructive]
    out["attention"] = [{"group": _group(c.group), "type": c.type, "name": c.name, "message": c.attention}
                        for c in diff.attention]
    out["key_rotations"] = [{"group": _group(g), "message": text} for g, text in diff.rotations]
    out["changes"] = [_json_change(c) for _, cs in diff.groups() for c in cs]
    out["outputs_changed"] = diff.outputs_changed
    out["unknown_replacement_rules"] = diff.unknown_types
    return out


def _group(group: Group) -> dict[str, str]:
    return {"kind": group.kind, "name": group.name}


def _json_change(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "op": change.op, "type": change.type, "name": change.name, "group": _group(change.group),
        "urn": change.resource.urn, "destructive": change.destructive,
    }
    if change.before is not None:
        out["before"] = _plain(dict(change.before.inputs))
    if change.after is not None:
        out["after"] = _plain(dict(change.after.inputs))
    if change.properties:
        out["properties"] = [{"path": p.path, "before": _plain(p.before), "after": _plain(p.after),
                              "forces_replacement": p.forces_replace} for p in change.properties]
    if change.renamed_from:
        out["renamed_from"] = change.renamed_from
    if change.op in (DELETE, REPLACE):
        out["protected"] = change.blocked_by_protect
    if change.op == DELETE:
        out["released"] = change.released
    return out
