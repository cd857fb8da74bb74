"""Print one person's ready-to-paste SMTP settings from the stack's outputs.

Reads the JSON that `pulumi stack output --json --show-secrets` prints (from a file or
standard input) and needs neither the Pulumi CLI nor AWS itself:

    pulumi stack output --json --show-secrets > outputs.json     # on a trusted machine
    ses-mail credentials taro@example.com < outputs.json
    ses-mail credentials taro@example.com --file outputs.json --format json

For delivery `pgp` it prints the encrypted password and how the person decrypts it; for
`secrets_manager`, the secret to read. A suspended person gets no password (exit status 3).
Exit status 2: the input or the address is wrong (docs/exit-codes.md). Delete outputs.json when done.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ses_mail.cli.exit_codes import EXIT_OK, EXIT_SUSPENDED, EXIT_USAGE
from ses_mail.modes.delivery import delivery_mode

SECURITY = "STARTTLS"


class CredentialsError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _load(text: str) -> dict[str, Any]:
    try:
        outputs = json.loads(text)
    except ValueError as err:
        raise CredentialsError(f"the input is not JSON ({err}): give the output of "
                               "`pulumi stack output --json --show-secrets`") from None
    if not isinstance(outputs, dict) or "smtp_credentials" not in outputs:
        raise CredentialsError("the input has no `smtp_credentials`: give the output of "
                               "`pulumi stack output --json --show-secrets` for this stack")
    if outputs["smtp_credentials"] == "[secret]" or not isinstance(outputs["smtp_credentials"], dict):
        raise CredentialsError("`smtp_credentials` is hidden: run `pulumi stack output --json --show-secrets`")
    return outputs


def settings_for(outputs: dict[str, Any], address: str) -> dict[str, Any]:
    """The person's settings as one flat mapping, whatever their delivery."""
    wanted = address.strip().lower()
    creds = outputs["smtp_credentials"]
    found = next((a for a in creds if a.lower() == wanted), None)
    if found is None:
        known = ", ".join(sorted(creds)) or "nobody"
        raise CredentialsError(f"{address} is not in this stack's roster (people: {known})")
    cred = creds[found]
    status = (outputs.get("credential_status") or {}).get(found, {})
    if cred.get("status") == "suspended" or status.get("status") == "suspended":
        raise CredentialsError(f"{found} is suspended: the access key is Inactive and there is no usable "
                               "password. Set `status: active` in the roster and run `pulumi up` to restore it.",
                               EXIT_SUSPENDED)
    delivery = cred.get("delivery")
    try:
        mode = delivery_mode(delivery)
    except KeyError:
        raise CredentialsError(f"{found} has an unknown delivery {delivery!r}: is this tool older than the stack?") from None
    out: dict[str, Any] = {
        "address": found,
        "host": cred["host"],
        "port": cred["port"],
        "security": SECURITY,
        "username": cred["username"],
        "delivery": mode.name,
    }
    try:
        out.update(mode.handover(cred))
    except ValueError as err:
        raise CredentialsError(f"{found} {err}") from None
    restrictions = status.get("restrictions") or {}
    out["display_name"] = restrictions.get("display_name")
    out["allowed_ips"] = restrictions.get("allowed_ips", "any")
    out["recipients"] = restrictions.get("recipients", "any")
    out["key"] = status.get("key")
    out["previous_key"] = status.get("previous_key")
    return out


def render_text(s: dict[str, Any]) -> str:
    rows = [
        ("SMTP server", s["host"]),
        ("Port", str(s["port"])),
        ("Security", f"{s['security']} (required; port 465 with TLS also works)"),
        ("Username", s["username"]),
    ]
    mode = delivery_mode(s["delivery"])
    rows.append(("Password", mode.password_row(s)))
    sender = f"{s['display_name']} <{s['address']}>" if s["display_name"] else s["address"]
    rows.append(("From", sender))
    width = max(len(k) for k, _ in rows) + 1
    lines = [f"SMTP settings for {s['address']}", ""] + [f"  {k + ':':<{width}} {v}" for k, v in rows]
    notes = []
    if s["display_name"]:
        notes.append(f"The From display name must be exactly \"{s['display_name']}\"; other names are refused.")
    if s["allowed_ips"] != "any":
        notes.append("Sending works only from " + ", ".join(s["allowed_ips"]) + ".")
    if s["recipients"] != "any":
        notes.append("Every recipient must match " + ", ".join(s["recipients"]) + ".")
    if s.get("previous_key"):
        notes.append(f"These are the credentials of key {s['key']}; key {s['previous_key']} still works until it "
                     "is retired, so switch your mail client now.")
    notes.extend(mode.notes(s))
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="ses-mail credentials",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the person's address, as in the roster")
    parser.add_argument("--file", "-f", help="outputs JSON file (default: standard input)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text to read and paste (default), or json for scripts")
    args = parser.parse_args(argv)
    try:
        if args.file:
            try:
                with open(args.file, encoding="utf-8") as f:
                    text = f.read()
            except OSError as err:
                raise CredentialsError(f"cannot read {args.file}: {err.strerror or err}") from None
        else:
            if stdin.isatty():
                raise CredentialsError("pipe in `pulumi stack output --json --show-secrets`, or give --file")
            text = stdin.read()
        settings = settings_for(_load(text), args.address)
    except CredentialsError as err:
        print(f"error: {err}", file=stderr)
        return err.code
    if args.format == "json":
        print(json.dumps(settings, indent=2, sort_keys=True), file=stdout)
    else:
        print(render_text(settings), file=stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
