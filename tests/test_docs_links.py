"""The front page and the pages under docs/ hold together: every relative link reaches a file,
every `#anchor` a heading as GitHub names it, every test a page names exists, and the index
lists every page."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import PROJECT_DIR

DOCS = PROJECT_DIR / "docs"
PAGES = [PROJECT_DIR / "README.md", *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) and ![alt](target); the text may hold `code` and span lines (a page is read whole).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def prose(text: str) -> str:
    """`text` without fenced code blocks and inline code spans, where nothing is a link."""
    kept, fenced = [], False
    for line in text.split("\n"):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            kept.append("")
            continue
        kept.append("" if fenced else line)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", "\n".join(kept), flags=re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup and punctuation dropped (letters, digits, `_`, `-`
    and spaces kept), lowercased, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor of `page`: its headings' slugs, a repeated slug getting -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").split("\n"):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    return LINK.findall(prose(page.read_text(encoding="utf-8")))


def name(page: Path) -> str:
    return str(page.relative_to(PROJECT_DIR))


def test_slugs_follow_githubs_rules():
    assert slug("Check a live account: `ses-mail doctor`") == "check-a-live-account-ses-mail-doctor"
    assert slug("Rotate a person's key (no downtime)") == "rotate-a-persons-key-no-downtime"
    assert slug("Already using SES?") == "already-using-ses"
    assert slug("Deliverability: configuration set, feedback and alarms") == \
        "deliverability-configuration-set-feedback-and-alarms"
    assert slug("What `pulumi up` creates") == "what-pulumi-up-creates"
    assert slug("Keys ≥ 2 and P1–P4") == "keys--2-and-p1p4"
    assert slug("`secret_admins` and the [roster](roster.md)") == "secret_admins-and-the-roster"


def test_repeated_headings_get_numbered_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Notes\n\n```sh\n# Notes\n```\n\n## Notes\n\n### Notes\n", encoding="utf-8")
    assert anchors(page) == {"title", "notes", "notes-1", "notes-2"}


def test_links_in_code_are_not_links(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See [a](a.md#x) and `[b](b.md)`.\n\n```md\n[c](c.md)\n```\n[d\ne](d.md)\n", encoding="utf-8")
    assert links(page) == ["a.md#x", "d.md"]


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_relative_link_and_anchor_resolves(page):
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...: not ours to check
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / unquote(path)).resolve() if path else page
        if not destination.exists():
            problems.append(f"{target}: no such file {destination}")
            continue
        if anchor and destination.suffix == ".md" and unquote(anchor) not in anchors(destination):
            problems.append(f"{target}: no heading gives #{anchor} in {name(destination)}")
        elif anchor and destination.suffix != ".md":
            problems.append(f"{target}: an anchor into a file that is not Markdown")
    assert not problems, f"{name(page)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_test_a_page_names_exists(page):
    missing = []
    for path, test in TEST_REF.findall(page.read_text(encoding="utf-8")):
        source = PROJECT_DIR / path
        defined = set()
        if source.exists():
            defined = {node.name for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if test not in defined:
            missing.append(f"{path}::{test}")
    assert not missing, f"{name(page)} names tests that do not exist: {missing}"


def test_the_index_lists_every_page_and_the_front_page_links_the_index():
    index = DOCS / "README.md"
    listed = {Path(target.partition("#")[0]).name for target in links(index)}
    unlisted = [page.name for page in DOCS.glob("*.md") if page != index and page.name not in listed]
    assert not unlisted, f"docs/README.md does not list {unlisted}"
    assert "docs/README.md" in links(PROJECT_DIR / "README.md")
