"""From DMARC aggregate reports to a recommendation per domain: stay, quarantine or reject.

Pure: takes parsed `Report`s (ses_mail.dmarc.reports), returns plain data; no AWS, no Pulumi.

How failing mail is read. Mail failing DMARC is of two kinds, told apart by the raw results
the receivers report:
- *authenticated elsewhere*: SPF or DKIM passed, but for a domain not aligned with From. A real
  mail system sent it as itself: a third-party service sending for the domain that was never
  set up (a CRM, a ticketing system), or a forwarder / mailing list (RFC 7960). Tightening
  the policy loses this mail, so it blocks tightening.
- *unauthenticated*: neither passed for any domain. That is what forgery looks like, and it is
  what a stricter policy is for: it never blocks tightening (it is reported as spoofing).

The decision (`Thresholds`, each default with its source):
- enough evidence: reports spanning `min_days` days and `min_messages` messages;
- the share of legitimate mail (all but unauthenticated) that passes DMARC is at least
  `min_aligned_share`, and no source whose failing mail is authenticated elsewhere sends more
  than `max_failing_source_share` of it;
- one step at a time: reject only after `min_days` of reports in which receivers saw
  quarantine (or stricter) applied.
The current policy is *stricter than the evidence supports* when it is quarantine or reject
(as applied: `t=y` lowers it one step, RFC 9989) while the second rule fails: mail of a
legitimate source is being lost. `ses-mail dmarc` exits 1 then.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional

from ses_mail.dmarc.reports import Report, deduplicate

POLICIES = ("none", "quarantine", "reject")
_RANK = {p: i for i, p in enumerate(POLICIES)}
DAY = 86400


@dataclass(frozen=True)
class Thresholds:
    """The rule's settings. Defaults and their sources (docs/dmarc.md repeats them):"""

    #: Google Workspace Admin Help, "Tutorial: Recommended DMARC rollout" (answer 10032473):
    #: monitor with p=none for at least a week, "usually enough time for the daily reports to
    #: contain data representative of all your mail streams". Twice that, so that mail sent every
    #: other week (payroll runs, newsletters) shows up at least once. Also the time spent at
    #: quarantine before reject.
    min_days: int = 14
    #: With fewer messages one message is more than `max_failing_source_share`: the shares
    #: cannot tell a stray forward from a lost sender (1 / 0.01 = 100).
    min_messages: int = 100
    #: RFC 7960 (DMARC and indirect mail flows): forwarding and mailing lists break SPF and
    #: often DKIM, so a few percent of legitimate mail fails DMARC whatever the sender does;
    #: 98% aligned leaves 2% for them. M3AAWG's Email Authentication Best Practices and RFC 9989
    #: ask that every legitimate source be aligned before enforcing, which the next setting checks.
    min_aligned_share: float = 0.98
    #: A single source authenticated as another domain and sending more than 1% of the mail is a
    #: mail stream of its own (a forgotten sender), not forwarding noise.
    max_failing_source_share: float = 0.01

    def __post_init__(self) -> None:
        if self.min_days < 1 or self.min_messages < 1:
            raise ValueError("min_days and min_messages must be at least 1")
        if not (0 < self.min_aligned_share <= 1 and 0 <= self.max_failing_source_share < 1):
            raise ValueError("min_aligned_share must be in (0, 1] and max_failing_source_share in [0, 1)")


@dataclass
class Source:
    ip: str
    messages: int = 0
    dmarc_pass: int = 0
    dkim_aligned: int = 0
    spf_aligned: int = 0
    failing: int = 0
    failing_authenticated: int = 0  # failing, but SPF or DKIM passed for some other domain
    orgs: set[str] = field(default_factory=set)
    header_from: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str:
        if not self.failing:
            return "aligned"
        return "authenticated-elsewhere" if self.failing_authenticated else "unauthenticated"

    def as_dict(self, total: int) -> dict[str, Any]:
        return {"ip": self.ip, "messages": self.messages, "share": _share(self.messages, total),
                "dmarc_pass": self.dmarc_pass, "dkim_aligned": self.dkim_aligned, "spf_aligned": self.spf_aligned,
                "failing": self.failing, "failing_authenticated": self.failing_authenticated, "kind": self.kind,
                "reporting_orgs": sorted(self.orgs), "header_from": sorted(self.header_from)}


