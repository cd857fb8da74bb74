"""`delivery: rotation` wired into the program: one CredentialRotation per stack, each person's
secret under their SmtpSender, no key or secret value anywhere Pulumi records, suspension by the
send policy, and the migration from output / secrets_manager (retain_on_delete first, then released)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ses_mail.cli import diff as plandiff
from ses_mail.project import Project
from ses_mail.review.changes import DELETE
from ses_mail.review.render import Report, render_text
from ses_mail.roster import RosterError, load_roster_checked
from ses_mail.specs.iam_policy import identity_arn, send_as_policy
from ses_mail.specs import rotation_policy as rp
from tests.conftest import PROJECT_DIR
from tests.credential_helpers import READER
from tests.iam_eval import Request, allows

KEY = "aws:iam/accessKey:AccessKey"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
POLICY = "aws:iam/userPolicy:UserPolicy"
FUNCTION = "aws:lambda/function:Function"
SECRET_FIELDS = {"secret", "secretString", "secretBinary", "sesSmtpPasswordV4", "password", "encryptedSecret",
                 "encryptedSesSmtpPasswordV4"}

ALL_ROTATED = f"""
domains:
  - name: test1.com
defaults:
  delivery: rotation
  secret_readers: [{READER}]
  rotation_days: 14
  grace_hours: 12
people:
  - email: taro@test1.com
    name: Taro Yamada
  - email: hanako@test1.com
    rotation_days: 7
  - email: jiro@test1.com
    status: suspended
"""


def _keys_and_values(value, path=""):
    """Every (path, leaf) of a nested value, for looking for secrets by name or by shape."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _keys_and_values(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _keys_and_values(v, f"{path}[{i}]")
    else:
        yield path, value


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    from ses_mail.review.engine import run_program
    path = tmp_path_factory.mktemp("rot") / "roster.yaml"
    path.write_text(ALL_ROTATED, encoding="utf-8")
    return run_program(roster=path, region="eu-west-1")


def test_a_rotated_roster_registers_no_key_no_secret_value_and_exports_no_secret(rotated):
    types = [r.type for r in rotated.registrations]
    assert KEY not in types and VERSION not in types
    for r in rotated.registrations:
        for path, leaf in _keys_and_values({"inputs": r.inputs, "outputs": r.outputs}):
            assert path.rsplit(".", 1)[-1] not in SECRET_FIELDS, (r.type, r.name, path)
            assert not (isinstance(leaf, str) and leaf.startswith(("AKIA", "fake-secret"))), (r.type, r.name, path)
    for name, value in rotated.outputs.items():
        for path, leaf in _keys_and_values(value):
            assert path.rsplit(".", 1)[-1] not in {"password", "username", "secret"} or leaf is None, (name, path)
    creds = rotated.outputs["smtp_credentials"]
    assert creds["taro@test1.com"] == {
        "host": "email-smtp.eu-west-1.amazonaws.com", "port": 587, "delivery": "rotation",
        "secret_name": "ses-smtp/taro@test1.com", "secret_arn": creds["taro@test1.com"]["secret_arn"],
        "readers": [READER], "rotation_days": 14}
    assert rotated.outputs["credential_status"]["taro@test1.com"]["access_keys"] == []


def test_one_function_per_stack_and_each_persons_secret_under_their_sender(rotated):
    assert len(rotated.of_type(FUNCTION)) == 1
    assert len(rotated.of_type("ses-mail:index:CredentialRotation")) == 1
    secrets = {r.inputs["name"]: r for r in rotated.of_type(SECRET)}
    assert set(secrets) == {f"ses-smtp/{a}@test1.com" for a in ("taro", "hanako", "jiro")}
    for address in ("taro@test1.com", "hanako@test1.com", "jiro@test1.com"):
        # The secrets_manager mode's names, under the person's SmtpSender: a migrating person keeps the secret.
        for suffix, type_ in (("secret", SECRET), ("secret-policy", "aws:secretsmanager/secretPolicy:SecretPolicy"),
                              ("rotation", ROTATION)):
            registration = rotated.named(f"{address}-{suffix}")
            assert registration.type == type_
            assert rotated.options_of(registration).parent.endswith(f"SmtpSender::{address}")
    schedules = {r.name: r.inputs["rotationRules"]["automaticallyAfterDays"] for r in rotated.of_type(ROTATION)}
    assert schedules == {"taro@test1.com-rotation": 14, "hanako@test1.com-rotation": 7, "jiro@test1.com-rotation": 14}
    function = rotated.of_type(FUNCTION)[0]
    assert function.inputs["environment"]["variables"]["SES_MAIL_GRACE_HOURS"] == "12"
    tags = rotated.named("jiro@test1.com-secret").inputs["tags"]
    assert tags[rp.TAG_STATUS] == "suspended" and rp.TAG_LEGACY_KEY not in tags


