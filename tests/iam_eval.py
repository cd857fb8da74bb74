"""A small IAM identity-policy evaluator, for proving what a policy allows and denies.

Semantics follow the IAM User Guide, and `test_iam_eval.py` checks each rule below against it:
- Policy evaluation logic: an explicit Deny wins; otherwise any matching Allow allows;
  otherwise the request is implicitly denied.
- Action matching is case-insensitive with `*` and `?` wildcards; Resource matching is
  case-sensitive with the same wildcards; NotAction/NotResource match everything else.
- Condition element (reference_policies_multi-value-conditions): operators AND together, keys
  within an operator AND together, several values for one key OR together (NOR for negated
  operators).
- Condition operators (reference_policies_elements_condition_operators): "If the key that you
  specify in a policy condition is not present in the request context, the values do not match
  and the condition is false. If the policy condition requires that the key is not matched, such
  as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
  ...IfExists is true when the key is absent; Null tests presence.
- Set operators: ForAllValues is true when every request value matches some policy value
  (also when the key is absent or empty); ForAnyValue when at least one does (false if absent).
- ARN operators (reference_policies_elements_condition_operators, "Amazon Resource Name (ARN)
  condition operators"): ArnEquals and ArnLike are the same test, "case-sensitive matching of
  the ARN. Each of the six colon-delimited components of the ARN is checked separately and each
  can include multi-character match wildcards (*) or single-character match wildcards (?)";
  ArnNotEquals/ArnNotLike negate it (true when the key is absent, as for other Not operators).
- Resource-based policies (reference_policies_elements_principal): a statement's Principal
  `"*"` or `{"AWS": "*"}` matches everyone; `{"AWS": <user or role ARN>}` matches that user or
  that role's sessions; `{"AWS": <account ID or arn:aws:iam::<id>:root>}` matches every
  principal of that account. The request's principal is `Request.principal`, the same ARN the
  condition key aws:PrincipalArn holds (a role's ARN for a role session). NotPrincipal raises.
- Federated principals (reference_policies_elements_principal, "Federated user principals"): a
  role trust policy's `{"Federated": <OIDC provider ARN>}` matches AssumeRoleWithWebIdentity
  requests with a token from that provider (`Request.federated`), and nothing else; the token's
  claims are condition keys such as token.actions.githubusercontent.com:sub.
- Service principals (reference_policies_elements_principal, "AWS service principals"): `{"Service":
  "<service>.amazonaws.com"}` matches requests a service makes on its own behalf, and only those;
  `"*"` matches them too, an `{"AWS": ...}` entry never does. A service's request carries no
  identity policy of its own: only the resource policy decides (`decide_service`). The service
  tells for whom it acts in the global keys aws:SourceAccount and aws:SourceArn ("The confused
  deputy problem": "use the aws:SourceArn and aws:SourceAccount global condition context keys in
  resource policies to limit the permissions that the service gives another service").
- Identity and resource policies together (reference_policies_evaluation-logic and
  ..._cross-account): an explicit Deny in either wins; within one account an Allow in either
  is enough; across accounts both the caller's identity policy and the resource policy must
  allow.
Only what this project's policies can use is implemented; anything else raises, so a policy
using an operator the evaluator does not know can never pass by accident.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

Context = dict[str, Any]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Context = field(default_factory=dict)
    principal: str | None = None  # for resource-based policies: the caller's aws:PrincipalArn
    service: str | None = None    # instead of `principal`: a service principal, e.g. ses.amazonaws.com
    federated: str | None = None  # instead of `principal`: an identity provider's ARN (AssumeRoleWithWebIdentity)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _wildcard(pattern: str, text: str, *, ignore_case: bool) -> bool:
    # IAM wildcards are only * and ?; everything else (including [ ]) is literal.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _ip_in(value: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _arn_like(value: str, pattern: str) -> bool:
    values, patterns = value.split(":", 5), pattern.split(":", 5)
    if len(values) != 6 or len(patterns) != 6:
        return False
    return all(_wildcard(p, v, ignore_case=False) for v, p in zip(values, patterns))


_MATCHERS = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), True),
    "StringLike": (lambda v, p: _wildcard(p, v, ignore_case=False), False),
    "StringNotLike": (lambda v, p: _wildcard(p, v, ignore_case=False), True),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "Bool": (lambda v, p: str(v).lower() == str(p).lower(), False),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


def _lookup(context: Context, key: str) -> tuple[bool, list[Any]]:
    # Condition key names are case-insensitive.
    for name, value in context.items():
        if name.lower() == key.lower():
            return True, _as_list(value)
    return False, []


def _condition_holds(operator: str, key: str, policy_values: list[Any], context: Context) -> bool:
    present, values = _lookup(context, key)
    if operator == "Null":
        want_absent = str(policy_values[0]).lower() == "true"
        return (not present) == want_absent

    set_op = None
    if ":" in operator:
        set_op, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if base not in _MATCHERS:
        raise NotImplementedError(f"condition operator {operator!r} is not implemented")
    match, negated = _MATCHERS[base]
    policy_values = [str(p) for p in policy_values]

    def one(value: Any) -> bool:
        hit = any(match(str(value), p) for p in policy_values)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        return all(one(v) for v in values)
    if set_op == "ForAnyValue":
        return any(one(v) for v in values)
    if set_op is not None:
        raise NotImplementedError(f"set operator {set_op!r} is not implemented")
    if not present:
        return if_exists or negated
    if len(values) != 1:
        raise ValueError(f"{key} is multi-valued: a single-valued operator needs ForAllValues/ForAnyValue")
    return one(values[0])


def _matches_any(patterns: Iterable[str], text: str, *, ignore_case: bool) -> bool:
    return any(_wildcard(p, text, ignore_case=ignore_case) for p in patterns)


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict) or set(principal) - {"AWS", "Service", "Federated"}:
        raise NotImplementedError(f"principal {principal!r} is not implemented")
    if request.federated is not None:
        # A web-identity request names the provider that issued its token; only a Federated entry
        # naming that provider's ARN matches it (reference_policies_elements_principal, "Federated
        # user principals"), as does "*" (handled above).
        return request.federated in _as_list(principal.get("Federated"))
    if "Federated" in principal and "AWS" not in principal and "Service" not in principal:
        return False
    if request.service is not None:
        # Service names compare as written (they are lowercase DNS names).
        return request.service in _as_list(principal.get("Service")) or principal.get("AWS") == "*"
    if "AWS" not in principal:
        return False
    if request.principal is None:
        raise ValueError("a resource-based policy needs Request.principal")
    for entry in _as_list(principal["AWS"]):
        if entry == "*" or entry == request.principal:
            return True
        account = entry if entry.isdigit() else (entry.split(":")[4] if entry.endswith(":root") else None)
        if account is not None and account_of(request.principal) == account:
            return True
    return False


def _statement_applies(statement: dict[str, Any], request: Request) -> bool:
    if "NotPrincipal" in statement:
        raise NotImplementedError("NotPrincipal is not implemented")
    if "Principal" in statement and not _principal_matches(statement["Principal"], request):
        return False
    if "Action" in statement:
        if not _matches_any(_as_list(statement["Action"]), request.action, ignore_case=True):
            return False
    elif _matches_any(_as_list(statement["NotAction"]), request.action, ignore_case=True):
        return False
    if "Resource" in statement:
        if not _matches_any(_as_list(statement["Resource"]), request.resource, ignore_case=False):
            return False
    elif "NotResource" in statement:
        if _matches_any(_as_list(statement["NotResource"]), request.resource, ignore_case=False):
            return False
    elif "Principal" not in statement:
        raise ValueError("an identity policy statement needs Resource or NotResource")
    # else: a role trust policy, which names no Resource: the role it is attached to is the resource.
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, values in keys.items():
            if not _condition_holds(operator, key, _as_list(values), request.context):
                return False
    return True


def decide(policies: Iterable[dict[str, Any]], request: Request) -> str:
    """'Allow', 'ExplicitDeny' or 'ImplicitDeny' for `request` under identity `policies`."""
    allowed = False
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if not _statement_applies(statement, request):
                continue
            if statement["Effect"] == "Deny":
                return "ExplicitDeny"
            if statement["Effect"] == "Allow":
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def allows(policies: Iterable[dict[str, Any]] | dict[str, Any], request: Request) -> bool:
    if isinstance(policies, dict):
        policies = [policies]
    return decide(policies, request) == "Allow"



def decide_access(identity_policies: Iterable[dict[str, Any]], resource_policy: dict[str, Any] | None,
                  request: Request, *, resource_account: str) -> str:
    """'Allow', 'ExplicitDeny' or 'ImplicitDeny' with the caller's identity policies and the
    resource's policy (a resource of `resource_account`, a caller `request.principal`)."""
    identity = decide(list(identity_policies), request)
    resource = decide([resource_policy], request) if resource_policy else "ImplicitDeny"
    if "ExplicitDeny" in (identity, resource):
        return "ExplicitDeny"
    if account_of(request.principal or "") == resource_account:
        return "Allow" if "Allow" in (identity, resource) else "ImplicitDeny"
    return "Allow" if identity == resource == "Allow" else "ImplicitDeny"


def decide_service(resource_policy: dict[str, Any], request: Request) -> str:
    """'Allow', 'ExplicitDeny' or 'ImplicitDeny' for a request a service principal makes
    (`request.service`): the resource policy alone decides."""
    if request.service is None:
        raise ValueError("decide_service needs Request.service")
    return decide([resource_policy], request)
