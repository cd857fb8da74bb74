"""The roster's YAML source: bounded cost whatever the text, line numbers, merge keys, tags.

Every hostile document must end in a clean error (a RosterError naming line and field) in
bounded memory and time; the limits in the guards below are generous on purpose: they catch an
exponential blow-up or a recursion, not a slow machine.
"""
from __future__ import annotations

import textwrap
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ses_mail.roster.errors import RosterError
from ses_mail.roster import Roster, parse_roster
from ses_mail.roster.yaml_source import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_NODES, YamlRefused, read_document
from tests.conftest import EXAMPLE_ROSTER


def parse(text: str) -> Roster:
    return parse_roster(textwrap.dedent(text).lstrip("\n"), "roster.yaml")


def problems(text: str, *, dedent: bool = True) -> list:
    with pytest.raises(RosterError) as caught:
        parse_roster(textwrap.dedent(text).lstrip("\n") if dedent else text, "roster.yaml")
    assert "Traceback" not in str(caught.value)
    return caught.value.problems


def refused(text: str) -> list:
    with pytest.raises(YamlRefused) as caught:
        read_document(text)
    return caught.value.problems


def bounded(fn, *, max_mib: float = 64, max_seconds: float = 10):
    """Run fn; its Python heap peak and CPU time must stay under generous guards."""
    tracemalloc.start()
    start = time.process_time()
    try:
        result = fn()
    finally:
        seconds = time.process_time() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < max_mib * 2**20, f"heap peak {peak / 2**20:.1f} MiB"
    assert seconds < max_seconds, f"{seconds:.1f} s"
    return result


# --- aliases: bounded expansion ----------------------------------------------------------------