def test_the_functions_role_gets_the_rotation_boundary_by_default_and_none_opts_out(rotated, run):
    """The role lives under /ses-mail-rotation/ with the account's conventional rotation boundary
    (the deploy role creates no role without it); `ses-mail:rotationPermissionsBoundary: none` opts out."""
    (role,) = rotated.of_type("aws:iam/role:Role")
    assert role.inputs["path"] == "/ses-mail-rotation/"
    assert role.inputs["permissionsBoundary"] == (
        "arn:aws:iam::123456789012:policy/ses-mail-boundary/ses-mail-rotation-boundary")
    off = run(ALL_ROTATED, config={"ses-mail:rotationPermissionsBoundary": "none"})
    (role,) = off.of_type("aws:iam/role:Role")
    assert "permissionsBoundary" not in role.inputs
    # The SMTP users' boundary is a setting of its own.
    assert all(u.inputs["permissionsBoundary"].endswith("/ses-smtp-boundary") for u in off.of_type("aws:iam/user:User"))


def test_no_function_when_nobody_rotates(run):
    program = run()
    assert not program.of_type(FUNCTION) and not program.of_type(ROTATION)


def _send(address: str) -> Request:
    return Request("ses:SendRawEmail", identity_arn("eu-west-1", "123456789012", "test1.com"),
                   {"ses:FromAddress": address})


def test_suspension_is_a_deny_in_the_deployed_send_policy_and_reactivation_restores_sending(rotated):
    suspended = json.loads(rotated.named("jiro@test1.com-send-policy").inputs["policy"])
    active = json.loads(rotated.named("taro@test1.com-send-policy").inputs["policy"])
    assert not allows(suspended, _send("jiro@test1.com"))
    assert allows(active, _send("taro@test1.com"))
    # Reactivating (status active) is the same policy without the Deny: sending is allowed again.
    arn = identity_arn("eu-west-1", "123456789012", "test1.com")
    assert allows(send_as_policy("jiro@test1.com", arn), _send("jiro@test1.com"))
    assert not allows(send_as_policy("jiro@test1.com", arn, suspended=True), _send("jiro@test1.com"))
    # The Deny overrides any Allow the user might otherwise have (a hand-attached policy).
    anything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert not allows([anything, suspended], _send("jiro@test1.com"))
    assert not allows([anything, suspended], Request("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/x"))


def test_other_modes_suspend_by_the_key_status_and_their_policy_is_unchanged(run):
    program = run("""
domains:
  - name: test1.com
people:
  - email: taro@test1.com
    status: suspended
""")
    policy = json.loads(program.named("taro@test1.com-send-policy").inputs["policy"])
    active = run("""
domains:
  - name: test1.com
people:
  - email: taro@test1.com
""")
    # The same policy as when active (no suspension Deny): the Inactive key is what suspends.
    assert policy == json.loads(active.named("taro@test1.com-send-policy").inputs["policy"])
    assert "SuspendedNothingAllowed" not in {s.get("Sid") for s in policy["Statement"]}
    assert program.named("taro@test1.com-key").inputs["status"] == "Inactive"


def _load(write_roster, text):
    return load_roster_checked(write_roster(text))


@pytest.mark.parametrize("extra, field, message", [
    ("  grace_hours: 48\n  rotation_days: 1\n", "defaults.grace_hours", "must be shorter than the rotation interval"),
    ("  rotation_days: 0\n", "defaults.rotation_days", "must be 1..1000"),
])
def test_a_schedule_that_could_need_a_third_key_is_a_roster_error(write_roster, extra, field, message):
    text = f"domains:\n  - name: test1.com\ndefaults:\n  delivery: rotation\n  secret_readers: [{READER}]\n{extra}" \
           "people:\n  - email: taro@test1.com\n"
    with pytest.raises(RosterError) as err:
        _load(write_roster, text)
    assert field in str(err.value) and message in str(err.value)


def test_a_persons_schedule_and_migration_marker_need_the_rotation_mode_and_one_key(write_roster):
    text = ("domains:\n  - name: test1.com\ndefaults:\n  grace_hours: 48\npeople:\n"
            f"  - email: taro@test1.com\n    delivery: rotation\n    secret_readers: [{READER}]\n    rotation_days: 1\n"
            "  - email: ann@test1.com\n    rotation_days: 5\n    migrating_from: output\n"
            f"  - email: bo@test1.com\n    delivery: rotation\n    secret_readers: [{READER}]\n"
            "    migrating_from: output\n    key: 2\n    previous_key: 1\n")
    with pytest.raises(RosterError) as err:
        _load(write_roster, text)
    text = str(err.value)
    assert "people[0].rotation_days" in text and "too short for defaults.grace_hours" in text
    assert "people[1].rotation_days" in text and "people[1].migrating_from" in text
    assert text.count("only used with delivery rotation") == 2
    # Moving with two keys would let the function delete the previous one at its first rotation.
    assert "people[2].previous_key" in text and "retire it first" in text


# --- migration ---------------------------------------------------------------------------------

def _roster(delivery: str, marker: str | None = None) -> str:
    return ("domains:\n  - name: test1.com\n"
            f"defaults:\n  secret_readers: [{READER}]\n"
            f"people:\n  - email: taro@test1.com\n    delivery: {delivery}\n"
            + (f"    migrating_from: {marker}\n" if marker else "")
            + "  - email: hanako@test1.com\n")


