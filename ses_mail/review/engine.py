"""Run `__main__.py` under the Pulumi mock engine and collect what it registered and exported.

Used by the offline plan, the tests and the plan diff alike, so all of them see exactly what
the real program does. Each run starts from fresh runtime state, so one process can run the
program many times (different rosters, stacks, or both sides of a diff).
"""
from __future__ import annotations

import gc
import os
import inspect
import runpy
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pulumi
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor

import ses_mail.program as program_module
from ses_mail.project import NAMESPACE, Project, find_project
from ses_mail.review.changes import AliasSpec
from ses_mail.review.emulation import AwsMocks, Registration
from ses_mail.stack_settings import parse_list



@dataclass(frozen=True)
class Options:
    """The resource options the engine received, which the SDK's mock monitor drops."""

    urn: str
    parent: str
    protect: bool
    aliases: tuple[str | AliasSpec, ...]
    dependencies: tuple[str, ...]
    # Deleting it only releases it from the stack (adopted resources): read by the diff.
    retain_on_delete: bool = False
    # What decides replacement besides the provider (read by ses_mail.cli.diff).
    delete_before_replace: bool = False
    replace_on_changes: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    replacement_trigger: Any = None
    custom_timeouts: dict[str, str] | None = None  # create/update/delete, as given


def alias_of(alias) -> str | AliasSpec:
    """One alias of a RegisterResource request: a URN, or the spec the engine resolves."""
    if alias.WhichOneof("alias") == "urn":
        return alias.urn
    spec = alias.spec
    return AliasSpec(name=spec.name, type=spec.type, parent_urn=spec.parentUrn, no_parent=bool(spec.noParent),
                     stack=spec.stack, project=spec.project)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, recording the resource options it drops, naming resources as the
    engine does, and counting registrations (`on_register`, for progress displays)."""

    def __init__(self, mocks: AwsMocks, on_register: Callable[[int], None] | None = None) -> None:
        super().__init__(mocks)
        self.options: dict[tuple[str, str], Options] = {}
        self.on_register = on_register

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine: a type is qualified by its parent's whole qualified type (the SDK's
        # mock keeps only the parent's last type), and resources at the stack root not at all
        # (the mock qualifies them by the stack's type).
        if parent and not parent.split("::")[2].endswith("pulumi:pulumi:Stack"):
            type_ = parent.split("::")[2] + "$" + type_
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method name
        aliases = tuple(request.aliasURNs) + tuple(alias_of(a) for a in request.aliases)
        self.options[(request.type, request.name)] = Options(
            urn=self.make_urn(request.parent, request.type, request.name),
            parent=request.parent,
            protect=bool(request.protect),
            aliases=aliases,
            dependencies=tuple(request.dependencies),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            replace_on_changes=tuple(request.replaceOnChanges),
            ignore_changes=tuple(request.ignoreChanges),
            replacement_trigger=(json_format.MessageToDict(request.replacement_trigger)
                                 if request.HasField("replacement_trigger") else None),
            custom_timeouts=({k: v for k, v in (("create", request.customTimeouts.create),
                                                 ("update", request.customTimeouts.update),
                                                 ("delete", request.customTimeouts.delete)) if v}
                             if request.HasField("customTimeouts") else None),
        )
        response = super().RegisterResource(request)
        if self.on_register is not None:
            self.on_register(len(self.options))
        return response


@dataclass
class ProgramRun:
    stack: str
    region: str
    roster: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    options: dict[tuple[str, str], Options]

    def options_of(self, registration: Registration) -> Options:
        return self.options[(registration.type, registration.name)]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def named(self, name: str) -> Registration:
        return next(r for r in self.registrations if r.name == name)


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the length of one run.

    The SDK keeps every Output and task of a run alive until the run ends, so each full
    collection rescans all of them: with the collector on, a run's time grew quadratically with
    the roster (two thirds of a 1,000-person run was collection). Cycles left by the run are
    collected as usual once it is back on. benchmarks.scale runs its floor under this too.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _resolved(value: Any, is_secret: list[bool]) -> Any:
    """A stack output's plain value, awaiting the Outputs in it where they are.

    (Output.from_input would first wrap every plain leaf of the value in an Output of its own:
    a tenth of a large run.) Sets is_secret[0] when any Output in it is secret.
    """
    if isinstance(value, pulumi.Output):
        if await value.is_secret():
            is_secret[0] = True
        return await _resolved(await value.future(), is_secret)
    if isinstance(value, dict):
        return {k: await _resolved(v, is_secret) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _resolved(v, is_secret) for v in value]
    if inspect.isawaitable(value):
        return await _resolved(await value, is_secret)
    return value


def install_mocks(config: dict[str, str], stack: str, mocks: AwsMocks, *, preview: bool = False,
                  on_register: Callable[[int], None] | None = None) -> RecordingMonitor:
    """The one setup of the SDK's mock runtime: fresh root and state, this run's config and mocks."""
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(config)
    monitor = RecordingMonitor(mocks, on_register)
    pulumi.runtime.set_mocks(mocks, project=NAMESPACE, stack=stack, preview=preview, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    return monitor


def run_program(*, project: Project | None = None, stack: str = "dev", roster: str | Path | None = None,
                region: str | None = None, zones: set[str] | None = None,
                config: dict[str, str] | None = None, stack_config: dict[str, str] | None = None,
                preview: bool = False, mocks: AwsMocks | None = None,
                on_register: Callable[[int], None] | None = None) -> ProgramRun:
    """Run the program once; raises what the program raises (pulumi.RunError for user errors).

    The stack's config is `stack_config` when given (e.g. read from a git revision), else the
    project's stack files; `config` entries are added on top, and `roster` and `region`, when
    given, win over both: an explicit choice is never overridden by a file.
    Pass `mocks` to inspect what was registered even when the program fails, and `on_register`
    to hear the running count of registrations (called from the SDK's worker threads).
    """
    project = project or find_project()
    cfg = dict(stack_config) if stack_config is not None else project.stack_config(stack)
    cfg.update(config or {})
    if roster is not None:
        cfg[f"{NAMESPACE}:roster"] = str(Path(roster).resolve())
    if region is not None:
        cfg["aws:region"] = region
    ses_region = cfg.get(f"{NAMESPACE}:region") or cfg.get("aws:region") or "us-east-1"

    if mocks is None:
        mocks = AwsMocks(region=cfg.get("aws:region") or ses_region, zones=zones)
        # A stack that names its secret admins is deployed by one of them (the program refuses
        # any other deployer): emulate the first, so offline runs plan what a deploy would.
        admins = parse_list(cfg.get(f"{NAMESPACE}:secretAdmins"))
        if admins:
            mocks.caller_arn = admins[0]
    monitor = install_mocks(cfg, stack, mocks, preview=preview, on_register=on_register)

    exported: dict[str, Any] = {}
    secret: set[str] = set()

    def program() -> None:
        # The project's own __main__.py, as `pulumi up` runs it, else the packaged program;
        # afresh each run, so module-level state never leaks between runs.
        if project.program is not None:
            runpy.run_path(str(project.program), run_name="__main__")
        else:
            runpy.run_path(str(Path(program_module.__file__)), run_name="__main__")
        outputs = dict(settings.get_root_resource().outputs)

        async def resolve() -> None:
            for name, value in outputs.items():
                is_secret = [False]
                exported[name] = await _resolved(value, is_secret)
                if is_secret[0]:
                    secret.add(name)

        _sync_await(resolve())

    # Relative paths in stack config mean the project directory, where `pulumi up` runs.
    with collector_paused(), working_directory(project.dir):
        _sync_await(run_pulumi_func(program))
    return ProgramRun(stack, ses_region, cfg.get(f"{NAMESPACE}:roster", ""), list(mocks.registrations), exported, secret,
                      dict(monitor.options))