def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["domains:", "  - name: example.com", "people:", "  - email: a@example.com", "    recipients:",
             "      - &l0 [" + ", ".join(["'lol'"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"      - &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_cleanly_in_bounded_memory():
    found = bounded(lambda: problems(billion_laughs(), dedent=False), max_mib=16, max_seconds=5)
    assert len(found) == 1
    assert f"more than {MAX_NODES:,} keys and values once aliases" in found[0].message
    assert found[0].field.startswith("people[0].recipients[")
    assert found[0].line is not None and found[0].line > 6


def test_billion_laughs_at_libyaml_scale_is_refused_at_once():
    # 30 levels of 30 aliases: 30**30 values if expanded; counted per anchor instead
    found = bounded(lambda: refused(billion_laughs(levels=30, width=30)), max_mib=16, max_seconds=5)
    assert "once aliases" in found[0].message


def test_aliases_within_the_bound_are_values_like_any_other():
    roster = parse("""
        domains:
          - name: example.com
        people:
          - email: a@example.com
            recipients: &internal ['*@example.com', '*@example.org']
          - email: b@example.com
            recipients: *internal
    """)
    assert roster.people[0].recipients == roster.people[1].recipients == ("*@example.com", "*@example.org")


def test_alias_depth_counts_what_it_brings_in():
    inner = "[" * 20 + "x" + "]" * 20
    text = f"a: &a {inner}\nb: &b {'[' * 20}*a{']' * 20}\n"
    found = refused(text)
    assert f"more than {MAX_DEPTH} levels deep" in found[0].message
    assert found[0].line == 2


@pytest.mark.parametrize("text, line, message", [
    ("a: &a [1, *a]\n", 1, "refers with *a to the node that contains it"),
    ("a: *nowhere\n", 1, "refers to the anchor &nowhere, which is not defined"),
    ("a: &x 1\nb: &x 2\n", 2, "defines the anchor &x again (first on line 1)"),
])
def test_anchor_mistakes_are_refused(text, line, message):
    found = refused(text)
    assert found[0].line == line
    assert message in found[0].message


# --- depth ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 10_000, 100_000])
@pytest.mark.parametrize("shape", ["flow sequence", "flow mapping", "block sequence", "closed flow"])
def test_deep_nesting_is_refused_before_it_is_built(levels, shape):
    text = {
        "flow sequence": "[" * levels,
        "flow mapping": "{a: " * levels,
        "block sequence": "- " * levels + "x\n",
        "closed flow": "domains: " + "[" * levels + "]" * levels + "\n",
    }[shape]
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        pytest.skip("refused for its size first")
    found = bounded(lambda: problems(text, dedent=False), max_mib=32, max_seconds=5)
    assert len(found) == 1
    assert f"more than {MAX_DEPTH} levels deep" in found[0].message
    assert found[0].line == 1


def test_nesting_up_to_the_bound_is_read():
    document = read_document("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert document is not None


def test_deep_block_mappings_are_refused():
    text = "".join(f"{'  ' * i}k{i}:\n" for i in range(1_000))
    found = problems(text, dedent=False)
    assert f"more than {MAX_DEPTH} levels deep" in found[0].message
    assert found[0].line == MAX_DEPTH + 1
    assert found[0].field == ".".join(f"k{i}" for i in range(MAX_DEPTH))  # the mapping of k31 is the 33rd


# --- size -----------------------------------------------------------------------------------------

def test_an_oversized_document_is_refused_before_parsing():
    text = "domains:\n  - name: example.com\n" + "# padding\n" * (MAX_DOCUMENT_BYTES // 10 + 1)
    found = bounded(lambda: problems(text, dedent=False), max_mib=64, max_seconds=5)
    assert len(found) == 1
    assert f"a roster may have at most {MAX_DOCUMENT_BYTES:,}" in found[0].message
    assert found[0].line is None and found[0].field == ""


def test_size_is_counted_in_utf8_bytes():
    text = "# " + "日" * (MAX_DOCUMENT_BYTES // 3) + "\n"  # fewer characters than the bound, more bytes
    assert len(text) < MAX_DOCUMENT_BYTES < len(text.encode())
    assert "a roster may have at most" in refused(text)[0].message


def test_a_document_just_under_the_size_bound_is_parsed():
    text = "domains:\n  - name: example.com\n" + "#" * (MAX_DOCUMENT_BYTES - 100) + "\n"
    assert bounded(lambda: parse_roster(text), max_mib=128, max_seconds=10).domains[0].name == "example.com"


# --- tags -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tagged", [
    "!!binary YWxpY2VAZXhhbXBsZS5jb20=",
    "!!python/name:os.system ''",
    "!!python/object/apply:os.system ['true']",
    "!foo a@example.com",
    "! a@example.com",
    "!<tag:example.com,2024:email> a@example.com",
    "!!set {a@example.com}",
    "!!omap [a: b]",
    "!!pairs [a: b]",
    "!!timestamp 2024-01-01",
    "!!int '1'",
    "!!float '1'",
    "!!bool 'true'",
    "!!null ''",
    "!!map {a: b}",
    "!!seq [a]",
    "!!str [a]",
])
def test_explicit_tags_are_refused_with_line_and_field(tagged):
    found = problems(f"""
        domains:
          - name: example.com
        people:
          - email: a@example.com
            name: {tagged}
    """)
    assert len(found) == 1, found
    assert found[0].line == 5
    assert found[0].field == "people[0].name"
    assert "has the YAML tag" in found[0].message and "plain values only" in found[0].message


def test_every_tag_is_reported_at_once():
    found = problems("""
        domains:
          - name: !!binary ZXhhbXBsZS5jb20=
        people:
          - email: !foo a@example.com
    """)
    assert [(p.line, p.field) for p in found] == [(2, "domains[0].name"), (4, "people[0].email")]


def test_a_redefined_secondary_handle_is_still_refused():
    found = problems("%TAG !! tag:example.com,2024:\n---\ndomains:\n  - name: !!str example.com\n", dedent=False)
    assert found[0].line == 4 and "tag:example.com,2024:str" in found[0].message


def test_str_tag_is_allowed_on_text():
    roster = parse("""
        domains:
          - name: example.com
        people:
          - email: a@example.com
            name: !!str 12345
    """)
    assert roster.people[0].name == "12345"


# --- merge keys -----------------------------------------------------------------------------------

MERGED = """
    domains:
      - name: example.com
    people:
      - &first
        email: a@example.com
        name: First
        recipients: ['*@example.com']
      - <<: *first
        email: b@example.com
        recipients: ['*@example.org']
"""


def test_merge_key_then_overriding_keys_follow_yaml():
    roster = parse(MERGED)
    second = roster.people[1]
    assert second.email == "b@example.com"              # written after the merge: overrides
    assert second.recipients == ("*@example.org",)
    assert second.name == "First"                       # merged


def test_merge_key_with_override_reports_no_duplicate():
    document = read_document(textwrap.dedent(MERGED))
    assert document.duplicates == []
    assert document.line(("people", 1, "email")) == 10   # the override's own line
    assert document.line(("people", 1, "name")) == 9     # a merged key: the `<<` line


def test_merge_key_order_in_a_list_follows_yaml():
    document = read_document("a: &a {k: 1, x: a}\nb: &b {k: 2, y: b}\nc:\n  <<: [*a, *b]\n  z: c\n")
    assert document.data["c"] == {"k": 1, "x": "a", "y": "b", "z": "c"}  # earlier in the list wins
    assert document.duplicates == []


def test_overriding_a_key_before_the_merge_also_wins():
    document = read_document("a: &a {k: 1}\nb:\n  k: 2\n  <<: *a\n")
    assert document.data["b"] == {"k": 2}
    assert document.duplicates == []


def test_a_real_duplicate_key_is_still_reported():
    found = problems("""
        domains:
          - name: example.com
        people:
          - &first
            email: a@example.com
          - <<: *first
            email: b@example.com
            name: One
            name: Two
    """)
    assert [(p.line, p.field, p.message) for p in found] == [(9, "people[1].name", "is given twice")]


def test_a_merge_of_something_else_than_a_mapping_is_refused():
    found = problems("""
        domains:
          - name: example.com
        people:
          - email: a@example.com
            <<: [not, a, mapping]
    """)
    assert found[0].line == 5 and found[0].field == "people[0].<<"
    assert "merges (`<<`) something that is not a mapping" in found[0].message


def test_an_error_inside_a_merged_value_points_at_the_merge():
    document = read_document("base: &base {recipients: [x]}\nperson:\n  email: a\n  <<: *base\n")
    assert document.line(("person", "recipients", 0)) == 4


def test_values_inside_an_alias_take_the_alias_line():
    document = read_document("a: &a\n  - x\n  - y\nb:\n  - 1\n  - *a\n")
    assert document.line(("b", 1, 0)) == 6
    assert document.line(("a", 1)) == 3


# --- syntax and other errors ----------------------------------------------------------------------

@pytest.mark.parametrize("text, line, message", [
    ("domains:\n  - name: example.com\n   bad: [\n", 3, "expected <block end>"),
    ("domains: [example.com\npeople: []\n", 2, "expected ',' or ']'"),
    ("domains:\n\t- name: example.com\n", 2, "found character '\\t' that cannot start any token"),
    ("domains:\n  - name: 'example.com\n", 3, "found unexpected end of stream"),
    ("domains: []\n---\npeople: []\n", 2, "expected a single document"),
    ("domains:\n  - name: example.com\n    ttl: 2024-13-45\n", 3, "'2024-13-45' reads as a timestamp but is not a valid one"),
    ("domains:\n  - name: example.com\n    ttl: 0x_\n", 3, "'0x_' reads as a int but is not a valid one"),
    ("domains:\n  - name: example.com\n    \x00: x\n", 3, "unacceptable character #x0000"),
    ("domains:\n  - name: example.com\n    zone: \ud800\n", 3, "is not Unicode text"),
    ("domains:\n  ? [a, b]\n  : x\n", 2, "keys are plain text"),
])
def test_syntax_errors_keep_their_line(text, line, message):
    found = problems(text, dedent=False)
    assert found[0].line == line
    assert message in found[0].message
    assert str(found[0]).startswith(f"roster.yaml:{line}:")


def test_a_big_document_gets_libyamls_message_in_bounded_time():
    text = "domains:\n" + "".join(f"  - name: d{i}.example.com\n" for i in range(20_000)) + "people: [\n"
    found = bounded(lambda: problems(text, dedent=False), max_mib=128, max_seconds=10)
    assert found[0].line == 20_003 and "is not valid YAML" in found[0].message  # the end of the text


def test_empty_documents():
    assert read_document("") is None
    assert read_document("# only a comment\n") is None
    assert read_document("---\n").data is None


# --- properties: valid, or a clean RosterError -------------------------------------------------------

BASE_ROSTER = EXAMPLE_ROSTER.read_text(encoding="utf-8") + (
    "  - &shared\n"
    "    email: shared@example.com\n"
    "    recipients: &internal ['*@example.com']\n"
    "  - <<: *shared\n"
    "    email: other@example.com\n"
    "    allowed_ips: [203.0.113.0/24]\n"
    "    recipients: *internal\n"
)

TOKENS = ["domains:", "people:", "defaults:", "- ", "  ", "    ", "\n", ": ", ":", "[", "]", "{", "}", ", ",
          "name", "email", "recipients", "example.com", "a@example.com", "'", '"', "&a ", "*a", "&b ", "*b",
          "<<: ", "<< ", "!!binary ", "!!str ", "!foo ", "!!python/object:x ", "? ", "|", ">", "#", "---\n",
          "...\n", "%TAG ! x:\n", "~", "null", "true", "0x_", "2024-13-45", "1e400", ".nan", "=", "\t", "\\",
          "é", "\ufeff", "\x00", "\ud800", "%", "@", "`"]

# Mostly tokens; now and then a few printable characters (control characters are in TOKENS,
# rarely enough that most texts get past the reader).
yamlish = st.lists(st.sampled_from(TOKENS) | st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=3),
                   max_size=60).map("".join)


def assert_valid_or_clean(text: str) -> None:
    try:
        result = parse_roster(text, "roster.yaml")
    except RosterError as err:
        rendered = str(err)
        assert "Traceback" not in rendered
        assert err.problems and all(str(p).startswith("roster.yaml") for p in err.problems)
    else:
        assert isinstance(result, Roster)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_random_yamlish_text_is_valid_or_a_clean_roster_error(text):
    assert_valid_or_clean(text)


@st.composite
def mutated_rosters(draw) -> str:
    text = BASE_ROSTER
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "duplicate", "insert", "insert token", "swap lines", "repeat line"]))
        at = draw(st.integers(0, len(text)))
        if op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif op == "duplicate":
            text = text[:at] + text[at:at + draw(st.integers(1, 20))] + text[at:]
        elif op == "insert":
            text = text[:at] + draw(st.text(min_size=1, max_size=4)) + text[at:]
        elif op == "insert token":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if op == "swap lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            text = "\n".join(lines)
    return text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_rosters())
def test_mutated_rosters_are_valid_or_a_clean_roster_error(text):
    assert_valid_or_clean(text)


def test_the_mutation_base_is_a_valid_roster():
    roster = parse_roster(BASE_ROSTER)
    assert roster.people[-1].email == "other@example.com"
    assert roster.people[-1].recipients == ("*@example.com",)
