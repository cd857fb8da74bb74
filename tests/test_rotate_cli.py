"""`ses-mail rotate EMAIL` against moto's Secrets Manager: in process, and as the installed command
against a moto server through AWS_ENDPOINT_URL. It calls DescribeSecret and RotateSecret, nothing
else (never GetSecretValue)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from ses_mail.cli import rotate
from ses_mail.specs.naming import secret_name

REGION = "eu-west-1"
ROSTER = """domains:
  - name: test1.com
people:
  - email: taro@test1.com
  - email: hanako@test1.com
"""
SES_CLI = Path(sys.executable).parent / "ses-mail"


def rotatable(sm, address="taro@test1.com"):
    """A secret as the rotation mode leaves it after its first rotation: a value, rotation on."""
    sm.create_secret(Name=secret_name(address), SecretString='{"status": "active"}')
    sm.rotate_secret(SecretId=secret_name(address), RotationRules={"AutomaticallyAfterDays": 30})


def recording(operations):
    def factory(service):
        client = boto3.client(service, region_name=REGION)
        client.meta.events.register("before-call.*.*", lambda model=None, **_: operations.append(model.name))
        return client
    return factory


@pytest.fixture
def roster(tmp_path):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    return path


def test_rotate_starts_a_rotation_and_reads_no_value(aws, roster, capsys):
    sm = boto3.client("secretsmanager", region_name=REGION)
    rotatable(sm)
    before = set(sm.describe_secret(SecretId=secret_name("taro@test1.com"))["VersionIdsToStages"])
    operations: list[str] = []
    code = rotate.main(["Taro@Test1.com", "--roster", str(roster), "--region", REGION], clients=recording(operations))
    assert code == 0, capsys.readouterr()
    assert operations == ["DescribeSecret", "RotateSecret"]
    after = set(sm.describe_secret(SecretId=secret_name("taro@test1.com"))["VersionIdsToStages"])
    (new,) = after - before
    assert f"version {new}" in capsys.readouterr().out


def test_a_secret_without_rotation_is_not_rotated(aws, roster, capsys):
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(Name=secret_name("taro@test1.com"), SecretString="{}")
    operations: list[str] = []
    assert rotate.main(["taro@test1.com", "--roster", str(roster), "--region", REGION],
                       clients=recording(operations)) == 1
    assert operations == ["DescribeSecret"] and "no rotation configured" in capsys.readouterr().err


def test_a_person_without_a_secret(aws, roster, capsys):
    assert rotate.main(["hanako@test1.com", "--roster", str(roster), "--region", REGION]) == 1
    assert "no secret ses-smtp/hanako@test1.com" in capsys.readouterr().err


def test_a_rotation_in_progress_is_not_restarted(aws, roster, capsys):
    sm = boto3.client("secretsmanager", region_name=REGION)
    rotatable(sm)
    name = secret_name("taro@test1.com")
    current = next(v for v, s in sm.describe_secret(SecretId=name)["VersionIdsToStages"].items() if "AWSCURRENT" in s)
    sm.put_secret_value(SecretId=name, SecretString='{"pending": true}', VersionStages=["AWSPENDING"])
    operations: list[str] = []
    assert rotate.main(["taro@test1.com", "--roster", str(roster), "--region", REGION],
                       clients=recording(operations)) == 1
    assert operations == ["DescribeSecret"] and "in progress" in capsys.readouterr().err
    assert "AWSCURRENT" in sm.describe_secret(SecretId=name)["VersionIdsToStages"][current]


def test_someone_outside_the_roster_is_refused_before_any_call(roster, capsys):
    def no_aws(service):
        raise AssertionError("no AWS call for an address outside the roster")
    assert rotate.main(["saburo@test1.com", "--roster", str(roster), "--region", REGION], clients=no_aws) == 2
    assert "not in the roster" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_installed_command_against_a_moto_server(tmp_path, roster):
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                    "AWS_EC2_METADATA_DISABLED": "true"})
        sm = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        rotatable(sm)
        done = subprocess.run([str(SES_CLI), "rotate", "taro@test1.com", "--roster", str(roster), "--region", REGION],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "rotation started" in done.stdout
        assert sm.describe_secret(SecretId=secret_name("taro@test1.com")).get("LastRotatedDate")
        denied = subprocess.run([str(SES_CLI), "rotate", "taro@test1.com", "--roster", str(roster), "--region", REGION],
                                env={k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert denied.returncode == 2 and denied.stderr.startswith("error: no AWS credentials"), denied.stderr
    finally:
        server.stop()
