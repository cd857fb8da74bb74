"""ses-mail as a package: a wheel that installs the component with its runtime dependencies only,
the example program run from that installed copy, and the plugin schema other languages get."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "component"
PLUGIN = PROJECT_DIR / "provider"


# --- the wheel, installed ------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the built wheel installed (--no-deps); the runtime dependencies come from
    this venv's site-packages through a path entry (no .pth of it runs, so not its editable install
    of ses_mail either). Returns the fresh venv's python."""
    root = tmp_path_factory.mktemp("installed")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                            "-w", str(root / "dist"), str(PROJECT_DIR)], capture_output=True, text=True, timeout=600)
    if built.returncode != 0 and "Could not find a version" in built.stderr:
        pytest.skip("building the wheel needs setuptools from the package index")
    assert built.returncode == 0, built.stderr
    [wheel] = (root / "dist").glob("ses_mail_roster-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                           "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (purelib / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


def in_installed(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(python), "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_the_wheel_holds_the_package_and_declares_only_runtime_dependencies(installed):
    [wheel] = (installed.parent.parent.parent / "dist").glob("ses_mail_roster-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert {n.split("/")[0] for n in names} == {"ses_mail", wheel.name.split("-py3")[0] + ".dist-info"}
    def name(line: str) -> str:
        return line.split(": ", 1)[1].split(";")[0].split("<")[0].split(">")[0].split("=")[0].strip()

    dists = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    requires = sorted(name(line) for line in dists if "extra ==" not in line)
    extra = sorted(name(line) for line in dists if 'extra == "prove"' in line)
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert requires == sorted(d.split("<")[0].split(">")[0].split("=")[0] for d in project["project"]["dependencies"])
    assert not {"pytest", "hypothesis", "moto", "dkimpy", "zizmor", "ruff"} & set(requires)
    # The receiver's view's libraries only with the `prove` extra.
    assert extra == ["authheaders", "authres", "dkimpy", "pyspf"]
    assert "Provides-Extra: prove" in metadata
    assert "ses-mail = ses_mail.cli:main" in entry_points


def test_the_installed_copy_is_imported_not_the_source_tree(installed, tmp_path):
    done = in_installed(installed, "import ses_mail, sys; from ses_mail import SesMail, SesMailArgs; "
                                   "print(ses_mail.__file__); print(SesMail.__module__)", tmp_path)
    assert done.returncode == 0, done.stderr
    where, module = done.stdout.split()
    assert Path(where).is_relative_to(installed.parent.parent) and "site-packages" in where
    assert not Path(where).is_relative_to(PROJECT_DIR) and module == "ses_mail.components.ses_mail"


def test_the_example_program_runs_from_the_installed_package(installed, tmp_path):
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    code = (
        "import json, ses_mail\n"
        "from pathlib import Path\n"
        "from ses_mail.project import Project\n"
        "from ses_mail.review.engine import run_program\n"
        "assert 'site-packages' in ses_mail.__file__, ses_mail.__file__\n"
        "run = run_program(project=Project(Path.cwd()), stack='dev')\n"
        "print(json.dumps({'types': sorted({r.type for r in run.registrations}),\n"
        "                  'records': sorted(r.name for r in run.registrations if r.type == 'aws:route53/record:Record'),\n"
        "                  'outputs': sorted(run.outputs), 'secret': sorted(run.secret_outputs),\n"
        "                  'dns': run.outputs['dns_records'], 'people': sorted(run.outputs['smtp_credentials'])}))\n"
    )
    done = in_installed(installed, code, project)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "ses-mail:index:SesMail" in result["types"]
    assert result["outputs"] == ["dns_records", "identities", "smtp_credentials"]
    assert result["secret"] == ["smtp_credentials"]
    assert result["people"] == ["info@example.net", "taro@example.com"]
    # example.net keeps its DNS elsewhere: listed, not created.
    assert any(r["name"] == "_dmarc.example.net" for r in result["dns"])
    assert result["records"] and all(name.startswith("example.com-") for name in result["records"])


def test_the_installed_command_runs(installed, tmp_path):
    done = in_installed(installed, "import sys; from ses_mail.cli import main; sys.exit(main(['--version']))", tmp_path)
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert done.returncode == 0 and done.stdout.strip() == f"ses-mail {project['project']['version']}"


# --- the plugin: the schema other languages are generated from ----------------------------------

def test_importing_ses_mail_does_not_import_pulumi():
    code = ("import sys; import ses_mail; assert 'pulumi' not in sys.modules; "
            "assert 'SesMail' in dir(ses_mail); from ses_mail import SesMail; assert 'pulumi' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def schema() -> dict:
    from pulumi.provider.experimental.component import ComponentProvider

    from ses_mail import SesMail

    provider = ComponentProvider([SesMail], "ses-mail", None, "0.3.0")
    return json.loads(provider.get_schema(None).schema) if hasattr(provider, "get_schema") else json.loads(provider.schema)


def test_the_plugin_schema_is_derived_from_the_component(schema):
    resource = schema["resources"]["ses-mail:index:SesMail"]
    assert resource["isComponent"] is True
    inputs = resource["inputProperties"]
    assert set(inputs) == {"roster", "region", "iamPath", "permissionsBoundary", "rotationPermissionsBoundary",
                           "secretsKmsKey", "secretAdmins",
                           "bounceRateAlarm", "complaintRateAlarm"}
    assert inputs["bounceRateAlarm"]["type"] == "number"
    assert resource["requiredInputs"] == ["roster"]
    assert inputs["roster"]["type"] == "string" and inputs["roster"].get("plain") is True
    assert inputs["secretAdmins"]["type"] == "array" and inputs["secretAdmins"]["items"]["type"] == "string"
    for name, prop in inputs.items():
        assert "Default" in prop["description"] or name == "roster", name  # every default documented
    outputs = resource["properties"]
    assert set(outputs) == {"dnsRecords", "identities", "senders", "smtpCredentials", "credentialStatus",
                            "deliverabilitySummary", "verification"}
    assert set(resource["required"]) == set(outputs)
    assert outputs["dnsRecords"]["items"]["$ref"] == "#/types/ses-mail:index:DnsRecordRow"
    assert outputs["identities"]["additionalProperties"]["type"] == "string"
    assert outputs["senders"]["additionalProperties"]["$ref"] == "#/types/ses-mail:index:Sender"
    assert outputs["smtpCredentials"]["additionalProperties"]["additionalProperties"]["$ref"] == "pulumi.json#/Any"
    row = schema["types"]["ses-mail:index:DnsRecordRow"]
    assert set(row["properties"]) == {"name", "type", "value", "ttl"} and row["properties"]["ttl"]["type"] == "integer"
    assert schema["types"]["ses-mail:index:Sender"]["required"] == ["domain", "iamUser"]


def test_the_plugin_entry_point_hosts_the_component():
    import runpy

    plugin = runpy.run_path(str(PLUGIN / "__main__.py"), run_name="ses_mail_plugin")  # not __main__: no server
    from ses_mail import SesMail

    assert plugin["COMPONENTS"] == [SesMail] and plugin["NAME"] == "ses-mail"
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert plugin["VERSION"] == project["project"]["version"]
    manifest = (PLUGIN / "PulumiPlugin.yaml").read_text()
    assert "runtime: python" in manifest
    assert (PLUGIN / "requirements.txt").read_text().splitlines()[-1] == "-r ../requirements.txt"


def test_live_commands_runtime_needs_are_runtime_requirements():
    """doctor, audit and adopt read the account with boto3 and resolve with dnspython at run time."""
    lines = (PROJECT_DIR / "requirements.in").read_text(encoding="utf-8").splitlines()
    names = {line.split("#")[0].strip().split(">")[0].split("<")[0].split("=")[0].split("[")[0].lower()
             for line in lines if line.strip() and not line.lstrip().startswith("#")}
    assert {"boto3", "dnspython"} <= names
