"""The roster model: what it accepts, how it normalises, and how it reports every user error."""
from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_mail.roster.errors import RosterError
from ses_mail.roster import load_roster, parse_roster
from tests.conftest import EXAMPLE_ROSTER


def parse(text: str):
    return parse_roster(textwrap.dedent(text).lstrip("\n"), "roster.yaml")


def problems(text: str) -> list:
    with pytest.raises(RosterError) as caught:
        parse(text)
    return caught.value.problems


def test_example_roster_is_valid():
    roster = load_roster(EXAMPLE_ROSTER)
    assert [d.name for d in roster.domains] == ["example.com", "example.org"]
    assert "taro@example.com" in [p.email for p in roster.people]


def test_defaults_are_documented_values():
    roster = parse("""
        domains:
          - name: example.com
    """)
    domain = roster.domains[0]
    assert domain.hosted_zone == "example.com"
    assert domain.mail_from_domain == "mail.example.com"
    assert domain.ttl == 600 and domain.protect is True
    assert domain.dmarc.enabled and domain.dmarc.policy == "none"
    assert roster.people == ()


def test_domains_and_address_domains_are_lowercased_and_idna_encoded():
    roster = parse("""
        domains:
          - name: Example.COM.
          - name: bücher.example
        people:
          - email: Taro.Yamada@EXAMPLE.com
          - email: info@BÜCHER.example
    """)
    assert [d.name for d in roster.domains] == ["example.com", "xn--bcher-kva.example"]
    assert [p.email for p in roster.people] == ["taro.yamada@example.com", "info@xn--bcher-kva.example"]


def test_dmarc_false_disables_and_reports_get_mailto():
    roster = parse("""
        domains:
          - name: a.example
            dmarc: false
          - name: b.example
            dmarc:
              policy: reject
              rua: mailto:Reports@B.example
    """)
    assert roster.domains[0].dmarc.enabled is False
    assert roster.domains[1].dmarc.rua == ("reports@b.example",)


def test_zone_may_be_a_parent_of_the_domain():
    roster = parse("""
        domains:
          - name: mail.example.com
            zone: example.com
    """)
    assert roster.domains[0].hosted_zone == "example.com"


# Every class of user error: (roster text, line, field, offending value or None, words of the message)
BAD = {
    "yaml syntax": ("domains:\n  - name: example.com\n   bad: [\n", 3, "", None, "not valid YAML"),
    "empty file": ("", None, "", None, "is empty"),
    "only a comment": ("# nothing yet\n", None, "", None, "is empty"),
    "not a mapping": ("- example.com\n", 1, "", ["example.com"], "must be a mapping"),
    "unknown key (typo)": ("domains:\n  - name: example.com\n    mailfrom: mail\n", 3, "domains[0].mailfrom", None, "not a known field"),
    "unknown top-level key": ("domains:\n  - name: example.com\nperson: []\n", 3, "person", None, "not a known field"),
    "missing domains": ("people: []\n", 1, "domains", None, "is required"),
    "no domains": ("domains: []\n", 1, "domains", [], "at least 1"),
    "missing name": ("domains:\n  - zone: example.com\n", 2, "domains[0].name", None, "is required"),
    "empty name": ("domains:\n  - name: ''\n", 2, "domains[0].name", "", "is empty"),
    "missing email": ("domains:\n  - name: example.com\npeople:\n  - name: Taro\n", 4, "people[0].email", None, "is required"),
    "empty person name": ("domains:\n  - name: example.com\npeople:\n  - email: a@example.com\n    name: ''\n", 5, "people[0].name", "", "is empty"),
    "invalid address": ("domains:\n  - name: example.com\npeople:\n  - email: taro@@example.com\n",
                        4, "people[0].email", "taro@@example.com", "not a valid email address"),
    "address without domain": ("domains:\n  - name: example.com\npeople:\n  - email: taro\n",
                               4, "people[0].email", "taro", "not a valid email address"),
    "non-ascii local part": ("domains:\n  - name: example.com\npeople:\n  - email: tarō@example.com\n",
                             4, "people[0].email", "tarō@example.com", "not a valid email address"),
    "invalid domain": ("domains:\n  - name: exa_mple.com\n", 2, "domains[0].name", "exa_mple.com", "not a valid domain name"),
    "single-label domain": ("domains:\n  - name: localhost\n", 2, "domains[0].name", "localhost", "fully qualified"),
    "ip as domain": ("domains:\n  - name: 192.0.2.1\n", 2, "domains[0].name", "192.0.2.1", "IP address"),
    "address on unlisted domain": ("domains:\n  - name: example.com\npeople:\n  - email: taro@other.com\n",
                                   4, "people[0].email", "taro@other.com", "not listed under domains"),
    "duplicate domain (case)": ("domains:\n  - name: example.com\n  - name: EXAMPLE.com\n", 3, "domains[1].name", "example.com", "listed twice"),
    "duplicate address (case)": ("domains:\n  - name: example.com\npeople:\n  - email: a@example.com\n  - email: A@Example.COM\n",
                                 5, "people[1].email", "a@example.com", "listed twice"),
    "duplicate key": ("domains:\n  - name: example.com\n    name: example.org\n", 3, "domains[0].name", None, "given twice"),
    "invalid dmarc policy": ("domains:\n  - name: example.com\n    dmarc:\n      policy: quarantin\n",
                             4, "domains[0].dmarc.policy", "quarantin", "'none', 'quarantine' or 'reject'"),
    "invalid dmarc alignment": ("domains:\n  - name: example.com\n    dmarc:\n      dkim_alignment: loose\n",
                                4, "domains[0].dmarc.dkim_alignment", "loose", "'relaxed' or 'strict'"),
    "invalid dmarc rua": ("domains:\n  - name: example.com\n    dmarc:\n      rua: [reports]\n",
                          4, "domains[0].dmarc.rua", ["reports"], "not a valid email address"),
    "unknown dmarc tag (pct was removed)": ("domains:\n  - name: example.com\n    dmarc:\n      pct: 25\n",
                                            4, "domains[0].dmarc.pct", None, "not a known field"),
    "mail_from not a label": ("domains:\n  - name: example.com\n    mail_from: mail.sub\n", 3, "domains[0].mail_from", "mail.sub", "not a DNS label"),
    "mail_from with underscore": ("domains:\n  - name: example.com\n    mail_from: _bounce\n",
                                  3, "domains[0].mail_from", "_bounce", "not a DNS label"),
    "zone not containing domain": ("domains:\n  - name: example.com\n    zone: example.org\n",
                                   3, "domains[0].zone", "example.org", "does not contain"),
    "ttl out of range": ("domains:\n  - name: example.com\n    ttl: 5\n", 3, "domains[0].ttl", 5, "should be at least 60"),
    "people not a list": ("domains:\n  - name: example.com\npeople:\n  email: a@example.com\n",
                          3, "people", {"email": "a@example.com"}, "should be a list"),
    "number as name": ("domains:\n  - name: example.com\npeople:\n  - email: a@example.com\n    name: 123\n",
                       5, "people[0].name", 123, "should be text"),
}


