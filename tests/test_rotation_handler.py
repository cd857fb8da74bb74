"""The rotation function (ses_mail/rotation/handler.py) against moto's IAM and Secrets Manager, and
its SMTP login against a local STARTTLS server that checks the derived password
(tests/support/smtp_server.py).

Secrets Manager's side of a rotation (RotateSecret staging AWSPENDING on a new version, then
invoking the four steps) is played by `start`: moto cannot invoke a Lambda without Docker, and
stages nothing on a secret that has no version yet (AWS does, for a secret whose first value the
function makes: see docs/in-account-credentials.md, "Assumptions").
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from moto.iam.models import iam_backends
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends

from ses_mail.rotation import handler
from ses_mail.rotation.handler import Config, Rotation, RotationError, TwoKeysInUse
from ses_mail.specs import smtp_password as spec
from ses_mail.specs.naming import IAM_USER_PATH, iam_user_name, secret_name
from ses_mail.specs.rotation_policy import encode_tag, rotation_secret_tags

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ADDRESS = "taro@test1.com"
USER = iam_user_name(ADDRESS)
SECRET = secret_name(ADDRESS)
FIELDS = {"address", "host", "port", "starttls", "username", "password", "status", "key"}
HANDLER_FILE = Path(handler.__file__)


def moto_key(key_id: str):
    """(secret, status) of an access key in moto's IAM, as SES would check it."""
    for user in iam_backends[ACCOUNT]["aws"].users.values():
        for key in user.access_keys:
            if key.access_key_id == key_id:
                return key.secret_access_key, key.status
    return None


