"""The one place that knows where a Pulumi project is and what its stack files configure.

The offline commands run in a user's project (a clone with `Pulumi.yaml`, `Pulumi.<stack>.yaml`
and rosters), which is not where this package is installed: every path a stack file names is
relative to the project directory, as it is for `pulumi up`, which runs the program there.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

#: The config namespace of the program's keys (`ses-mail:roster`, `ses-mail:region`, ...).
NAMESPACE = "ses-mail"
DEFAULT_ROSTER = "config/roster.yaml"
PULUMI_FILE = "Pulumi.yaml"


class ProjectError(Exception):
    """The project or one of its stack files cannot be used as it is: the message says why."""


class ProjectNotFound(ProjectError):
    """No `Pulumi.yaml` in the directory or any parent."""


def _mapping(text: str | None, source: str) -> dict:
    """A Pulumi.yaml or stack file's top level, or a ProjectError naming the file."""
    try:
        data = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ProjectError(f"{source}{where}: is not valid YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
        raise ProjectError(f"{source}: must be a mapping, with `config:` a mapping of keys to values")
    return data


def config_from_texts(project_text: str | None, stack_text: str | None, *,
                      sources: tuple[str, str] = (PULUMI_FILE, "the stack file")) -> dict[str, str]:
    """Stack config as the Pulumi CLI passes it to the program: the project's declared defaults,
    then the stack file's values, every key namespaced and every value a string. `sources` name
    the two files in errors."""
    config: dict[str, str] = {}
    project = _mapping(project_text, sources[0])
    for key, value in (project.get("config") or {}).items():
        if isinstance(value, dict) and "default" in value:
            config[_namespaced(key)] = _config_text(value["default"])
    stack = _mapping(stack_text, sources[1])
    for key, value in (stack.get("config") or {}).items():
        config[_namespaced(key)] = _config_text(value)
    return config


def _config_text(value: object) -> str:
    # As the CLI passes structured values: JSON (a YAML list arrives as `["a", "b"]`, true as `true`).
    return value if isinstance(value, str) else json.dumps(value)


def _namespaced(key: str) -> str:
    return key if ":" in key else f"{NAMESPACE}:{key}"


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory holding this program's stacks."""

    dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in self.dir.glob("Pulumi.*.yaml"))

    def stack_config(self, stack: str) -> dict[str, str]:
        return config_from_texts(read_text(self.dir / PULUMI_FILE), read_text(self.stack_file(stack)),
                                 sources=(str(self.dir / PULUMI_FILE), str(self.stack_file(stack))))

    def resolve(self, path: str | Path) -> Path:
        """A path as a stack file means it: relative to the project directory."""
        p = Path(path)
        return p if p.is_absolute() else self.dir / p

    def roster_of(self, config: dict[str, str]) -> Path:
        return self.resolve(config.get(f"{NAMESPACE}:roster") or DEFAULT_ROSTER)

    def roster_path(self, stack: str) -> Path:
        return self.roster_of(self.stack_config(stack))

    @property
    def program(self) -> Path | None:
        """The project's own `__main__.py`, if it has one (else the packaged program runs)."""
        main = self.dir / "__main__.py"
        return main if main.exists() else None


def find_project(start: str | Path | None = None) -> Project:
    """The nearest directory from `start` (default: the working directory) upwards with a Pulumi.yaml."""
    here = Path(start or os.getcwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / PULUMI_FILE).is_file():
            return Project(directory)
    raise ProjectNotFound(f"no {PULUMI_FILE} in {here} or any parent: run this in your Pulumi project "
                          "(or pass --project-dir)")
