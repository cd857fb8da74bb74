"""The roster: which domains the organisation sends from and who may send, validated as a whole.

`load_roster(path)` / `parse_roster(text, file)` return a frozen `Roster` or raise `RosterError`
naming every problem as `file:line: field: value message`.
"""
from ses_mail.roster.errors import Problem, RosterError
from ses_mail.roster.limit_checks import Deployment
from ses_mail.roster.loader import Loaded, load_roster, load_roster_checked, parse_roster, parse_roster_checked
from ses_mail.roster.model import Defaults, Deliverability, Dmarc, Domain, Person, Roster
from ses_mail.roster.settings import Settings, resolve

__all__ = ["Defaults", "Deliverability", "Deployment", "Dmarc", "Domain", "Loaded", "Person", "Problem", "Roster",
           "RosterError", "Settings", "load_roster", "load_roster_checked", "parse_roster", "parse_roster_checked",
           "resolve"]
