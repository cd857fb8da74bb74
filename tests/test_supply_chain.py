"""The supply chain: hash-locked installs everywhere, locks that agree with the requirements,
the Pulumi CLI pinned to the locked SDK, update bots configured, and the release workflow."""
from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import PROJECT_DIR

WORKFLOWS = sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml"))
#: lock -> the files of ranges it resolves. The runtime's lock is requirements.txt because Pulumi's
#: own install (pip toolchain) installs that file: its hashes make pip check every download.
LOCKS = {"requirements.txt": ["requirements.in", "requirements-build.txt"],
         "requirements-dev.lock": ["requirements-dev.in", "requirements-build.txt"],
         "requirements-prove.lock": ["requirements.in", "requirements-prove.in", "requirements-build.txt"]}


def requirements(name: str) -> list[Requirement]:
    """The requirements of a requirements file, following `-r` includes."""
    found = []
    for line in (PROJECT_DIR / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found += requirements(line[3:].strip())
        else:
            found.append(Requirement(line))
    return found


def locked(name: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a lock file."""
    text = (PROJECT_DIR / name).read_text(encoding="utf-8")
    pins = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.\[\],-]+)==([^\s;\\]+)", block)
        if match:
            pins[canonicalize_name(match[1].split("[")[0])] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_requirement_is_locked_with_hashes_at_a_version_it_allows(lock):
    pins = locked(lock)
    assert pins, lock
    disagree = []
    for source in LOCKS[lock]:
        for req in requirements(source):
            if req.marker is not None and not req.marker.evaluate({"python_version": "3.11"}):
                continue
            pin = pins.get(canonicalize_name(req.name))
            if pin is None or not req.specifier.contains(pin[0], prereleases=True):
                disagree.append(f"{source}: {req} -> {lock}: {pin[0] if pin else 'missing'}")
    assert disagree == [], "the lock disagrees with the requirements: run `make lock`\n" + "\n".join(disagree)
    assert all(hashes for _, hashes in pins.values()), [n for n, (_, h) in pins.items() if not h]
    header = (PROJECT_DIR / lock).read_text(encoding="utf-8").splitlines()[:2]
    assert header[1].strip() == "#    make lock"  # written by `make lock`, not by hand


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-prove.lock"])
def test_the_runtime_lock_is_the_dev_locks_runtime(lock):
    """One resolution: the deploy (with or without the `prove` extra) and the tests run the same
    versions of what they share."""
    runtime, dev = locked(lock), locked("requirements-dev.lock")
    differ = {n: (v, dev[n][0]) for n, (v, _) in runtime.items() if n in dev and dev[n][0] != v}
    assert differ == {}, "run `make lock`: " + str(differ)


def test_every_install_requires_hashes():
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    installs = [line.strip() for line in makefile.splitlines() if re.search(r"\$\(PIP\) install", line)]
    assert installs
    for line in installs:
        hashed = "--require-hashes" in line and "--no-deps" in line and line.endswith(tuple(LOCKS))
        local = "--no-index" in line and "--no-build-isolation" in line and "--no-deps" in line and line.endswith(" .")
        assert hashed or local, line
    assert "make test" in (PROJECT_DIR / ".ci" / "run").read_text()
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bpip3? install|python -m pip|uv (pip|sync|add)|npm install", text), path.name
        for line in text.splitlines():
            if "npm " in line:
                assert "npm ci" in line, line
    # The workflows also install ./venv with `make venv` before Pulumi runs (Pulumi's own install,
    # below, is hash-checked too).
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            steps = job.get("steps", [])
            pulumi = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@")]
            if pulumi:
                venv = [i for i, s in enumerate(steps) if s.get("run", "").strip() == "make venv"]
                assert venv and venv[0] < pulumi[0], path.name


def test_the_pulumi_cli_is_pinned_to_the_locked_sdk():
    sdk = locked("requirements.txt")["pulumi"][0]
    seen = 0
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("pulumi/actions@"):
                    assert step["with"].get("pulumi-version") == sdk, path.name
                    seen += 1
    assert seen >= 2


def test_update_bots_cover_python_actions_and_npm_in_groups():
    config = yaml.safe_load((PROJECT_DIR / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) == {"pip", "github-actions", "npm"}
    assert all(u.get("groups") for u in ecosystems.values())


def test_the_project_metadata_is_one_version_for_package_command_and_plugin():
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    changelog = (PROJECT_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    assert project["name"] == "ses-mail-roster"  # `ses-mail` on PyPI is an unrelated project
    assert project["scripts"] == {"ses-mail": "ses_mail.cli:main"}
    assert "## [Unreleased]" in changelog
    assert f"## [{project['version']}]" in changelog


def test_pulumis_own_install_is_hash_checked():
    """`pulumi install` (and `pulumi up` on a fresh clone) installs requirements.txt into ./venv
    with the pip toolchain. That file is the runtime lock: every line pinned with its hashes, so
    pip runs in hash-checking mode (it does whenever any requirement has a hash) and refuses a
    download that does not match, or a dependency the lock does not pin."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    options = project["runtime"]["options"]
    assert project["runtime"]["name"] == "python" and options["toolchain"] == "pip"
    assert options["virtualenv"] == "venv"
    text = (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8")
    requirements = [b for b in re.split(r"\n(?=\S)", text) if b.strip() and not b.startswith("#")]
    assert requirements and all(re.match(r"[A-Za-z0-9_.\[\],-]+==\S+", r) and "--hash=sha256:" in r
                                for r in requirements), "requirements.txt must stay the hash lock (make lock)"
    assert not re.search(r"^\s*(-e|--editable|-r|-c|--index-url|--extra-index-url|git\+)", text, re.M)
    # The plugin's own install (provider/) includes the same lock and nothing else.
    plugin = [line for line in (PROJECT_DIR / "provider" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert plugin == ["-r ../requirements.txt"]