@dataclass
class DomainSummary:
    domain: str
    reports: int
    days: int
    first_day: str
    last_day: str
    messages: int
    dmarc_pass: int
    dkim_aligned: int
    spf_aligned: int
    unauthenticated: int  # failing messages authenticated for no domain at all
    legitimate_pass_share: Optional[float]  # dmarc_pass / (messages - unauthenticated)
    enforced_days: int  # days covered by reports whose receivers applied quarantine or stricter
    current_policy: str  # p= as applied (t=y lowers it a step)
    current_source: str  # "reports" or "roster"
    sources: list[Source]
    supported: str  # the strictest policy the evidence supports now
    recommendation: str  # stay | quarantine | reject, or `none` (relax) when the current one is too strict
    reason: str
    stricter_than_evidence: bool
    orgs: list[str]
    schemas: list[str]

    @property
    def failing_sources(self) -> list[Source]:
        return sorted((s for s in self.sources if s.failing), key=lambda s: (-s.failing, s.ip))

    def as_dict(self) -> dict[str, Any]:
        total = self.messages
        return {
            "domain": self.domain, "reports": self.reports, "days": self.days,
            "first_day": self.first_day, "last_day": self.last_day, "messages": total,
            "dmarc_pass_share": _share(self.dmarc_pass, total),
            "dkim_aligned_share": _share(self.dkim_aligned, total),
            "spf_aligned_share": _share(self.spf_aligned, total),
            "unauthenticated_messages": self.unauthenticated,
            "legitimate_pass_share": self.legitimate_pass_share,
            "enforced_days": self.enforced_days,
            "current_policy": self.current_policy, "current_policy_from": self.current_source,
            "supported_policy": self.supported, "recommendation": self.recommendation, "reason": self.reason,
            "stricter_than_evidence": self.stricter_than_evidence,
            "reporting_orgs": self.orgs, "schemas": self.schemas,
            "sources": [s.as_dict(total) for s in sorted(self.sources, key=lambda s: (-s.messages, s.ip))],
            "failing_sources": [s.as_dict(total) for s in self.failing_sources],
        }


def _share(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 6) if whole else None


def applied(policy: str, testing: bool) -> str:
    """The policy receivers apply: with t=y one step less strict (RFC 9989, the `t` tag)."""
    return POLICIES[max(_RANK[policy] - 1, 0)] if testing else policy


