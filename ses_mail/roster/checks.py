"""Rules that span fields: uniqueness, zone containment, addresses on listed domains, and a
person's settings against each other and the stack defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ses_mail.modes.delivery import delivery_mode, modes_where
from ses_mail.modes.dns import dns_provider, providers_where
from ses_mail.roster.errors import NO_VALUE, Problem
from ses_mail.roster.identifiers import both_forms, domain_of, is_within, unicode_form
from ses_mail.roster.lookalikes import skeleton
from ses_mail.roster.model import Defaults, Domain, Person, Roster
from ses_mail.roster.paths import Path_, field_name
from ses_mail.roster.restrictions import normalize_display_name
from ses_mail.specs.key_slots import MAX_KEYS_PER_USER
from ses_mail.specs.rotation_policy import check_schedule

LineOf = Callable[[Path_], "int | None"]


@dataclass(frozen=True)
class Parts:
    """The items of a roster that are valid on their own, with their indices in the file.

    Cross-field rules run on these even when other items have field errors, so one run reports
    every problem. `unchecked_domains` are names written on domain items that failed their own
    validation: people on them are not reported as being on an unlisted domain.
    """

    domains: Sequence[tuple[int, Domain]]
    people: Sequence[tuple[int, Person]]
    defaults: Defaults
    unchecked_domains: frozenset[str] = frozenset()
    #: (index, address) of people whose address is valid but some other field is not: still
    #: checked for duplicates and unlisted domains.
    other_addresses: Sequence[tuple[int, str]] = ()

    @classmethod
    def of(cls, roster: Roster) -> "Parts":
        return cls(list(enumerate(roster.domains)), list(enumerate(roster.people)), roster.defaults)


def cross_check(parts: Parts, file: str, line_of: LineOf) -> list[Problem]:
    """Rules that span fields: uniqueness, zone containment, addresses on listed domains."""
    problems: list[Problem] = []

    def problem(path: Path_, value: Any, message: str) -> None:
        problems.append(Problem(file, line_of(path), field_name(path), value, message))

    first_domain: dict[str, int] = {}
    for i, domain in parts.domains:
        if domain.name in first_domain:
            other = first_domain[domain.name]
            problem(("domains", i, "name"), domain.name, f"is listed twice (also domains[{other}], line {line_of(('domains', other))})")
        first_domain.setdefault(domain.name, i)
        if not dns_provider(domain.dns).uses_zone and domain.zone is not None:
            zoned = providers_where("uses_zone")
            problem(("domains", i, "zone"), domain.zone, f"is only used with dns {' or '.join(zoned)}, but dns is "
                    f"{domain.dns}: remove `zone`, or set `dns: {zoned[0]}`")
        elif not is_within(domain.name, domain.hosted_zone):
            problem(("domains", i, "zone"), domain.zone, f"does not contain the domain {domain.name!r}")
        if domain.zone_id is not None and not dns_provider(domain.dns).zone_by_id:
            by_id = providers_where("zone_by_id")
            problem(("domains", i, "zone_id"), domain.zone_id, f"is only used with dns {' or '.join(by_id)}, but dns "
                    f"is {domain.dns}: remove `zone_id`, or set `dns: {by_id[0]}`")
        # The MAIL FROM domain's length, with every other DNS name: ses_mail.roster.limit_checks.

    # Look-alikes of each other: two different names that read the same (UTS #39 skeletons).
    # A name's own mixed scripts and ASCII look-alikes are refused where it is parsed
    # (ses_mail.roster.identifiers.normalize_domain).
    seen: dict[str, tuple[str, Path_]] = {}
    named = [(d.name, ("domains", i, "name")) for i, d in parts.domains]
    named += [(domain_of(p.email), ("people", i, "email")) for i, p in parts.people]
    for name, path in named:
        key = skeleton(unicode_form(name))
        earlier = seen.setdefault(key, (name, path))
        if earlier[0] != name:
            problem(path, name, f"is a look-alike domain: {both_forms(name)} reads the same as "
                    f"{both_forms(earlier[0])} ({field_name(earlier[1])}, line {line_of(earlier[1])})")

    first_person: dict[str, int] = {}
    addresses = sorted([(i, p.email) for i, p in parts.people] + list(parts.other_addresses))
    for i, address in addresses:
        if address in first_person:
            other = first_person[address]
            problem(("people", i, "email"), address, f"is listed twice (also people[{other}], line {line_of(('people', other))})")
        first_person.setdefault(address, i)
        domain_name = domain_of(address)
        if domain_name not in first_domain and domain_name not in parts.unchecked_domains:
            problem(("people", i, "email"), address,
                    f"is on domain {domain_name!r}, which is not listed under domains "
                    "(a domain still used by people cannot be removed)")
    _check_schedule(parts.defaults, ("defaults",), parts.defaults.rotation_days, problem)
    for i, person in parts.people:
        _check_person(parts.defaults, i, person, problem)
    return problems


def _check_schedule(defaults: Defaults, at: Path_, rotation_days: int, problem: Any) -> None:
    """A rotation schedule that could need a third key (or that Secrets Manager refuses) is an error."""
    try:
        check_schedule(rotation_days, defaults.grace_hours)
    except ValueError as err:
        message = str(err)
        if at == ("defaults",) and message.startswith("grace_hours"):
            problem(("defaults", "grace_hours"), defaults.grace_hours, message.split(" ", 2)[2])
        elif message.startswith("rotation_days"):
            problem((*at, "rotation_days"), rotation_days, message.split(" ", 2)[2])
        elif not message.startswith("grace_hours must be at least"):  # reported once, on defaults
            problem((*at, "rotation_days"), rotation_days, f"is too short for defaults.grace_hours: {message}")


def _check_person(defaults: Defaults, i: int, person: Person, problem: Any) -> None:
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

    display = person.display_name if person.display_name is not None else defaults.display_name
    if display is True and person.name:
        # `true` copies `name` into ses:FromDisplayName: it passes the checks a display_name text does.
        try:
            normalize_display_name(person.name)
        except ValueError as err:
            via = "display_name: true" if person.display_name is True else "defaults.display_name: true"
            problem((*at, "name"), person.name, f"is the From display name ({via}), and as one it {err}")
    if display is True and not person.name:
        if person.display_name is True:
            problem((*at, "display_name"), True, "pins the From display name to `name`, but this person has "
                    "no name: give a name, or the display name as text")
        else:
            problem((*at, "name"), NO_VALUE, "is required because defaults.display_name pins every From display "
                    "name to `name`: give a name, a display_name text, or display_name: false")
    if display is False and person.name:
        # false (the default) allows `name` as the display name: it goes into the policy, and
        # passes the checks a display_name text does.
        try:
            normalize_display_name(person.name)
        except ValueError as err:
            via = "display_name: false" if person.display_name is False else "defaults.display_name: false"
            problem((*at, "name"), person.name, f"is an allowed From display name ({via}: `name` or none), "
                    f"and as one it {err}; or write display_name: any")

    delivery = person.delivery or defaults.delivery
    delivery_path = (*at, "delivery") if person.delivery else ("defaults", "delivery")
    mode = delivery_mode(delivery)
    with_key, with_secret = modes_where("uses_pgp_key"), modes_where("uses_secret")
    if mode.uses_pgp_key and not person.pgp_key:
        problem((*at, "pgp_key"), NO_VALUE, f"is required with delivery {delivery} (from {field_name(delivery_path)})")
    if person.pgp_key and not mode.uses_pgp_key:
        problem((*at, "pgp_key"), NO_VALUE, f"is only used with delivery {' or '.join(with_key)}, but delivery is "
                f"{delivery}: set `delivery: {with_key[0]}` or remove the key")
    if person.secret_readers is not None and not mode.uses_secret:
        problem((*at, "secret_readers"), list(person.secret_readers),
                f"is only used with delivery {' or '.join(with_secret)}, but delivery is {delivery}")
    rotated = modes_where("rotated_in_account")
    if person.rotation_days is not None:
        if mode.rotated_in_account:
            _check_schedule(defaults, at, person.rotation_days, problem)
        else:
            problem((*at, "rotation_days"), person.rotation_days,
                    f"is only used with delivery {' or '.join(rotated)}, but delivery is {delivery}")
    if person.previous_key is not None and not mode.issues_keys:
        # The function would delete a key no version holds: finish the rotation before the move.
        problem((*at, "previous_key"), person.previous_key,
                f"is not used with delivery {delivery}: its function keeps the previous key itself and would "
                "delete this one at its first rotation; retire it first (remove previous_key, `pulumi up`), "
                "then change delivery")
    if person.migrating_from is not None and not mode.rotated_in_account:
        problem((*at, "migrating_from"), person.migrating_from,
                f"is only used with delivery {' or '.join(rotated)}, but delivery is {delivery}: "
                "it marks the first `pulumi up` of a person moving to it")
    if mode.uses_secret and not (person.secret_readers or defaults.secret_readers):
        problem((*at, "secret_readers"), NO_VALUE,
                f"is required with delivery {delivery} (here or as defaults.secret_readers): "
                "the secret is readable only by the roles or users listed")


