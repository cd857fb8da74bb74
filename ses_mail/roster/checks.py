"""Rules that span fields: uniqueness, zone containment, addresses on listed domains, and a
person's settings against each other and the stack defaults."""
from __future__ import annotations

from typing import Any, Callable

from ses_mail.roster.errors import NO_VALUE, Problem
from ses_mail.roster.identifiers import is_within
from ses_mail.roster.model import Person, Roster
from ses_mail.roster.paths import Path_, field_name
from ses_mail.specs.key_slots import MAX_KEYS_PER_USER

LineOf = Callable[[Path_], "int | None"]


def cross_check(roster: Roster, file: str, line_of: LineOf) -> list[Problem]:
    """Rules that span fields: uniqueness, zone containment, addresses on listed domains."""
    problems: list[Problem] = []

    def problem(path: Path_, value: Any, message: str) -> None:
        problems.append(Problem(file, line_of(path), field_name(path), value, message))

    first_domain: dict[str, int] = {}
    for i, domain in enumerate(roster.domains):
        if domain.name in first_domain:
            other = first_domain[domain.name]
            problem(("domains", i, "name"), domain.name, f"is listed twice (also domains[{other}], line {line_of(('domains', other))})")
        first_domain.setdefault(domain.name, i)
        if domain.dns == "external" and domain.zone is not None:
            problem(("domains", i, "zone"), domain.zone, "is only used with dns route53, but dns is external: "
                    "remove `zone`, or set `dns: route53`")
        elif not is_within(domain.name, domain.hosted_zone):
            problem(("domains", i, "zone"), domain.zone, f"does not contain the domain {domain.name!r}")
        if len(domain.mail_from_domain) > 253:
            problem(("domains", i, "mail_from"), domain.mail_from, "makes the MAIL FROM domain longer than 253 characters")

    first_person: dict[str, int] = {}
    for i, person in enumerate(roster.people):
        if person.email in first_person:
            other = first_person[person.email]
            problem(("people", i, "email"), person.email, f"is listed twice (also people[{other}], line {line_of(('people', other))})")
        first_person.setdefault(person.email, i)
        if person.domain not in first_domain:
            problem(("people", i, "email"), person.email,
                    f"is on domain {person.domain!r}, which is not listed under domains "
                    "(a domain still used by people cannot be removed)")
        _check_person(roster, i, person, problem)
    return problems


def _check_person(roster: Roster, i: int, person: Person, problem: Any) -> None:
    """A person's settings against each other and the stack defaults."""
    at = ("people", i)
    if person.previous_key is not None and person.previous_key != person.key - 1:
        if person.previous_key >= person.key:
            reason = f"must be lower than key ({person.key}): it is the generation being retired"
        else:
            reason = (f"must be {person.key - 1} (key - 1): IAM allows {MAX_KEYS_PER_USER} access keys per user, "
                      f"so only the generation just before key {person.key} can be kept; "
                      f"retire generation {person.previous_key} first")
        problem((*at, "previous_key"), person.previous_key, reason)

    defaults = roster.defaults
    display = person.display_name if person.display_name is not None else defaults.display_name
    if display is True and not person.name:
        if person.display_name is True:
            problem((*at, "display_name"), True, "pins the From display name to `name`, but this person has "
                    "no name: give a name, or the display name as text")
        else:
            problem((*at, "name"), NO_VALUE, "is required because defaults.display_name pins every From display "
                    "name to `name`: give a name, a display_name text, or display_name: false")

    delivery = person.delivery or defaults.delivery
    delivery_path = (*at, "delivery") if person.delivery else ("defaults", "delivery")
    if delivery == "pgp" and not person.pgp_key:
        problem((*at, "pgp_key"), NO_VALUE, f"is required with delivery pgp (from {field_name(delivery_path)})")
    if person.pgp_key and delivery != "pgp":
        problem((*at, "pgp_key"), NO_VALUE, f"is only used with delivery pgp, but delivery is {delivery}: "
                "set `delivery: pgp` or remove the key")
    if person.secret_readers is not None and delivery != "secrets_manager":
        problem((*at, "secret_readers"), list(person.secret_readers),
                f"is only used with delivery secrets_manager, but delivery is {delivery}")
    if delivery == "secrets_manager" and not (person.secret_readers or defaults.secret_readers):
        problem((*at, "secret_readers"), NO_VALUE,
                "is required with delivery secrets_manager (here or as defaults.secret_readers): "
                "the secret is readable only by the roles or users listed")


