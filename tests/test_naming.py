"""IAM user names and resource names derived from addresses."""
from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from ses_mail.roster.identifiers import normalize_address
from ses_mail.specs.naming import IAM_NAME_MAX, iam_user_name, is_valid_iam_user_name, tag_value

# RFC 5322 atext, the characters a dot-atom local part may use.
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
local_parts = st.lists(st.text(ATEXT, min_size=1, max_size=20), min_size=1, max_size=4).map(".".join)
labels = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=30)
domains = st.lists(labels, min_size=2, max_size=5).map(".".join)
addresses = st.tuples(local_parts, domains).map(lambda t: f"{t[0]}@{t[1]}")


def valid(address: str) -> str | None:
    try:
        return normalize_address(address)
    except ValueError:
        return None


def test_plain_addresses_stay_readable():
    assert iam_user_name("taro@example.com") == "smtp-taro@example.com"
    assert iam_user_name("first.last+ses@example.co.jp") == "smtp-first.last+ses@example.co.jp"


def test_long_or_unusual_addresses_get_a_readable_prefix_and_a_hash():
    long_name = iam_user_name("a" * 60 + "@example.com")
    assert len(long_name) == IAM_NAME_MAX and long_name.startswith("smtp-aaaa") and "=" in long_name
    odd = iam_user_name("o'brien@example.com")
    assert odd.startswith("smtp-o_brien@example.com=") and is_valid_iam_user_name(odd)


@settings(max_examples=400, deadline=None)
@given(addresses)
def test_every_valid_address_gets_a_valid_iam_name(address):
    canonical = valid(address)
    if canonical is None:
        return
    assert is_valid_iam_user_name(iam_user_name(canonical))


@settings(max_examples=200, deadline=None)
@given(st.lists(addresses, min_size=2, max_size=30))
def test_distinct_addresses_get_distinct_names_case_insensitively(batch):
    # IAM user names are unique case-insensitively; so must ours be.
    canonical = {c for c in map(valid, batch) if c}
    names = {iam_user_name(c).lower() for c in canonical}
    assert len(names) == len(canonical)


def test_sanitised_names_do_not_collide_with_each_other():
    a, b = iam_user_name("a!b@example.com"), iam_user_name("a#b@example.com")
    assert a != b and a.rsplit("=", 1)[0] == b.rsplit("=", 1)[0]


def test_tag_values_fit_iam_tag_alphabet():
    assert tag_value("Taro Yamada") == "Taro Yamada"
    assert tag_value("山田 太郎") == "山田 太郎"
    assert tag_value("O'Brien, Ann <ceo>") == "O_Brien_ Ann _ceo_"
    assert len(tag_value("x" * 300)) == 256