def _days(intervals: Iterable[tuple[int, int]]) -> set[int]:
    """The UTC days (as day numbers) any interval touches; an interval's end is exclusive."""
    out: set[int] = set()
    for begin, end in intervals:
        last = max(begin, end - 1)
        out.update(range(begin // DAY, last // DAY + 1))
    return out


def _day(number: int) -> str:
    return datetime.fromtimestamp(number * DAY, tz=timezone.utc).date().isoformat()


def in_window(reports: Iterable[Report], since_days: Optional[int], now: datetime) -> list[Report]:
    """Reports whose period ends within the last `since_days` days (all with None)."""
    if since_days is None:
        return list(reports)
    cutoff = (now - timedelta(days=since_days)).timestamp()
    return [r for r in reports if r.end >= cutoff]


def summarise(reports: Iterable[Report], *, thresholds: Thresholds = Thresholds(),
              roster_policies: Mapping[str, tuple[str, bool]] | None = None) -> list[DomainSummary]:
    """One summary per policy domain, sorted by domain. Duplicate reports (the same report id
    from the same organisation) count once. `roster_policies` (domain -> (p, testing)) gives the
    current policy; without it, the one the latest report says receivers saw."""
    unique, _ = deduplicate(reports)
    by_domain: dict[str, list[Report]] = {}
    for report in unique:
        by_domain.setdefault(report.domain, []).append(report)
    return [_summary(domain, by_domain[domain], thresholds, roster_policies or {}) for domain in sorted(by_domain)]


def _summary(domain: str, reports: list[Report], t: Thresholds, roster: Mapping[str, tuple[str, bool]]) -> DomainSummary:
    sources: dict[str, Source] = {}
    for report in reports:
        for row in report.rows:
            s = sources.setdefault(row.source_ip, Source(row.source_ip))
            s.messages += row.count
            s.orgs.add(report.org_name)
            if row.header_from:
                s.header_from.add(row.header_from)
            if row.dmarc_pass:
                s.dmarc_pass += row.count
            else:
                s.failing += row.count
                if row.authenticated:
                    s.failing_authenticated += row.count
            s.dkim_aligned += row.count if row.dkim_aligned else 0
            s.spf_aligned += row.count if row.spf_aligned else 0
    messages = sum(s.messages for s in sources.values())
    passing = sum(s.dmarc_pass for s in sources.values())
    unauthenticated = sum(s.failing - s.failing_authenticated for s in sources.values())
    legitimate = messages - unauthenticated
    days = _days((r.begin, r.end) for r in reports)
    enforced = _days((r.begin, r.end) for r in reports if _RANK[applied(r.policy, r.testing)] >= 1)

    if domain in roster:
        policy, testing = roster[domain]
        current, current_source = applied(policy, testing), "roster"
    else:
        latest = max(reports, key=lambda r: (r.end, r.begin))
        current, current_source = applied(latest.policy, latest.testing), "reports"

    legitimate_share = passing / legitimate if legitimate else None
    worst = max(sources.values(), key=lambda s: (s.failing_authenticated, s.ip), default=None)
    worst_share = worst.failing_authenticated / legitimate if worst and legitimate else 0.0
    supported, recommendation, reason, too_strict = _decide(
        t, current=current, days=len(days), messages=messages, legitimate_share=legitimate_share,
        worst=worst, worst_share=worst_share, enforced_days=len(enforced), unauthenticated=unauthenticated)
    return DomainSummary(
        domain=domain, reports=len(reports), days=len(days),
        first_day=_day(min(days)) if days else "", last_day=_day(max(days)) if days else "",
        messages=messages, dmarc_pass=passing,
        dkim_aligned=sum(s.dkim_aligned for s in sources.values()),
        spf_aligned=sum(s.spf_aligned for s in sources.values()),
        unauthenticated=unauthenticated,
        legitimate_pass_share=round(legitimate_share, 6) if legitimate_share is not None else None,
        enforced_days=len(enforced), current_policy=current, current_source=current_source,
        sources=list(sources.values()), supported=supported, recommendation=recommendation, reason=reason,
        stricter_than_evidence=too_strict, orgs=sorted({r.org_name for r in reports}),
        schemas=sorted({r.schema for r in reports}))


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _decide(t: Thresholds, *, current: str, days: int, messages: int, legitimate_share: Optional[float],
            worst: Optional[Source], worst_share: float, enforced_days: int,
            unauthenticated: int) -> tuple[str, str, str, bool]:
    """(supported policy, recommendation, reason, current stricter than the evidence)."""
    problems = []
    if worst is not None and worst.failing_authenticated and worst_share > t.max_failing_source_share:
        problems.append(f"source {worst.ip} sends {_pct(worst_share)} of the legitimate mail and fails DMARC "
                        f"while authenticating as another domain (limit {_pct(t.max_failing_source_share)}): "
                        "a sender of yours that is not aligned (add its DKIM for the domain, or stop it), or a forwarder")
    if legitimate_share is not None and legitimate_share < t.min_aligned_share:
        problems.append(f"only {_pct(legitimate_share)} of the legitimate mail passes DMARC "
                        f"(needs {_pct(t.min_aligned_share)})")
    spoofing = (f"; {unauthenticated} unauthenticated messages (spoofing) would be "
                f"{'quarantined' if current == 'none' else 'stopped'} by a stricter policy") if unauthenticated else ""
    if problems:
        too_strict = _RANK[current] > 0
        if too_strict:
            return ("none", "none", f"{current} is stricter than the evidence supports: "
                    + "; ".join(problems) + ": its mail is being lost now; relax to none until it is fixed", True)
        return ("none", "stay", "stay at none: " + "; ".join(problems) + spoofing, False)
    short = []
    if days < t.min_days:
        short.append(f"reports cover {days} of the {t.min_days} days needed")
    if messages < t.min_messages:
        short.append(f"{messages} of the {t.min_messages} messages needed")
    if short:
        return (current, "stay", f"stay at {current}: too little data (" + ", ".join(short) + ")", False)
    ready = f"{_pct(legitimate_share or 0)} of the legitimate mail passes DMARC over {days} days and {messages} messages"
    if current == "none":
        return ("quarantine", "quarantine", f"move to quarantine: {ready}, no legitimate source fails{spoofing}", False)
    if current == "quarantine":
        if enforced_days < t.min_days:
            return ("quarantine", "stay", f"stay at quarantine: {ready}, but receivers applied quarantine on "
                    f"{enforced_days} of the {t.min_days} days to spend at it before reject", False)
        return ("reject", "reject", f"move to reject: {ready}, after {enforced_days} days at quarantine{spoofing}", False)
    return ("reject", "stay", f"stay at reject: {ready}", False)


def exit_status(summaries: Iterable[DomainSummary]) -> int:
    """1 when some domain's current policy is stricter than its evidence supports, else 0."""
    return 1 if any(s.stricter_than_evidence for s in summaries) else 0
