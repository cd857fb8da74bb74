"""The mode seam (ses_mail/modes): each delivery mode, DNS provider and `existing` mode is one
registered class, and nothing else in the package branches on a mode's name."""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import typing

from ses_mail.modes import delivery_modes, dns_providers, existing_modes
from ses_mail.modes.existing import roster_values
from ses_mail.roster.model import Delivery, DnsHost, Existing
from tests.conftest import PROJECT_DIR

PACKAGE = PROJECT_DIR / "ses_mail"
#: Files another change owns, still comparing against a mode's name: file -> why it may.
NOT_YET = {
    "adoption/assess.py": "splits adopted from referenced domains for the import file",
}


def test_the_roster_accepts_exactly_the_registered_modes():
    assert typing.get_args(Delivery) == delivery_modes() == ("output", "pgp", "secrets_manager", "rotation")
    assert typing.get_args(DnsHost) == dns_providers() == ("route53", "external", "cloudflare")
    assert existing_modes() == ("create", "adopt", "reference")
    assert typing.get_args(Existing) == roster_values() == ("adopt", "reference")


def test_nothing_outside_the_modes_compares_with_a_mode_name():
    names = set(delivery_modes()) | set(dns_providers()) | set(existing_modes())
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("modes/") or relative in NOT_YET:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for operand in [node.left, *node.comparators]:
                    for const in ast.walk(operand):  # `x == "pgp"`, `x in ("adopt", "reference")`
                        if isinstance(const, ast.Constant) and const.value in names:
                            found.append(f"{relative}:{const.lineno}: {const.value!r}")
    assert found == [], "branch through ses_mail.modes (a class attribute or method), not on a mode's name"


def test_a_new_delivery_mode_is_one_class_and_one_registration(tmp_path):
    """A mode registered from outside the package: the roster accepts it, the program builds its
    credential, and `ses-mail credentials` shows it: nothing else was edited."""
    roster = tmp_path / "roster.yaml"
    roster.write_text("domains:\n  - name: example.com\npeople:\n  - email: ann@example.com\n    delivery: courier\n")
    script = textwrap.dedent(f"""
        from ses_mail.modes.delivery import DeliveryMode, register_delivery

        @register_delivery
        class Courier(DeliveryMode):
            name = "courier"

            def credential(self, sender, base, usable):
                sender.password = sender.no_password()
                return {{**base, "delivery": self.name, "courier": "by hand"}}

            def handover(self, cred):
                return {{"courier": cred["courier"]}}

            def password_row(self, shown):
                return "delivered " + shown["courier"]

        from ses_mail.review.engine import run_program
        from ses_mail.cli.credentials import render_text, settings_for
        run = run_program(roster={str(roster)!r}, region="eu-west-1")
        cred = run.outputs["smtp_credentials"]["ann@example.com"]
        assert cred["courier"] == "by hand" and "password" not in cred, cred
        assert run.outputs["credential_status"]["ann@example.com"]["delivery"] == "courier"
        print(render_text(settings_for(run.outputs, "ann@example.com")))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Password:" in done.stdout and "delivered by hand" in done.stdout