class Person:
    """One person provisioned as the rotation mode's Pulumi program does: the IAM user and the
    tagged secret with no value; the function does the rest."""

    def __init__(self, *, suspended=False, legacy_key=None, address=ADDRESS):
        self.address, self.user, self.secret = address, iam_user_name(address), secret_name(address)
        self.iam = boto3.client("iam", region_name=REGION)
        self.sm = boto3.client("secretsmanager", region_name=REGION)
        self.iam.create_user(UserName=self.user, Path=IAM_USER_PATH)
        tags = rotation_secret_tags(address, self.user, REGION, "ses-mail/dev", suspended=suspended,
                                    legacy_key=legacy_key)
        self.sm.create_secret(Name=self.secret, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def keys(self) -> dict[str, str]:
        return {k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=self.user)["AccessKeyMetadata"]}

    def value(self, stage="AWSCURRENT", version=None):
        args = {"SecretId": self.secret, "VersionStage": stage, **({"VersionId": version} if version else {})}
        return json.loads(self.sm.get_secret_value(**args)["SecretString"])

    def stages(self) -> dict[str, list[str]]:
        return self.sm.describe_secret(SecretId=self.secret).get("VersionIdsToStages", {})

    def set_tags(self, **tags):
        self.sm.tag_resource(SecretId=self.secret, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def start(self) -> str:
        """RotateSecret as AWS does it: a new version staged AWSPENDING, rotation enabled (moto,
        without a Lambda to invoke, would make the empty version current at once)."""
        secret = secretsmanager_backends[ACCOUNT][REGION].secrets[self.secret]
        if any("AWSPENDING" in v["version_stages"] and "AWSCURRENT" not in v["version_stages"]
               for v in secret.versions.values()):
            raise AssertionError("RotateSecret: previous rotation request is still in progress")
        token = str(uuid.uuid4())
        secret.versions[token] = {"createdate": int(time.time()), "version_id": token,
                                  "version_stages": ["AWSPENDING"]}
        secret.rotation_enabled = secret.rotation_requested = True
        secret.auto_rotate_after_days = 30
        return token


def rotation(person: Person, endpoint=None, *, now=None, **config) -> Rotation:
    if endpoint is not None:
        config.update(smtp_host=endpoint.host, smtp_port=endpoint.port, ssl_context=endpoint.client_context)
    config.setdefault("smtp_test_seconds", 0)
    return Rotation(person.sm, person.iam, Config(**config), now=now or (lambda: datetime.now(timezone.utc)),
                    sleep=lambda seconds: None)


def step(rot: Rotation, person: Person, name: str, token: str) -> None:
    rot.run({"SecretId": person.secret, "ClientRequestToken": token, "Step": name})


def full(rot: Rotation, person: Person) -> str:
    token = person.start()
    for name in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        step(rot, person, name, token)
    return token


@pytest.fixture(autouse=True)
def first_version_promotion(monkeypatch):
    """moto refuses to move AWSCURRENT onto a secret that has no current version yet (AWS's API
    allows it: RemoveFromVersionId is needed only when AWSCURRENT is on another version)."""
    original = SecretsManagerBackend.update_secret_version_stage

    def update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        secret = self.secrets[secret_id]
        if (version_stage == "AWSCURRENT" and not remove_from_version_id
                and not any("AWSCURRENT" in v["version_stages"] for v in secret.versions.values())):
            secret.versions[move_to_version_id]["version_stages"].append("AWSCURRENT")
            secret.default_version_id = move_to_version_id
            return secret.arn, secret.name
        return original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
    monkeypatch.setattr(SecretsManagerBackend, "update_secret_version_stage", update)


@pytest.fixture
def endpoint(smtp_endpoint):
    smtp_endpoint.lookup = moto_key
    return smtp_endpoint


# --- createSecret


def test_create_secret_stores_every_field_with_a_new_key_and_its_smtp_password(aws):
    person = Person()
    token = person.start()
    step(rotation(person), person, "createSecret", token)
    value = person.value("AWSPENDING", token)
    assert set(value) == FIELDS
    (key_id, status), = person.keys().items()
    assert status == "Active" and value["username"] == key_id
    assert value["password"] == spec.smtp_password(moto_key(key_id)[0], REGION)
    assert value == json.loads(spec.secret_value(ADDRESS, REGION, key_id, value["password"], status="active", key=1))


def test_create_secret_retried_reuses_the_key_it_made(aws):
    person = Person()
    token = person.start()
    rot = rotation(person)
    step(rot, person, "createSecret", token)
    first, keys = person.value("AWSPENDING", token), person.keys()
    step(rot, person, "createSecret", token)
    assert person.value("AWSPENDING", token) == first and person.keys() == keys


def test_create_secret_deletes_its_key_when_the_value_cannot_be_stored(aws):
    person = Person()
    token = person.start()

    class Refusing:  # Secrets Manager refusing the write (throttled, KMS denied...)
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def put_secret_value(self, **_):
            raise person.sm.exceptions.InternalServiceError({"Error": {"Code": "InternalServiceError"}}, "PutSecretValue")

    rot = Rotation(Refusing(person.sm), person.iam, Config())
    with pytest.raises(person.sm.exceptions.InternalServiceError):
        step(rot, person, "createSecret", token)
    assert person.keys() == {}, "the key whose secret no version holds was left behind"


def test_a_key_no_version_holds_is_deleted_by_the_next_create(aws, endpoint):
    """A createSecret killed between making a key and storing it leaves a key whose secret exists
    nowhere: the retry deletes it before making the one it stores."""
    person = Person()
    full(rotation(person, endpoint), person)
    current = person.value()["username"]
    orphan = person.iam.create_access_key(UserName=person.user)["AccessKey"]["AccessKeyId"]
    token = person.start()
    step(rotation(person), person, "createSecret", token)
    keys = person.keys()
    assert orphan not in keys and current in keys and len(keys) == 2


# --- setSecret


def test_set_secret_changes_nothing_and_may_be_retried(aws):
    person = Person()
    token = person.start()
    rot = rotation(person)
    step(rot, person, "createSecret", token)
    before = (person.keys(), person.stages(), person.value("AWSPENDING", token))
    step(rot, person, "setSecret", token)
    step(rot, person, "setSecret", token)
    assert (person.keys(), person.stages(), person.value("AWSPENDING", token)) == before


# --- testSecret


def test_test_secret_logs_in_with_starttls_and_auth_login_and_sends_nothing(aws, endpoint):
    person = Person()
    token = person.start()
    rot = rotation(person, endpoint)
    step(rot, person, "createSecret", token)
    step(rot, person, "testSecret", token)
    step(rot, person, "testSecret", token)  # retried
    username = person.value("AWSPENDING", token)["username"]
    assert endpoint.logins == [("LOGIN", username, True, True)] * 2
    assert endpoint.mails == []


def test_test_secret_retries_while_the_key_propagates(aws, endpoint):
    person = Person()
    token = person.start()
    endpoint.reject_first = 2
    rot = rotation(person, endpoint, smtp_test_seconds=60, smtp_retry_seconds=10)
    step(rot, person, "createSecret", token)
    step(rot, person, "testSecret", token)
    assert [ok for _, _, ok, _ in endpoint.logins] == [False, False, True]


def test_test_secret_gives_up_at_its_bound(aws, endpoint):
    person = Person()
    token = person.start()
    endpoint.reject_first = 100
    ticks = iter(range(0, 10_000, 10))
    rot = Rotation(person.sm, person.iam, Config(smtp_host=endpoint.host, smtp_port=endpoint.port,
                                                 ssl_context=endpoint.client_context, smtp_test_seconds=60,
                                                 smtp_retry_seconds=10),
                   sleep=lambda s: None, clock=lambda: float(next(ticks)))
    step(rot, person, "createSecret", token)
    with pytest.raises(RotationError, match="still fails after"):
        step(rot, person, "testSecret", token)
    assert 4 <= len(endpoint.logins) <= 7


def test_a_wrong_password_fails_the_test(aws, endpoint):
    """The server really checks the derived password: a password for another region fails."""
    person = Person()
    token = person.start()
    endpoint.region = "us-east-1"
    rot = rotation(person, endpoint)
    step(rot, person, "createSecret", token)
    with pytest.raises(RotationError):
        step(rot, person, "testSecret", token)
    assert [ok for _, _, ok, _ in endpoint.logins] == [False]


def test_a_failing_test_secret_leaves_the_current_version_and_key_untouched(aws, endpoint):
    person = Person()
    first = full(rotation(person, endpoint), person)
    current_value, current_key = person.value(), person.value()["username"]
    token = person.start()
    endpoint.reject_first = 100  # the new key never works
    rot = rotation(person, endpoint, now=lambda: datetime.now(timezone.utc) + timedelta(days=30))
    step(rot, person, "createSecret", token)
    with pytest.raises(RotationError):
        step(rot, person, "testSecret", token)
    assert person.value() == current_value and "AWSCURRENT" in person.stages()[first]
    assert person.keys()[current_key] == "Active"
    # The next rotation deletes the failed version's key (no version that can become current
    # holds it) before making its own: still two keys.
    endpoint.reject_first = 0
    failed_key = person.value("AWSPENDING", token)["username"]
    person.sm.update_secret_version_stage(SecretId=person.secret, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    full(rot, person)
    keys = person.keys()
    assert failed_key not in keys and current_key in keys and len(keys) == 2


# --- finishSecret


def test_finish_secret_promotes_the_version_and_may_be_retried(aws, endpoint):
    person = Person()
    first = full(rotation(person, endpoint), person)
    token = person.start()
    rot = rotation(person, endpoint)
    for name in ("createSecret", "setSecret", "testSecret", "finishSecret", "finishSecret"):
        step(rot, person, name, token)
    stages = person.stages()
    assert "AWSCURRENT" in stages[token] and "AWSPREVIOUS" in stages[first] and "AWSCURRENT" not in stages[first]
    assert person.value()["key"] == 2
    # Both keys work during the grace period: the previous one is not touched.
    assert set(person.keys().values()) == {"Active"} and len(person.keys()) == 2


# --- the two-key limit


def test_two_rotations_in_a_row_keep_at_most_two_keys(aws, endpoint):
    person = Person()
    full(rotation(person, endpoint), person)
    full(rotation(person, endpoint), person)
    k1, k2 = person.value("AWSPREVIOUS")["username"], person.value()["username"]
    assert set(person.keys()) == {k1, k2}
    # A third rotation within the grace period needs a third key: it refuses, changes nothing.
    token = person.start()
    with pytest.raises(TwoKeysInUse):
        step(rotation(person, endpoint), person, "createSecret", token)
    assert set(person.keys()) == {k1, k2} and person.value()["username"] == k2
    person.sm.update_secret_version_stage(SecretId=person.secret, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    # After the grace period the previous key goes first.
    later = rotation(person, endpoint, now=lambda: datetime.now(timezone.utc) + timedelta(hours=25))
    full(later, person)
    k3 = person.value()["username"]
    assert set(person.keys()) == {k2, k3}


class CountingIam:
    """IAM that records the user's key count after every call (moto also refuses a third key)."""

    def __init__(self, real, user):
        self.real, self.user, self.counts = real, user, []

    def __getattr__(self, name):
        method = getattr(self.real, name)

        def call(**kwargs):
            result = method(**kwargs)
            self.counts.append(len(self.real.list_access_keys(UserName=self.user)["AccessKeyMetadata"]))
            return result
        return call


ACTIONS = st.lists(st.sampled_from(["rotate", "rotate-failing", "wait-grace", "suspend", "reactivate"]),
                   min_size=1, max_size=8)


@pytest.fixture
def aws_env(monkeypatch):
    """Test credentials and region only; each example below starts its own moto."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_no_sequence_of_rotations_ever_holds_three_keys(aws_env, actions):
    """Any sequence of rotations (succeeding, or failing at testSecret), suspensions and waits:
    never more than two keys, and the current version's key always exists and is usable."""
    from moto import mock_aws

    with mock_aws():
        person = Person()
        iam = CountingIam(person.iam, person.user)
        offset = [timedelta(0)]
        working = {"ok": True}

        class Login:  # testSecret's SMTP login, succeeding or not as the action says
            def __call__(self, host, port, username, password, **_):
                if not working["ok"] or moto_key(username) is None:
                    raise OSError("refused")

        original = handler.smtp_login
        handler.smtp_login = Login()
        try:
            for action in actions:
                if action == "wait-grace":
                    offset[0] += timedelta(hours=25)
                    continue
                if action in ("suspend", "reactivate"):
                    if action == "suspend":
                        person.set_tags(**{"ses-mail:status": "suspended"})
                    else:
                        person.sm.untag_resource(SecretId=person.secret, TagKeys=["ses-mail:status"])
                    continue
                rot = Rotation(person.sm, iam, Config(smtp_test_seconds=0),
                               now=lambda: datetime.now(timezone.utc) + offset[0], sleep=lambda s: None)
                working["ok"] = action == "rotate"
                token = person.start()
                try:
                    for name in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                        step(rot, person, name, token)
                except RotationError:
                    # As Secrets Manager leaves a failed rotation: AWSPENDING on the failed version,
                    # removed when the next one starts (moto needs it removed first).
                    stages = person.stages().get(token, [])
                    if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                        person.sm.update_secret_version_stage(SecretId=person.secret, VersionStage="AWSPENDING",
                                                              RemoveFromVersionId=token)
                assert max(iam.counts or [0]) <= 2
                if any("AWSCURRENT" in s for s in person.stages().values()):
                    current = person.value()
                    if current["status"] == "active":
                        assert current["username"] in person.keys()
        finally:
            handler.smtp_login = original


# --- suspension


def test_a_suspended_persons_rotation_does_not_reactivate_them(aws, endpoint):
    person = Person()
    full(rotation(person, endpoint), person)
    key = person.value()["username"]
    person.set_tags(**{"ses-mail:status": "suspended"})
    person.iam.update_access_key(UserName=person.user, AccessKeyId=key, Status="Inactive")
    logins = len(endpoint.logins)
    full(rotation(person, endpoint), person)
    assert person.keys() == {key: "Inactive"}
    value = person.value()
    assert value["status"] == "suspended" and value["password"] is None and value["username"] == key
    assert len(endpoint.logins) == logins, "a suspended version has no key to log in with"


def test_suspension_deactivates_a_key_left_active_and_reactivation_restores_sending(aws, endpoint):
    person = Person()
    full(rotation(person, endpoint), person)
    key = person.value()["username"]
    person.set_tags(**{"ses-mail:status": "suspended"})
    full(rotation(person, endpoint), person)
    assert person.keys() == {key: "Inactive"}
    person.sm.untag_resource(SecretId=person.secret, TagKeys=["ses-mail:status"])
    full(rotation(person, endpoint), person)
    value = person.value()
    assert value["status"] == "active" and person.keys()[value["username"]] == "Active"
    assert endpoint.logins[-1] == ("LOGIN", value["username"], True, True)


# --- migration from a mode where Pulumi made the key


def test_the_legacy_key_works_until_the_first_version_then_retires_after_the_grace_period(aws, endpoint):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=USER, Path=IAM_USER_PATH)
    legacy = iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"]
    person = Person.__new__(Person)
    person.address, person.user, person.secret = ADDRESS, USER, SECRET
    person.iam, person.sm = iam, boto3.client("secretsmanager", region_name=REGION)
    tags = rotation_secret_tags(ADDRESS, USER, REGION, "ses-mail/dev", legacy_key=legacy)
    person.sm.create_secret(Name=SECRET, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    full(rotation(person, endpoint), person)
    first = person.value()["username"]
    assert person.keys() == {legacy: "Active", first: "Active"}
    with pytest.raises(TwoKeysInUse):
        step(rotation(person, endpoint), person, "createSecret", person.start())


# --- the shipped file


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=60), st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1"]))
def test_the_handlers_password_is_the_packages(secret, region):
    assert handler.smtp_password(secret, region) == spec.smtp_password(secret, region)


@given(st.one_of(st.none(), st.text(max_size=20)), st.sampled_from(["active", "suspended"]), st.integers(0, 99))
def test_the_handlers_value_is_the_packages(password, status, key):
    assert (handler.secret_value(ADDRESS, REGION, "AKIA1", password, status=status, key=key)
            == spec.secret_value(ADDRESS, REGION, "AKIA1", password, status=status, key=key))


@given(st.text(min_size=1, max_size=60))
def test_tag_encoding_round_trips(text):
    try:
        encoded = encode_tag(text)
    except ValueError:
        return  # longer than a tag once escaped
    assert handler.decode_tag(encoded) == text


def test_the_handler_runs_alone(tmp_path):
    """handler.py imports only the standard library and boto3, and loads with nothing of ses-mail."""
    tree = ast.parse(HANDLER_FILE.read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported - set(sys.stdlib_module_names) == {"boto3"}
    (tmp_path / "handler.py").write_bytes(HANDLER_FILE.read_bytes())
    out = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, '.'); import handler; "
                          "print(handler.smtp_password('some+secret+key', 'eu-central-1')); "
                          "print(any(m.startswith('ses_mail') for m in sys.modules))"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2", "False"]


def test_an_untagged_secret_is_refused(aws):
    person = Person()
    person.sm.untag_resource(SecretId=person.secret, TagKeys=["ses-mail:iam-user"])
    with pytest.raises(RotationError, match="ses-mail:iam-user"):
        step(rotation(person), person, "createSecret", person.start())
    assert person.keys() == {}


def test_an_address_outside_the_tag_alphabet_is_stored_exactly(aws):
    person = Person(address="o'brien+x@test1.com")
    token = person.start()
    step(rotation(person), person, "createSecret", token)
    assert person.value("AWSPENDING", token)["address"] == "o'brien+x@test1.com"
    assert "=27" in encode_tag("o'brien+x@test1.com")
