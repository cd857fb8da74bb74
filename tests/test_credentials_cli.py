"""`python -m ses_mail.cli.credentials`: one person's settings from `pulumi stack output --json --show-secrets`."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from ses_mail.cli.credentials import main
from tests.conftest import PROJECT_DIR
from tests.credential_helpers import READER, derived_password, roster
from tests.test_delivery import PGP_KEY

PEOPLE = (
    "  - email: taro@test1.com\n    name: Taro Yamada\n    display_name: true\n"
    "    allowed_ips: [203.0.113.0/24]\n    recipients: ['*@test1.com']\n"
    "  - email: hanako@test1.com\n    status: suspended\n"
    f"  - email: jiro@test1.com\n    delivery: pgp\n    pgp_key: {PGP_KEY}\n"
    f"  - email: saburo@test1.com\n    delivery: secrets_manager\n    secret_readers: [{READER}]\n"
    "  - email: shiro@test1.com\n    key: 2\n    previous_key: 1\n"
)


@pytest.fixture(scope="module")
def outputs_json(tmp_path_factory) -> str:
    """What `pulumi stack output --json --show-secrets` prints for the stack."""
    from ses_mail.review.engine import run_program
    path = tmp_path_factory.mktemp("roster") / "roster.yaml"
    path.write_text(roster(PEOPLE))
    result = run_program(roster=path, region="eu-west-1")
    return json.dumps(result.outputs, indent=2)


def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_prints_ready_to_paste_settings(outputs_json):
    code, out, err = cli("taro@test1.com", stdin=outputs_json)
    assert code == 0 and err == ""
    creds = json.loads(outputs_json)["smtp_credentials"]["taro@test1.com"]
    assert "SMTP settings for taro@test1.com" in out
    for label, value in [("SMTP server", "email-smtp.eu-west-1.amazonaws.com"), ("Port", "587"),
                         ("Security", "STARTTLS"), ("Username", creds["username"]),
                         ("Password", derived_password("taro@test1.com-key")),
                         ("From", "Taro Yamada <taro@test1.com>")]:
        assert any(line.strip().startswith(label + ":") and value in line for line in out.splitlines()), label
    assert 'display name must be exactly "Taro Yamada"' in out
    assert "only from 203.0.113.0/24" in out and "Every recipient must match *@test1.com" in out


def test_json_format_for_scripts(outputs_json):
    code, out, _ = cli("TARO@Test1.com", "--format", "json", stdin=outputs_json)
    settings = json.loads(out)
    assert code == 0
    assert {k: settings[k] for k in ("address", "host", "port", "security", "password")} == {
        "address": "taro@test1.com", "host": "email-smtp.eu-west-1.amazonaws.com", "port": 587,
        "security": "STARTTLS", "password": derived_password("taro@test1.com-key")}


def test_a_suspended_person_gets_no_password(outputs_json):
    code, out, err = cli("hanako@test1.com", stdin=outputs_json)
    assert code == 3 and out == ""
    assert "hanako@test1.com is suspended" in err and "status: active" in err
    assert derived_password("hanako@test1.com-key") not in err


def test_pgp_people_get_the_encrypted_password_and_how_to_decrypt_it(outputs_json):
    code, out, _ = cli("jiro@test1.com", stdin=outputs_json)
    encrypted = json.loads(outputs_json)["smtp_credentials"]["jiro@test1.com"]["encrypted_password"]
    assert code == 0
    assert f"echo '{encrypted}' | base64 --decode | gpg --decrypt" in out
    assert "STARTTLS" in out and derived_password("jiro@test1.com-key") not in out


def test_secrets_manager_people_are_pointed_at_their_secret(outputs_json):
    code, out, _ = cli("saburo@test1.com", stdin=outputs_json)
    arn = json.loads(outputs_json)["smtp_credentials"]["saburo@test1.com"]["secret_arn"]
    assert code == 0
    assert f"aws secretsmanager get-secret-value --secret-id '{arn}'" in out
    assert "ses-smtp/saburo@test1.com" in out and derived_password("saburo@test1.com-key") not in out


def test_during_a_rotation_the_new_key_is_printed_and_the_overlap_explained(outputs_json):
    code, out, _ = cli("shiro@test1.com", stdin=outputs_json)
    assert code == 0
    assert derived_password("shiro@test1.com-key-b") in out and derived_password("shiro@test1.com-key") not in out
    assert "credentials of key 2; key 1 still works until it is retired" in out


@pytest.mark.parametrize("stdin,words", [
    ("not json", "is not JSON"),
    ('{"senders": {}}', "has no `smtp_credentials`"),
    ('{"smtp_credentials": "[secret]"}', "--show-secrets"),
    ('[1, 2]', "has no `smtp_credentials`"),
])
def test_bad_input_is_a_clear_error(stdin, words):
    code, out, err = cli("taro@test1.com", stdin=stdin)
    assert code == 2 and out == "" and words in err and "Traceback" not in err


def test_an_unknown_address_lists_who_is_there(outputs_json):
    code, _, err = cli("ceo@test1.com", stdin=outputs_json)
    assert code == 2 and "ceo@test1.com is not in this stack's roster" in err and "taro@test1.com" in err


def test_runs_as_a_command_from_a_file_and_from_stdin(outputs_json, tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(outputs_json)
    for args, stdin in ([["taro@test1.com", "--file", str(path)], None], [["taro@test1.com"], outputs_json]):
        done = subprocess.run([sys.executable, "-m", "ses_mail.cli.credentials", *args], cwd=PROJECT_DIR,
                              input=stdin, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert derived_password("taro@test1.com-key") in done.stdout
    missing = subprocess.run([sys.executable, "-m", "ses_mail.cli.credentials", "taro@test1.com", "--file",
                              str(tmp_path / "nope.json")], cwd=PROJECT_DIR, capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_the_hand_over_pipe_writes_nothing_to_disk_unless_asked(outputs_json, tmp_path):
    """The documented path, through the real `ses-mail` command in a scratch directory:
    `pulumi stack output --json --show-secrets | ses-mail credentials <address>` (the whole
    outputs object) and `pulumi stack output smtp_credentials --json --show-secrets | ...`
    (the credentials alone). Nothing appears on disk; with --out, one file of mode 0600."""
    import os
    import stat

    work = tmp_path / "scratch"
    work.mkdir()
    alone = json.dumps(json.loads(outputs_json)["smtp_credentials"])
    password = derived_password("taro@test1.com-key")
    for piped in (outputs_json, alone):
        done = subprocess.run([sys.executable, "-m", "ses_mail", "credentials", "taro@test1.com"], cwd=work,
                              input=piped, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert password in done.stdout
        assert list(work.iterdir()) == []
    out = work / "taro.json"
    done = subprocess.run([sys.executable, "-m", "ses_mail", "credentials", "taro@test1.com", "--format", "json",
                           "--out", str(out)], cwd=work, input=alone, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout and "mode 0600" in done.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert json.loads(out.read_text())["password"] == password
    assert list(work.iterdir()) == [out]
    # never over an existing file (whose mode could be wider)
    again = subprocess.run([sys.executable, "-m", "ses_mail", "credentials", "taro@test1.com", "--out", str(out)],
                           cwd=work, input=alone, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "cannot write" in again.stderr