@pytest.mark.parametrize("case", BAD.keys())
def test_each_user_error_names_file_line_field_and_value(case):
    text, line, field, value, words = BAD[case]
    found = problems(text)
    matching = [p for p in found if p.field == field and words in p.message]
    assert matching, f"expected {field!r}: {words!r}, got {[str(p) for p in found]}"
    problem = matching[0]
    assert problem.file == "roster.yaml"
    assert problem.line == line
    if value is not None:
        assert problem.value == value
        assert repr(value) in str(problem)
    rendered = str(problem)
    assert rendered.startswith("roster.yaml" + (f":{line}" if line else ""))


def test_all_problems_are_reported_at_once_ordered_by_line():
    """Field errors and cross-field errors (duplicates, unlisted domains) in one run, so a user
    fixes the roster in one round, not one class of problem per round."""
    found = problems("""
        domains:
          - name: example.com
            mail_from: a.b
        people:
          - email: bad
          - email: x@unlisted.example
          - email: dup@example.com
            allowed_ips: [10.0.0.1, not-an-ip, 203.0.113.0/24, also-bad]
          - email: DUP@example.com
    """)
    assert [(p.line, p.field) for p in found] == [
        (3, "domains[0].mail_from"),
        (5, "people[0].email"),
        (6, "people[1].email"),            # unlisted domain, though other fields are broken
        (8, "people[2].allowed_ips[0]"),   # every bad item of one list, each at its own line
        (8, "people[2].allowed_ips[1]"),
        (8, "people[2].allowed_ips[3]"),
        (9, "people[3].email"),            # duplicate of people[2]
    ]
    assert "listed twice" in found[-1].message and "not listed under domains" in found[2].message


def test_people_on_a_domain_item_that_is_itself_invalid_are_not_called_unlisted():
    found = problems("""
        domains:
          - name: example.com
            ttl: 5
        people:
          - email: taro@example.com
    """)
    assert [p.field for p in found] == ["domains[0].ttl"]


@pytest.mark.parametrize("case", BAD.keys())
def test_messages_are_in_our_words_not_pydantic_s(case):
    for problem in problems(BAD[case][0]):
        assert not any(raw in problem.message for raw in ("Input should", "Value error", "valid tuple", "pydantic")), str(problem)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RosterError, match=r"missing\.yaml: does not exist"):
        load_roster(tmp_path / "missing.yaml")


def test_removing_a_domain_still_used_by_people_is_refused():
    before = """
        domains:
          - name: example.com
          - name: example.org
        people:
          - email: info@example.org
    """
    parse(before)
    after = "\n".join(line for line in before.splitlines() if "name: example.org" not in line)
    (problem,) = problems(after)
    assert problem.field == "people[0].email" and "cannot be removed" in problem.message


_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.+-_", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)


@settings(max_examples=50, deadline=None)
@given(st.lists(_local, min_size=1, max_size=8, unique_by=str.lower), st.randoms())
def test_order_of_people_does_not_change_the_model_per_address(locals_, rnd):
    lines = ["domains:", "  - name: example.com", "people:"] + [f"  - email: {local}@example.com" for local in locals_]
    shuffled = lines[:3] + rnd.sample(lines[3:], len(lines) - 3)
    a = {p.email: p for p in parse_roster("\n".join(lines) + "\n").people}
    b = {p.email: p for p in parse_roster("\n".join(shuffled) + "\n").people}
    assert a == b


def test_dns_defaults_to_route53_and_a_zone_needs_it():
    roster = parse_roster("domains:\n  - name: example.com\n  - name: example.net\n    dns: external\n", "r.yaml")
    assert [d.dns for d in roster.domains] == ["route53", "external"]
    with pytest.raises(RosterError) as caught:
        parse_roster("domains:\n  - name: a.example.com\n    dns: external\n    zone: example.com\n", "r.yaml")
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (4, "domains[0].zone") and "only used with dns route53 or cloudflare" in problem.message
    with pytest.raises(RosterError, match="domains\\[0\\].dns"):
        parse_roster("domains:\n  - name: example.com\n    dns: gandi\n", "r.yaml")
