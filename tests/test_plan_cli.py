"""The README's main command, run as a user runs it."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from ses_mail.specs.smtp_password import smtp_password
from ses_mail.review.emulation import fake_dkim_tokens, fake_secret_key
from tests.conftest import PROJECT_DIR


def plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ses_mail.cli.plan", *args], cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def dev_plan() -> subprocess.CompletedProcess:
    return plan("--stack", "dev")


def test_plan_shows_every_resource_and_record_for_the_dev_stack(dev_plan):
    done = dev_plan
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Offline plan for stack 'dev'" in out and "SES region ap-northeast-1" in out
    assert "32 resources to create" in out  # 25 + 7 of the stack's Deliverability
    for name in ["example.com-identity", "example.com-mail-from", "example.org-dmarc",
                 "taro@example.com-user", "taro@example.com-send-policy", "taro@example.com-key"]:
        assert name in out
    token = fake_dkim_tokens("example.com")[0]
    assert f"{token}._domainkey.example.com  CNAME  600  route53       {token}.dkim.amazonses.com" in out
    assert ("mail.example.com                                         MX     600  route53       "
            "10 feedback-smtp.ap-northeast-1.amazonses.com") in out
    assert out.index("+ SesMail ses-mail") < out.index("+ SendingDomain example.com")
    assert "exported as a Pulumi secret" in out
    assert fake_secret_key("taro@example.com-key") not in out + done.stderr


def test_the_documented_plan_excerpt_is_what_make_plan_prints(dev_plan):
    """docs/resources.md shows an excerpt of the dev stack's plan: every line it shows (`…` marks
    lines left out) is a line of the real output, in the same order."""
    assert dev_plan.returncode == 0, dev_plan.stderr
    page = (PROJECT_DIR / "docs" / "resources.md").read_text(encoding="utf-8")
    [excerpt] = re.findall(r"```\n(Offline plan for stack 'dev'.*?)```", page, re.S)
    shown = [line.rstrip() for line in excerpt.splitlines() if line.strip() not in ("", "…")]
    assert len(shown) > 15
    printed = [line.rstrip() for line in dev_plan.stdout.splitlines()]
    position = 0
    for line in shown:
        assert line in printed[position:], f"the documented plan line is not printed (in this order): {line!r}"
        position = printed.index(line, position) + 1


def test_plan_reports_a_bad_roster_cleanly(tmp_path):
    bad = tmp_path / "roster.yaml"
    bad.write_text("domains:\n  - name: example.com\npeople:\n  - emial: taro@example.com\n")
    done = plan("--roster", str(bad))
    assert done.returncode == 2
    assert f"{bad}:4: people[0].emial: is not a known field" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_plan_shows_credential_state_and_secrets_manager_resources(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text("""domains:
  - name: example.com
people:
  - email: taro@example.com
    status: suspended
    key: 2
    previous_key: 1
  - email: relay@example.com
    allowed_ips: [203.0.113.0/24]
    delivery: secrets_manager
    secret_readers: [arn:aws:iam::123456789012:role/mail-relay]
""")
    done = plan("--roster", str(roster))
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.startswith(("taro@", "relay@"))}
    assert lines["taro@example.com"][4:7] == ["suspended", "output", "2"]
    assert lines["relay@example.com"][4:6] == ["active", "secrets_manager"]
    assert "allowed_ips=203.0.113.0/24" in lines["relay@example.com"]
    assert "relay@example.com-secret-value" in done.stdout and "secret_string=[secret]" in done.stdout
    assert "name=ses-smtp/relay@example.com" in done.stdout
    for key in ["taro@example.com-key", "taro@example.com-key-b", "relay@example.com-key"]:
        assert fake_secret_key(key) not in done.stdout
        assert smtp_password(fake_secret_key(key), "ap-northeast-1") not in done.stdout


def test_plan_lists_the_records_of_a_domain_whose_dns_is_kept_elsewhere(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text("domains:\n  - name: example.com\n  - name: example.net\n    dns: external\n"
                      "people:\n  - email: taro@example.net\n")
    done = plan("--roster", str(roster))
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(("mail.example", "_dmarc.example"))]
    published = {(row[0], row[1]): row[3] for row in rows}
    assert published[("mail.example.net", "MX")] == published[("_dmarc.example.net", "TXT")] == "external"
    assert published[("mail.example.com", "MX")] == "route53"
    assert "example.net-mail-from-mx" not in done.stdout and "example.net-identity" in done.stdout


def test_plan_shows_the_boundaries_and_marks_an_explicit_none(tmp_path):
    """In a scratch project: by default every user (and the rotation role) gets the account's
    conventional boundary, shown per user and in the boundaries note; `none` is marked as such."""
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(
        "domains:\n  - name: example.com\n    dns: external\ndefaults:\n  delivery: rotation\n"
        "  secret_readers: [arn:aws:iam::123456789012:role/ses-mail-admin/reader]\n"
        "people:\n  - email: taro@example.com\n", encoding="utf-8")

    def plan_with(config: str) -> str:
        (tmp_path / "Pulumi.dev.yaml").write_text(
            f"config:\n  aws:region: eu-west-1\n  ses-mail:roster: roster.yaml\n{config}", encoding="utf-8")
        done = plan("--project-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = plan_with("")
    assert "boundary=/ses-mail-boundary/ses-smtp-boundary" in out
    assert "path=/ses-mail-rotation/ boundary=/ses-mail-boundary/ses-mail-rotation-boundary" in out
    assert ("  SMTP users (ses-mail:permissionsBoundary): "
            "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-smtp-boundary") in out
    assert ("  rotation function's role (ses-mail:rotationPermissionsBoundary): "
            "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-mail-rotation-boundary") in out
    out = plan_with("  ses-mail:permissionsBoundary: none\n")
    assert "name=smtp-taro@example.com path=/ses-smtp/ boundary=NONE" in out
    assert ("  SMTP users (ses-mail:permissionsBoundary): NONE (ses-mail:permissionsBoundary is `none`): "
            "the deploy role of policies/deploy-role.json refuses to create them") in out
    assert "ses-mail-rotation-boundary" in out  # the role's boundary is a setting of its own
