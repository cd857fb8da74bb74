"""Who an SES identity's sending-authorization policy lets send: a small, conservative judge.

An identity policy (sesv2 GetEmailIdentity's `Policies`, name -> JSON) is a resource policy on
the identity. The program writes none: every send is authorised by the sender's own IAM policy,
which pins the From address. So any statement that Allows a send action to a principal other than
this account as a whole is a way around that pin:
- `"*"`, another account, a service or federated principal may send as anyone at the domain;
- even a principal of this account named by ARN (one of the stack's own SMTP users, say) is
  allowed by the resource policy alone, without the From condition of its identity policy
  (IAM User Guide, policy evaluation logic: within one account an Allow in either the identity
  or the resource policy is enough).
Only the account itself (`<account id>` or `arn:<partition>:iam::<account id>:root`) is
harmless: it delegates to the account's IAM policies, which the program controls.

Conservative on purpose, so that it may over-report but never miss a grant: conditions are not
credited (a condition may be satisfiable), any Effect other than exactly "Deny" counts as Allow,
NotPrincipal and NotAction count as granting to everyone / every action they do not name, an
action pattern counts when it matches any send action or starts with `ses:Send`, and a document
that is not a readable policy counts as a grant. Deny-only policies grant nothing.
Pure: no AWS or Pulumi import.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

#: SES actions a sending-authorization policy can grant (SES Developer Guide, "Sending
#: authorization policy": SendEmail, SendRawEmail, SendTemplatedEmail, SendBulkTemplatedEmail;
#: the v2 API's SendBulkEmail too).
SEND_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail", "ses:SendBulkTemplatedEmail",
                "ses:SendBulkEmail")


@dataclass(frozen=True)
class Grant:
    """One statement of one policy that lets someone other than this account send."""

    policy: str
    statement: str  # the Sid, or `#<index>` without one
    principals: tuple[str, ...]  # as written; `*` for everyone
    actions: tuple[str, ...]
    reason: str


def _wildcard(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def grants_send(action_patterns: Sequence[Any]) -> bool:
    """Whether an `Action` list may match a send action."""
    for pattern in action_patterns:
        if not isinstance(pattern, str):
            return True  # not a policy SES would store: counted, not guessed
        if pattern.lower().startswith("ses:send") or any(_wildcard(pattern, a) for a in SEND_ACTIONS):
            return True
    return False


def _own_account(entry: Any, account_id: str) -> bool:
    if not isinstance(entry, str):
        return False
    if entry == account_id:
        return True
    parts = entry.split(":")
    return (len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[3] == ""
            and parts[4] == account_id and parts[5] == "root")


def _outsiders(statement: Mapping[str, Any], account_id: str) -> tuple[tuple[str, ...], str]:
    """The principals a statement names other than this account, and why they count."""
    if "NotPrincipal" in statement:
        return ("*",), "NotPrincipal: everyone but the principals it names"
    if "Principal" not in statement:
        return ("*",), "no Principal"
    principal = statement["Principal"]
    if principal == "*":
        return ("*",), "Principal \"*\": everyone, in any account"
    if not isinstance(principal, Mapping):
        return (json.dumps(principal),), "a Principal that is not a policy principal"
    outside: list[str] = []
    for kind, entries in principal.items():
        for entry in _as_list(entries):
            if kind == "AWS" and _own_account(entry, account_id):
                continue
            outside.append(entry if kind == "AWS" and isinstance(entry, str) else f"{kind}: {entry}")
    if not outside:
        return (), ""
    if "*" in outside:
        return tuple(outside), "Principal {\"AWS\": \"*\"}: everyone, in any account"
    return tuple(outside), "principals other than this account as a whole"


def _statements(document: Any) -> list[Any] | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, Mapping) or "Statement" not in document:
        return None
    return _as_list(document["Statement"])


def send_grants(name: str, document: Any, account_id: str) -> list[Grant]:
    """Every statement of the policy `name` that lets a principal other than `account_id` send."""
    statements = _statements(document)
    if statements is None:
        return [Grant(name, "-", ("?",), (), "not a readable policy document: cannot tell who it lets send")]
    grants = []
    for index, statement in enumerate(statements):
        label = f"#{index}"
        if not isinstance(statement, Mapping):
            grants.append(Grant(name, label, ("?",), (), "a statement that is not an object"))
            continue
        label = str(statement.get("Sid") or label)
        if statement.get("Effect") == "Deny":
            continue
        if "NotAction" in statement:
            excluded = _as_list(statement["NotAction"])
            actions = [a for a in SEND_ACTIONS
                       if not any(isinstance(p, str) and _wildcard(p, a) for p in excluded)]
            if not actions:
                continue
        elif "Action" in statement:
            if not grants_send(_as_list(statement["Action"])):
                continue
            actions = [str(a) for a in _as_list(statement["Action"])]
        else:
            actions = ["(no Action)"]
        principals, reason = _outsiders(statement, account_id)
        if principals:
            grants.append(Grant(name, label, principals, tuple(actions), reason))
    return grants


def identity_send_grants(policies: Mapping[str, Any] | None, account_id: str) -> list[Grant]:
    """`send_grants` for every policy of an identity (GetEmailIdentity's `Policies`), by name."""
    return [g for name in sorted(policies or {}) for g in send_grants(name, (policies or {})[name], account_id)]
