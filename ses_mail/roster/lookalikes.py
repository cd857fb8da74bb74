"""Look-alike domains: labels that mix scripts, and names written in another script's
look-alike letters (UTS #39, Unicode Security Mechanisms).

The data are Unicode's own: the `confusable-homoglyphs` package (maintained, on PyPI) ships
confusables.txt (UTS #39's confusable pairs) and Scripts.txt (each character's script) as JSON.
It has no skeleton function, so `skeleton` follows UTS #39 section 4 on its data: NFD, every
character replaced by the representative of its confusable class, NFD again. Each class of
confusables.txt is one prototype and the characters that map to it; the representative is the
prototype when it is several characters (m -> "rn"), else an ASCII member when there is one,
else the class's most connected member (the prototype). Classes are joined transitively, so a
skeleton can equate a little more than UTS #39 does (never less): stricter, not looser. Two strings are confusable exactly when
their skeletons are equal, whichever member represents a class.
"""
from __future__ import annotations

import functools
import json
import unicodedata
from importlib import resources

from confusable_homoglyphs import categories

#: Scripts that never make a label mixed (digits, hyphen, combining marks).
_NEUTRAL = {"COMMON", "INHERITED"}
#: UTS #39 "Highly Restrictive": one script, or Latin with one of these CJK combinations.
_CJK_SETS = ({"HAN", "HIRAGANA", "KATAKANA"}, {"HAN", "BOPOMOFO"}, {"HAN", "HANGUL"})


@functools.cache
def _representatives() -> dict[str, str]:
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    edges: dict[str, set[str]] = {}
    # The package wraps right-to-left characters in LEFT-TO-RIGHT MARKs for display: not data.
    strip = str.maketrans("", "", "\u200e")
    for raw, entries in data.items():
        key = raw.translate(strip)
        for entry in entries:
            other = entry["c"].translate(strip)
            if key and other and key != other:
                edges.setdefault(key, set()).add(other)
                edges.setdefault(other, set()).add(key)
    rep: dict[str, str] = {}
    for start in edges:
        if start in rep:
            continue
        component, todo = {start}, [start]
        while todo:
            for other in edges[todo.pop()]:
                if other not in component:
                    component.add(other)
                    todo.append(other)
        ascii_ = sorted(m for m in component if m.isascii() and m.isprintable())
        multi = [m for m in ascii_ if len(m) > 1] or sorted(m for m in component if len(m) > 1)
        chosen = (multi or ascii_ or [max(sorted(component), key=lambda m: len(edges[m]))])[0]
        for member in component:
            rep[member] = chosen
    return rep


def skeleton(text: str) -> str:
    """UTS #39 skeleton: equal for two strings exactly when they are confusable."""
    rep = _representatives()
    mapped = "".join(rep.get(c, c) for c in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


def scripts_of(label: str) -> set[str]:
    """The scripts of a label's characters, without the neutral ones (digits, hyphen, marks)."""
    return {categories.alias(c) for c in label} - _NEUTRAL


def mixes_scripts(label: str) -> set[str] | None:
    """The scripts of a label that mixes them (UTS #39 Highly Restrictive), else None."""
    found = scripts_of(label)
    if len(found) <= 1 or any(found - {"LATIN"} <= allowed for allowed in _CJK_SETS):
        return None
    return found


def ascii_look_alike(name: str) -> str | None:
    """The all-ASCII name a non-ASCII domain reads as (its skeleton, when that is all ASCII)."""
    if name.isascii():
        return None
    shadow = skeleton(name)
    return shadow if shadow.isascii() else None


def check_look_alike(u_label: str) -> str | None:
    """Why a domain (U-label form) is a look-alike, else None."""
    for label in u_label.split("."):
        mixed = mixes_scripts(label)
        if mixed:
            return f"has a label {label!r} that mixes scripts ({', '.join(sorted(s.title() for s in mixed))})"
    shadow = ascii_look_alike(u_label)
    if shadow is not None:
        return "is written entirely in look-alike letters of ASCII ones: it reads as an ASCII name"
    return None