def _report(tmp_path: Path, before: str, after: str) -> Report:
    base, head = tmp_path / "base.yaml", tmp_path / "head.yaml"
    base.write_text(before, encoding="utf-8")
    head.write_text(after, encoding="utf-8")
    project = Project(PROJECT_DIR)
    return plandiff.diff_sides(project, "dev", plandiff.base_side_from_file(project, "dev", str(base)),
                               plandiff.head_side(project, "dev", str(head)))


@pytest.mark.parametrize("old", ["secrets_manager", "output"])
def test_migration_keeps_the_old_key_through_the_switch_then_releases_it(tmp_path, run, old):
    """Step 1 (`delivery: rotation` + `migrating_from`): the old key (and secret version) stay
    registered, unchanged, with retain_on_delete, and the old key is the secret's legacy key: the
    engine deletes nothing of the credential. Step 2 (marker removed): they leave the program with
    the flag already in the state, so the engine releases them; nothing is deleted in AWS."""
    before = run(_roster(old))
    during = run(_roster("rotation", old))
    after = run(_roster("rotation"))

    key = during.named("taro@test1.com-key")
    assert during.options_of(key).retain_on_delete
    assert key.inputs == before.named("taro@test1.com-key").inputs
    assert key.id == before.named("taro@test1.com-key").id
    tags = during.named("taro@test1.com-secret").inputs["tags"]
    assert tags[rp.TAG_LEGACY_KEY] == key.id
    if old == "secrets_manager":
        version = during.named("taro@test1.com-secret-value")
        assert during.options_of(version).retain_on_delete
        assert version.inputs["secretString"] == before.named("taro@test1.com-secret-value").inputs["secretString"]
        # The same secret resource (name and parent): it is updated, never replaced.
        assert during.named("taro@test1.com-secret").inputs["name"] == before.named("taro@test1.com-secret").inputs["name"]
    assert not [r for r in after.registrations if r.name.startswith("taro@test1.com-") and r.type in (KEY, VERSION)]

    step1 = _report(tmp_path, _roster(old), _roster("rotation", old)).diff
    gone = [c for c in step1.changes if c.op == DELETE and c.custom]
    assert gone == [], [(c.type, c.name) for c in gone]
    assert not any(c.name.startswith("taro@test1.com") and c.op == "replace" for c in step1.changes)
    text1 = render_text([Report("dev", "a", "b", step1)])
    assert "retain_on_delete" in text1

    step2 = _report(tmp_path, _roster("rotation", old), _roster("rotation")).diff
    leaving = {c.type: c for c in step2.changes if c.op == DELETE and c.custom}
    assert set(leaving) == ({KEY, VERSION} if old == "secrets_manager" else {KEY})
    assert all(c.released for c in leaving.values()) and step2.destructive == []
    text2 = render_text([Report("dev", "a", "b", step2)])
    assert "the old access key leaves the stack but keeps working in AWS" in text2
    assert "the rotation function retires it" in text2


def test_switching_without_the_marker_is_reported_as_revoking_the_key(tmp_path):
    """Without `migrating_from`, the old key would be deleted by the engine at once: the diff says so."""
    diff = _report(tmp_path, _roster("secrets_manager"), _roster("rotation")).diff
    key = next(c for c in diff.changes if c.type == KEY)
    assert key.op == DELETE and not key.released and key in diff.destructive
    assert "SMTP credential revoked" in render_text([Report("dev", "a", "b", diff)])


def test_the_upgrade_proof_still_applies():
    # test_upgrade covers the existing modes; this only checks the rotation mode is not their default.
    from ses_mail.modes.delivery import delivery_mode
    assert delivery_mode(None).name == "output"


def test_credentials_say_where_the_password_is_and_who_may_read_it(rotated):
    from ses_mail.modes.delivery import delivery_mode
    mode = delivery_mode("rotation")
    shown = mode.handover(rotated.outputs["smtp_credentials"]["taro@test1.com"])
    assert shown["readers"] == [READER] and shown["rotation_days"] == 14
    assert "ses-smtp/taro@test1.com" in mode.password_row(shown)
    note = "\n".join(mode.notes(shown))
    assert READER in note and "every 14 days" in note and "denies them the value" in note
    assert shown["secret_arn"] in note


def test_removing_a_person_deletes_the_keys_the_function_made(rotated, tmp_path):
    """The program never registers the function's keys: they go with the IAM user, which is
    registered with force_destroy (DeleteUser after deleting its access keys), and the diff says so."""
    for r in rotated.of_type("aws:iam/user:User"):
        assert r.inputs["forceDestroy"] is True, r.name
    without = ALL_ROTATED.replace("  - email: hanako@test1.com\n    rotation_days: 7\n", "")
    diff = _report(tmp_path, ALL_ROTATED, without).diff
    deleted = {c.type: c for c in diff.changes if c.op == DELETE and c.custom and c.name.startswith("hanako")}
    assert {"aws:iam/user:User", SECRET, ROTATION} <= set(deleted)
    assert "IAM user deleted with all its keys" in render_text([Report("dev", "a", "b", diff)])
