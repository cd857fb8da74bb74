"""What the project declares agrees with what the program does: stack config keys, Python versions."""
from __future__ import annotations

import base64
import re

import pulumi
import pytest
import yaml

from ses_mail.review.engine import run_program
from tests.conftest import PROJECT_DIR

PGP_KEY = base64.b64encode(bytes([0x99, 0x00, 0x0d, 0x04, 0x65, 0x00, 0x00, 0x00, 0x16]) + bytes(13)).decode()
EVERY_BRANCH = f"""
domains:
  - name: shop.example
people:
  - email: ann@shop.example
  - email: ben@shop.example
    delivery: pgp
    pgp_key: {PGP_KEY}
  - email: cy@shop.example
    delivery: secrets_manager
    secret_readers: [arn:aws:iam::123456789012:role/relay]
"""


def declared() -> dict:
    return yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]


def test_every_key_the_program_reads_is_declared_with_type_default_and_description(tmp_path, monkeypatch):
    read: set[tuple[str, str]] = set()
    original = pulumi.Config.get

    def recording_get(self, key, *args, **kwargs):
        read.add((self.name, key))
        return original(self, key, *args, **kwargs)

    monkeypatch.setattr(pulumi.Config, "get", recording_get)
    roster = tmp_path / "roster.yaml"
    roster.write_text(EVERY_BRANCH, encoding="utf-8")
    run_program(roster=roster, region="eu-west-1")

    ours = {key for namespace, key in read if namespace == "ses-mail"}
    assert ours == set(declared()), "declare every ses-mail key in Pulumi.yaml `config:` (and nothing else)"
    assert {key for namespace, key in read if namespace != "ses-mail"} == {"region"}  # aws:region
    for key, spec in declared().items():
        assert spec["type"] == "string" and spec["description"].strip(), key
        # The Pulumi CLI refuses a stack that lacks a typed key without a default.
        assert "default" in spec, key


def test_the_declared_empty_defaults_mean_unset(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text(EVERY_BRANCH, encoding="utf-8")
    defaults = {f"ses-mail:{k}": str(v["default"]) for k, v in declared().items() if k != "roster"}
    assert set(defaults.values()) == {""}
    with_defaults = run_program(roster=roster, region="eu-west-1", stack_config=defaults)
    without = run_program(roster=roster, region="eu-west-1", stack_config={})
    def registered(run):
        return sorted(((r.type, r.name, repr(r.inputs)) for r in run.registrations))
    assert registered(with_defaults) == registered(without)


def test_python_versions_agree():
    pyproject = (PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8")
    [minimum] = re.findall(r'^requires-python = ">=(3\.\d+)"$', pyproject, re.M)
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert f"`python3` ≥ {minimum}" in readme
    for workflow in (PROJECT_DIR / ".github" / "workflows").glob("*.yml"):
        for version in re.findall(r'python-version: "(3\.\d+)"', workflow.read_text(encoding="utf-8")):
            assert version == minimum, f"{workflow.name} tests {version}, the oldest supported is {minimum}"


def test_mixed_case_recipient_patterns_are_lowercased_and_then_case_sensitive_as_documented():
    """docs/roster.md (`recipients`): `Bob@Partner.example` becomes `bob@partner.example`,
    and IAM then refuses mail to `Bob@Partner.example`."""
    from ses_mail.roster import parse_roster
    from ses_mail.specs.iam_policy import SEND_ACTION, send_as_policy
    from tests.iam_eval import Request, allows

    roster_doc = (PROJECT_DIR / "docs" / "roster.md").read_text(encoding="utf-8")
    assert "(`Bob@Partner.example` becomes\n  `bob@partner.example`)" in roster_doc
    roster = parse_roster("domains:\n  - name: shop.example\npeople:\n  - email: ann@shop.example\n"
                          "    recipients: ['Bob@Partner.example']\n", "roster.yaml")
    [ann] = roster.people
    patterns = roster.settings(ann).recipients
    assert patterns == ("bob@partner.example",)
    identity = "arn:aws:ses:eu-west-1:123456789012:identity/shop.example"
    policy = send_as_policy("ann@shop.example", identity, recipients=patterns)

    def to(recipient: str) -> bool:
        return allows(policy, Request(SEND_ACTION, identity, {"ses:FromAddress": "ann@shop.example",
                                                              "ses:Recipients": [recipient]}))
    assert to("bob@partner.example") and not to("Bob@Partner.example")


@pytest.mark.parametrize("command, code", [
    (["plan"], 2), (["validate"], 2), (["diff", "--base-roster", "roster.yaml"], 4),
    (["doctor"], 2), (["audit"], 2), (["adopt"], 2),
])
def test_a_broken_stack_file_is_a_clean_error_naming_it(tmp_path, command, code):
    """Every command that reads stack files reports a malformed one as `file:line: ...`, never
    with a traceback (the diff counts it as an invalid side, as it does an invalid roster)."""
    import subprocess
    import sys

    (tmp_path / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n")
    (tmp_path / "roster.yaml").write_text("domains:\n  - name: example.com\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n  ses-mail:roster: [roster.yaml\n")
    done = subprocess.run([sys.executable, "-m", "ses_mail", *command], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "AWS_ACCESS_KEY_ID": "x",
                                            "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Pulumi.dev.yaml:" in done.stderr + done.stdout and "is not valid YAML" in done.stderr + done.stdout
