"""Look-alike domains are refused with both forms shown; other IDNs stay accepted and show both
forms in the plan (UTS #39 data from the confusable-homoglyphs package)."""
from __future__ import annotations

import pytest

from ses_mail.roster import RosterError, parse_roster
from ses_mail.roster.identifiers import both_forms, normalize_address, normalize_domain
from ses_mail.roster.lookalikes import mixes_scripts, skeleton

CYRILLIC_A = "\u0430"


@pytest.mark.parametrize("name,a_label,words", [
    (f"ex{CYRILLIC_A}mple.com", "xn--exmple-4nf.com", "mixes scripts (Cyrillic, Latin)"),
    ("\u0440\u0430\u0443\u0440\u0430l.com", None, "mixes scripts"),                 # раураl
    ("\u0430\u0440\u0440\u04cf\u0435.com", "xn--80ak6aa92e.com", "look-alike letters of ASCII"),  # аррӏе
    ("\u03bf\u03bf\u03bf.com", "xn--0xaaa.com", "look-alike letters of ASCII"),    # Greek οοο
])
def test_look_alikes_are_refused_with_both_forms(name, a_label, words):
    with pytest.raises(ValueError) as err:
        normalize_domain(name)
    message = str(err.value)
    assert name in message and "xn--" in message and words in message
    if a_label:
        assert a_label in message
        with pytest.raises(ValueError):
            normalize_domain(a_label)  # the A-label typed directly is the same domain
    # ...and in an address's domain too
    with pytest.raises(ValueError, match="look-alike"):
        normalize_address(f"taro@{name}")


@pytest.mark.parametrize("name", ["münchen.de", "例え.jp", "日本語ドメイン.jp", "пример.рф", "παράδειγμα.gr",
                                  "straße.de", "tokyo-東京.jp", "bücher.example"])
def test_other_internationalised_domains_stay_accepted(name):
    a_label = normalize_domain(name)
    assert a_label.isascii() and "xn--" in a_label
    assert both_forms(a_label) == f"{name.lower().replace('ß', 'ß')} ({a_label})" or name in both_forms(a_label)


def test_skeletons_follow_uts39():
    assert skeleton(f"ex{CYRILLIC_A}mple") == skeleton("example")
    assert skeleton("rn") == skeleton("m")          # confusables.txt: m -> rn
    assert skeleton("paypal") != skeleton("example")
    assert mixes_scripts("ex\u0430mple") == {"LATIN", "CYRILLIC"}
    assert mixes_scripts("日本語ドメイン") is None and mixes_scripts("tokyo-東京") is None
    assert mixes_scripts("abc-123") is None


def test_two_roster_domains_that_read_the_same_are_refused():
    # Two Cyrillic/Greek spellings of one word: each alone is an IDN, together look-alikes.
    cyr, grk = "\u043f\u0442\u043a.example", "\u03c0\u03c4\u03ba.example"   # птк (Cyrillic) / πτκ (Greek)
    assert skeleton(cyr) == skeleton(grk) and not skeleton(cyr).isascii()
    normalize_domain(cyr), normalize_domain(grk)  # each alone is an accepted IDN
    text = f"domains:\n  - name: {cyr}\n  - name: {grk}\n"
    with pytest.raises(RosterError) as err:
        parse_roster(text, "r.yaml")
    assert "r.yaml:3: domains[1].name" in str(err.value) and "reads the same as" in str(err.value)


def test_an_address_domain_that_reads_like_a_roster_domain_is_refused():
    text = ("domains:\n  - name: \u043f\u0442\u043a.example\npeople:\n"
            "  - email: taro@\u043f\u0442\u043a.example\n  - email: x@\u03c0\u03c4\u03ba.example\n")
    with pytest.raises(RosterError) as err:
        parse_roster(text, "r.yaml")
    assert "people[1].email" in str(err.value)


def test_a_mixed_script_roster_domain_is_refused_at_its_line():
    text = f"domains:\n  - name: example.com\n  - name: ex{CYRILLIC_A}mple.com\n"
    with pytest.raises(RosterError) as err:
        parse_roster(text, "r.yaml")
    message = str(err.value)
    assert f"r.yaml:3: domains[1].name: 'ex{CYRILLIC_A}mple.com' is a look-alike domain" in message
    assert "xn--exmple-4nf.com" in message


def test_the_plan_and_the_diff_show_both_forms(run):
    from ses_mail.cli.plan import render
    from ses_mail.review.changes import Group

    result = run("domains:\n  - name: münchen.de\npeople:\n  - email: taro@münchen.de\n")
    assert "münchen.de (xn--mnchen-3ya.de)" in render(result)
    assert Group("domain", "xn--mnchen-3ya.de").label == "domain münchen.de (xn--mnchen-3ya.de)"
