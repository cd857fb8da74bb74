"""The offline plan diff: provider replacement rules, grouping, secrecy, formats and exit codes.

Pure tests build `Resource` lists by hand; the rest run the real program on both sides
through `ses_mail.cli.diff`, as the CLI and the PR workflow do.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ses_mail.specs.smtp_password import smtp_password
from ses_mail.cli import diff as plandiff
from ses_mail.cli.exit_codes import EXIT_CHANGES, EXIT_INVALID, EXIT_OK, EXIT_USAGE
from ses_mail.review.emulation import fake_access_key_id, fake_secret_key
from ses_mail.review.changes import (CREATE, DELETE, REPLACE, UPDATE, AliasSpec, Group, Resource, Secret,
                                     alias_urns, diff_stack, engine_urn, resources, scrub)
from ses_mail.review.render import MARKER, Report, render_json, render_markdown, render_text
from ses_mail.project import Project
from tests.conftest import EXAMPLE_ROSTER, PROJECT_DIR

RECORD = "aws:route53/record:Record"
USER = "aws:iam/user:User"
POLICY = "aws:iam/userPolicy:UserPolicy"
KEY = "aws:iam/accessKey:AccessKey"
IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
SENDER = "ses-mail:index:SmtpSender"
DOMAIN = "ses-mail:index:SendingDomain"
STACK_URN = "urn:pulumi:dev::ses-mail::pulumi:pulumi:Stack::ses-mail-dev"


def urn(type_: str, name: str, parent_type: str = "") -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:dev::ses-mail::{qualified}::{name}"


def res(type_: str, name: str, inputs: dict, parent: tuple[str, str] | None = None, **kw) -> Resource:
    parent_urn = urn(*parent) if parent else STACK_URN
    return Resource(type_, name, scrub(inputs), urn=urn(type_, name, parent[0] if parent else ""),
                    parent=parent_urn, **kw)


def only(changes, **match):
    found = [c for c in changes if all(getattr(c, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, changes)
    return found[0]


# --- replacement rules, as the provider decides them --------------------------------------

RECORD_INPUTS = {"zoneId": "Z1", "name": "mail.example.com", "type": "MX", "ttl": 600.0,
                 "records": ["10 feedback-smtp.eu-west-1.amazonses.com"]}


@pytest.mark.parametrize("change, op", [
    ({"name": "bounce.example.com"}, REPLACE),
    ({"zoneId": "Z2"}, REPLACE),
    ({"type": "TXT"}, UPDATE),
    ({"ttl": 300.0}, UPDATE),
    ({"records": ["10 feedback-smtp.us-east-1.amazonses.com"]}, UPDATE),
])
def test_route53_record_replaces_only_on_name_or_zone(change, op):
    base = [res(RECORD, "r", RECORD_INPUTS)]
    head = [res(RECORD, "r", {**RECORD_INPUTS, **change})]
    diff = diff_stack(base, head)
    assert [c.op for c in diff.changes] == [op]
    assert diff.changes[0].replace_reasons == (sorted(change) if op == REPLACE else [])


@pytest.mark.parametrize("type_, before, after, op", [
    (KEY, {"user": "u"}, {"user": "u", "pgpKey": "keybase:someone"}, REPLACE),
    (KEY, {"user": "u"}, {"user": "v"}, REPLACE),
    (KEY, {"user": "u"}, {"user": "u", "status": "Inactive"}, UPDATE),
    (USER, {"name": "smtp-a@x.com", "path": "/ses-smtp/"}, {"name": "smtp-b@x.com", "path": "/ses-smtp/"}, UPDATE),
    (USER, {"name": "u", "tags": {"ses-mail:name": "A"}}, {"name": "u", "tags": {"ses-mail:name": "B"}}, UPDATE),
    (POLICY, {"user": "u", "name": "p", "policy": "{}"}, {"user": "u", "name": "p", "policy": '{"a": 1}'}, UPDATE),
    (POLICY, {"user": "u", "name": "p", "policy": "{}"}, {"user": "v", "name": "p", "policy": "{}"}, REPLACE),
    (IDENTITY, {"emailIdentity": "a.com", "region": "eu-west-1"}, {"emailIdentity": "a.com", "region": "us-east-1"}, REPLACE),
    (IDENTITY, {"emailIdentity": "a.com", "dkimSigningAttributes": {"nextSigningKeyLength": "RSA_1024_BIT"}},
     {"emailIdentity": "a.com", "dkimSigningAttributes": {"nextSigningKeyLength": "RSA_2048_BIT"}}, UPDATE),
])
def test_replacement_follows_the_provider_force_new_properties(type_, before, after, op):
    diff = diff_stack([res(type_, "x", before)], [res(type_, "x", after)])
    assert [c.op for c in diff.changes] == [op]
    assert diff.changes[0].destructive == (op == REPLACE)


def test_nested_changes_are_reported_leaf_by_leaf():
    diff = diff_stack([res(USER, "u", {"name": "u", "tags": {"ses-mail:name": "Taro", "ses-mail:address": "t@x.com"}})],
                      [res(USER, "u", {"name": "u", "tags": {"ses-mail:name": "Taro Y", "ses-mail:address": "t@x.com"}})])
    [prop] = diff.changes[0].properties
    assert (prop.path, prop.before, prop.after, prop.forces_replace) == ('tags["ses-mail:name"]', "Taro", "Taro Y", False)


def test_unchanged_resources_and_numbers_from_the_wire_compare_equal():
    # The engine sends every number as a float; 600 and 600.0 are the same TTL.
    diff = diff_stack([res(RECORD, "r", RECORD_INPUTS)], [res(RECORD, "r", {**RECORD_INPUTS, "ttl": 600})])
    assert diff.changes == [] and diff.unchanged == 1 and not diff.has_changes


def test_a_type_without_replacement_rules_is_flagged_not_guessed():
    diff = diff_stack([res("aws:kms/key:Key", "k", {"description": "a"})],
                      [res("aws:kms/key:Key", "k", {"description": "b"})])
    assert diff.unknown_types == ["aws:kms/key:Key"]
    assert "no replacement rules for aws:kms/key:Key" in render_text([Report("dev", "a", "b", diff)])


def test_deleting_a_protected_resource_is_called_out_as_blocked():
    identity = res(IDENTITY, "example.org-identity", {"emailIdentity": "example.org"}, (DOMAIN, "example.org"),
                   protect=True)
    component = res(DOMAIN, "example.org", {})
    diff = diff_stack([component, identity], [])
    change = only(diff.changes, type=IDENTITY)
    assert change.op == DELETE and change.blocked_by_protect and diff.destructive == [change]
    text = render_text([Report("dev", "a", "b", diff)])
    assert text.index("DESTRUCTIVE CHANGES") < text.index("Summary:")
    assert "domain example.org (removed): SES identity deleted" in text and "is protected" in text


def test_an_aliased_resource_is_renamed_not_recreated():
    old = res(USER, "old-user", {"name": "u"})
    new = Resource(USER, "new-user", {"name": "u"}, urn=urn(USER, "new-user"), parent=STACK_URN, aliases=(old.urn,))
    diff = diff_stack([old], [new])
    assert [(c.op, c.renamed_from) for c in diff.changes] == [(UPDATE, "old-user")]


ROSTER_COMPONENT = "ses-mail:index:SesMail"


def test_alias_specs_resolve_as_the_engine_resolves_them():
    mail = res(ROSTER_COMPONENT, "mail", {})
    sender = Resource(SENDER, "taro@example.com", {}, urn=urn(SENDER, "taro@example.com", ROSTER_COMPONENT),
                      parent=mail.urn, aliases=(AliasSpec(no_parent=True),))
    key_urn = urn(KEY, "taro@example.com-key", f"{ROSTER_COMPONENT}${SENDER}")
    key = Resource(KEY, "taro@example.com-key", {}, urn=key_urn, parent=sender.urn)
    renamed = Resource(KEY, "k2", {}, urn=urn(KEY, "k2", f"{ROSTER_COMPONENT}${SENDER}"), parent=sender.urn,
                       aliases=(AliasSpec(name="k1"),))
    by = {r.urn: r for r in (mail, sender, key, renamed)}
    assert alias_urns(sender, by) == (urn(SENDER, "taro@example.com"),)
    # A child inherits its parent's aliases (N own + M parent aliases x (1 + N)).
    assert alias_urns(key, by) == (urn(KEY, "taro@example.com-key", SENDER),)
    assert alias_urns(renamed, by) == (urn(KEY, "k1", f"{ROSTER_COMPONENT}${SENDER}"), urn(KEY, "k2", SENDER),
                                       urn(KEY, "k1", SENDER))
    # A child named after its parent follows the parent's old name.
    moved = Resource(SENDER, "new@example.com", {}, urn=urn(SENDER, "new@example.com"), parent=STACK_URN,
                     aliases=(AliasSpec(name="old@example.com"),))
    child = Resource(KEY, "new@example.com-key", {}, urn=urn(KEY, "new@example.com-key", SENDER), parent=moved.urn)
    assert alias_urns(child, {r.urn: r for r in (moved, child)}) == (urn(KEY, "old@example.com-key", SENDER),)


def test_a_resource_moved_under_a_component_by_an_alias_is_unchanged():
    old_sender = res(SENDER, "taro@example.com", {})
    old_key = res(KEY, "taro@example.com-key", {"user": "u"}, (SENDER, "taro@example.com"))
    mail = res(ROSTER_COMPONENT, "mail", {})
    sender = Resource(SENDER, "taro@example.com", {}, urn=urn(SENDER, "taro@example.com", ROSTER_COMPONENT),
                      parent=mail.urn, aliases=(AliasSpec(no_parent=True),))
    key = Resource(KEY, "taro@example.com-key", {"user": "u"},
                   urn=urn(KEY, "taro@example.com-key", f"{ROSTER_COMPONENT}${SENDER}"), parent=sender.urn)
    diff = diff_stack([old_sender, old_key], [mail, sender, key])
    assert [(c.op, c.type) for c in diff.changes] == [(CREATE, ROSTER_COMPONENT)] and diff.unchanged == 1
    # Without the alias: the person's resources are deleted and created again.
    bare = Resource(SENDER, sender.name, {}, urn=sender.urn, parent=mail.urn)
    diff = diff_stack([old_sender, old_key], [mail, bare, key])
    assert diff.count(DELETE) == diff.count(CREATE) == 1


def test_urns_recorded_by_the_sdk_mock_read_as_engine_urns():
    assert engine_urn("urn:pulumi:dev::p::pulumi:pulumi:Stack$ses-mail:index:SmtpSender::a@b.c") == \
        "urn:pulumi:dev::p::ses-mail:index:SmtpSender::a@b.c"
    assert engine_urn(urn(KEY, "k", SENDER)) == urn(KEY, "k", SENDER)


def test_children_are_grouped_under_their_component_by_parent_or_by_name():
    sender = res(SENDER, "taro@example.com", {})
    by_parent = res(KEY, "some-key", {"user": "u"}, (SENDER, "taro@example.com"))
    by_name = Resource(KEY, "taro@example.com-key", {"user": "u"})  # no URN/parent known
    diff = diff_stack([], [sender, by_parent, by_name])
    assert {c.group for c in diff.changes} == {Group("person", "taro@example.com")}


def test_secret_inputs_compare_by_digest_and_never_print():
    wrapped = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "hunter2-very-secret"}
    base = [res("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretId": "s", "secretString": wrapped})]
    same = [res("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretId": "s", "secretString": dict(wrapped)})]
    assert not diff_stack(base, same).has_changes
    changed = [res("aws:secretsmanager/secretVersion:SecretVersion", "v",
                   {"secretId": "s", "secretString": {**wrapped, "value": "other-very-secret"}})]
    diff = diff_stack(base, changed)
    assert [c.op for c in diff.changes] == [REPLACE]  # a new secret value is a new version
    assert isinstance(diff.changes[0].properties[0].after, Secret)
    # Unmarked inputs whose names say "password" are treated as secrets too.
    scrubbed = scrub({"smtpPassword": "plain", "secretString": "s", "secretArn": "arn:x", "secretId": "arn:y"})
    assert isinstance(scrubbed["smtpPassword"], Secret) and isinstance(scrubbed["secretString"], Secret)
    assert (scrubbed["secretArn"], scrubbed["secretId"]) == ("arn:x", "arn:y")  # references, not secrets
    report = [Report("dev", "a", "b", diff)]
    for out in (render_text(report), render_markdown(report), render_json(report)):
        assert "very-secret" not in out and "[secret]" in out


def test_markdown_starts_with_the_marker_and_stays_under_the_comment_limit():
    head = [res(SENDER, f"p{i}@example.com", {}) for i in range(400)] + [
        res(POLICY, f"p{i}@example.com-send-policy", {"user": f"smtp-p{i}", "name": "send",
                                                      "policy": json.dumps({"Statement": [{"Action": "ses:*"}] * 5})},
            (SENDER, f"p{i}@example.com")) for i in range(400)]
    text = render_markdown([Report("dev", "a", "b", diff_stack([], head))], limit=20_000)
    assert text.splitlines()[0] == MARKER
    assert len(text) < 21_000 and "was cut here" in text
    assert text.count("```") % 2 == 0 and text.count("<details") == text.count("</details>")


# --- both sides through the real program ---------------------------------------------------

def example() -> dict:
    return yaml.safe_load(EXAMPLE_ROSTER.read_text(encoding="utf-8"))


def dump(data: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run_diff(*args: str, cwd: Path = PROJECT_DIR, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ses_mail", "diff", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def report_for(base: Path, head: Path) -> Report:
    project = Project(PROJECT_DIR)
    return plandiff.diff_sides(project, "dev", plandiff.base_side_from_file(project, "dev", str(base)),
                               plandiff.head_side(project, "dev", str(head)))


def test_adding_a_person_creates_exactly_their_user_policy_and_key(tmp_path):
    data = example()
    domain = data["domains"][0]["name"]
    address = f"newcomer@{domain}"
    base = dump(data, tmp_path / "base.yaml")
    data["people"].append({"email": address, "name": "New Comer"})
    head = dump(data, tmp_path / "head.yaml")

    report = report_for(base, head)
    diff = report.diff
    assert not report.invalid and diff is not None
    assert {c.group for c in diff.changes} == {Group("person", address)}
    assert {c.op for c in diff.changes} == {CREATE}
    created = {c.type: c for c in diff.changes if c.custom}
    assert {USER, POLICY, KEY} <= set(created)
    assert created[USER].after.inputs["tags"]["ses-mail:name"] == "New Comer"
    policy = json.loads(created[POLICY].after.inputs["policy"])
    assert json.dumps(policy).count(address) >= 1
    assert diff.destructive == [] and diff.count(DELETE) == diff.count(UPDATE) == diff.count(REPLACE) == 0
    assert "senders" in diff.outputs_changed
    assert not {"dns_records", "identities"} & set(diff.outputs_changed)  # no domain changed

    # The reviewer sees the whole policy document and no secret.
    text = render_text([report])
    assert '"ses:FromAddress": "' + address + '"' in text
    key_name = created[KEY].name
    for secret in (fake_secret_key(key_name), smtp_password(fake_secret_key(key_name), "ap-northeast-1")):
        for out in (text, render_markdown([report]), render_json([report])):
            assert secret not in out


def test_reordering_the_roster_changes_nothing(tmp_path):
    data = example()
    base = dump(data, tmp_path / "base.yaml")
    data["domains"].reverse()
    data["people"].reverse()
    head = dump(data, tmp_path / "head.yaml")
    done = run_diff("--base-roster", str(base), "--roster", str(head))
    assert done.returncode == EXIT_OK == 0, done.stderr
    assert "No changes" in done.stdout


def test_removing_a_domain_is_destructive_and_listed_first(tmp_path):
    data = example()
    base = dump(data, tmp_path / "base.yaml")
    gone = data["domains"].pop()["name"]
    data["people"] = [p for p in data["people"] if not p["email"].endswith("@" + gone)]
    head = dump(data, tmp_path / "head.yaml")

    report = report_for(base, head)
    diff = report.diff
    identity = only(diff.changes, type=IDENTITY)
    assert identity.op == DELETE and identity.group == Group("domain", gone)
    assert identity in diff.destructive and identity.blocked_by_protect  # domains are protected by default
    assert all(c.op == DELETE for c in diff.changes)
    records = [c for c in diff.changes if c.type == RECORD]
    assert records and all(c.destructive for c in records)

    done = run_diff("--base-roster", str(base), "--roster", str(head))
    assert done.returncode == EXIT_CHANGES == 3
    out = done.stdout
    assert out.index("DESTRUCTIVE CHANGES") < out.index("Summary:") < out.index(f"Domain {gone}")
    assert f"domain {gone} (removed): SES identity deleted" in out


def test_a_display_name_change_updates_the_user_in_place(tmp_path):
    data = example()
    base = dump(data, tmp_path / "base.yaml")
    person = data["people"][0]
    person["name"] = "Someone Else"
    head = dump(data, tmp_path / "head.yaml")
    diff = report_for(base, head).diff
    [change] = [c for c in diff.changes if c.custom]
    assert (change.type, change.op, change.group) == (USER, UPDATE, Group("person", person["email"]))
    assert [(p.path, p.after) for p in change.properties] == [('tags["ses-mail:name"]', "Someone Else")]
    assert diff.destructive == []


def test_a_dmarc_change_shows_the_record_in_full(tmp_path):
    data = example()
    base = dump(data, tmp_path / "base.yaml")
    data["domains"][0]["dmarc"] = {"policy": "reject"}
    head = dump(data, tmp_path / "head.yaml")
    report = report_for(base, head)
    [change] = [c for c in report.diff.changes if c.custom]
    assert (change.type, change.op) == (RECORD, UPDATE)
    text = render_text([report])
    name = data["domains"][0]["name"]
    assert f"was: _dmarc.{name} TXT 600 v=DMARC1; p=quarantine" in text
    assert f"now: _dmarc.{name} TXT 600 v=DMARC1; p=reject" in text


@pytest.mark.parametrize("side", ["base", "head"])
def test_an_invalid_roster_on_either_side_exits_4_with_the_clean_message(tmp_path, side):
    good = dump(example(), tmp_path / "good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("domains:\n  - name: example.com\npeople:\n  - emial: taro@example.com\n")
    base, head = (bad, good) if side == "base" else (good, bad)
    for fmt in ("text", "markdown", "json"):
        done = run_diff("--base-roster", str(base), "--roster", str(head), "--format", fmt)
        assert done.returncode == EXIT_INVALID == 4
        assert f"{side} roster" in done.stderr
        assert "bad.yaml:4: people[0].emial: is not a known field" in done.stderr
        assert "Traceback" not in done.stderr
    assert json.loads(run_diff("--base-roster", str(base), "--roster", str(head), "--format", "json")
                      .stdout)["stacks"][0]["status"] == "invalid"


def test_usage_errors_exit_2(tmp_path):
    assert run_diff("--base-roster", str(tmp_path / "missing.yaml")).returncode == EXIT_USAGE == 2
    assert run_diff("--base", "no-such-revision-xyz").returncode == 2
    assert run_diff("--base", "HEAD", "--stack", "no-such-stack").returncode == 2


def test_formats_colour_and_marker(tmp_path):
    data = example()
    base = dump(data, tmp_path / "base.yaml")
    data["people"].pop()
    head = dump(data, tmp_path / "head.yaml")
    plain = run_diff("--base-roster", str(base), "--roster", str(head))
    assert "\x1b[" not in plain.stdout  # not a terminal: no colour
    forced = run_diff("--base-roster", str(base), "--roster", str(head), "--color", "always")
    assert "\x1b[31m" in forced.stdout
    md = run_diff("--base-roster", str(base), "--roster", str(head), "--format", "markdown")
    assert md.returncode == 3 and md.stdout.splitlines()[0] == MARKER and "```diff" in md.stdout
    out_file = tmp_path / "diff.json"
    js = run_diff("--base-roster", str(base), "--roster", str(head), "--format", "json", "--output", str(out_file))
    assert js.returncode == 3 and js.stdout == ""
    [stack] = json.loads(out_file.read_text())["stacks"]
    assert stack["status"] == "changes" and stack["summary"]["delete"] >= 3
    assert all(c["op"] == "delete" for c in stack["changes"])


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_is_automatic_on_a_terminal_unless_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert plandiff.use_color("auto", _Tty()) and not plandiff.use_color("auto", io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not plandiff.use_color("auto", _Tty()) and plandiff.use_color("always", io.StringIO())


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A git repository holding the project's stack files and the example roster, committed."""
    root = tmp_path / "repo"
    (root / "config").mkdir(parents=True)
    for name in ["Pulumi.yaml", *[p.name for p in PROJECT_DIR.glob("Pulumi.*.yaml")]]:
        shutil.copy(PROJECT_DIR / name, root / name)
    dump(example(), root / "config" / "roster.yaml")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], check=True)
    monkeypatch.chdir(root)
    return root


def test_base_from_a_git_revision_of_the_same_path(repo, capsys):
    data = example()
    data["people"].append({"email": f"late@{data['domains'][0]['name']}"})
    dump(data, repo / "config" / "roster.yaml")
    assert plandiff.main(["--base", "HEAD", "--format", "json"]) == 3
    [stack] = json.loads(capsys.readouterr().out)["stacks"]
    assert stack["base"] == "HEAD:config/roster.yaml" and stack["head"] == "config/roster.yaml"
    assert {c["group"]["name"] for c in stack["changes"]} == {f"late@{data['domains'][0]['name']}"}

    # The same file at the same revision: nothing to do.
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "--", "config/roster.yaml"], check=True)
    assert plandiff.main(["--base", "HEAD"]) == 0


def test_a_roster_absent_at_the_base_revision_means_everything_is_new(repo, capsys):
    dump(example(), repo / "config" / "second.yaml")
    assert plandiff.main(["--base", "HEAD", "--roster", "config/second.yaml", "--format", "json"]) == 3
    [stack] = json.loads(capsys.readouterr().out)["stacks"]
    assert "absent" in stack["base"] and stack["summary"]["create"] > 0
    assert {c["op"] for c in stack["changes"]} == {"create"}


def test_an_invalid_roster_at_the_base_revision_exits_4(repo, capsys):
    (repo / "config" / "roster.yaml").write_text("domains: []\n")
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "commit", "-qam", "broken"], check=True)
    dump(example(), repo / "config" / "roster.yaml")
    assert plandiff.main(["--base", "HEAD"]) == 4
    err = capsys.readouterr().err
    assert "invalid base roster" in err and "HEAD:config/roster.yaml" in err and "Traceback" not in err


def test_resources_keep_engine_options(run):
    program = run(EXAMPLE_ROSTER)
    options = program.options
    items = [(r.type, r.name, r.inputs, options.get((r.type, r.name))) for r in program.registrations]
    built = {r.name: r for r in resources(items)}
    identity = next(r for r in built.values() if r.type == IDENTITY)
    assert identity.protect and identity.parent.endswith("::" + identity.name.removesuffix("-identity"))
    assert fake_access_key_id("x") not in json.dumps([dict(r.inputs) for r in built.values()], default=str)


# --- resource options that replace regardless of the provider ------------------------------

def test_a_changed_replacement_trigger_replaces_and_says_so():
    old = Resource(KEY, "k", {"user": "u"}, urn=urn(KEY, "k"), replacement_trigger=1, delete_before_replace=True)
    new = Resource(KEY, "k", {"user": "u"}, urn=urn(KEY, "k"), replacement_trigger=3, delete_before_replace=True)
    diff = diff_stack([old], [new])
    [change] = diff.changes
    assert change.op == REPLACE and change.destructive
    text = render_text([Report("dev", "a", "b", diff)])
    assert "replacement trigger 1 → 3" in text and "deleted before the new one is created" in text


def test_replace_on_changes_and_ignore_changes_options_are_honoured():
    base = [Resource(USER, "u", {"name": "a", "path": "/x/"}, urn=urn(USER, "u"))]
    replaced = [Resource(USER, "u", {"name": "b", "path": "/x/"}, urn=urn(USER, "u"), replace_on_changes=("name",))]
    assert [c.op for c in diff_stack(base, replaced).changes] == [REPLACE]
    ignored = [Resource(USER, "u", {"name": "b", "path": "/x/"}, urn=urn(USER, "u"), ignore_changes=("name",))]
    assert not diff_stack(base, ignored).has_changes


def person_change(tmp_path, before: dict, after: dict):
    """Diff the example roster with its first person's settings changed from `before` to `after`."""
    data = example()
    data["people"][0].update(before)
    base = dump(data, tmp_path / "base.yaml")
    data["people"][0].update(after)
    head = dump(data, tmp_path / "head.yaml")
    return data["people"][0]["email"], report_for(base, head).diff


def test_raising_the_key_generation_replaces_the_key(tmp_path):
    address, diff = person_change(tmp_path, {}, {"key": 3})
    [change] = [c for c in diff.changes if c.custom]
    assert (change.type, change.op, change.group) == (KEY, REPLACE, Group("person", address))
    assert change in diff.destructive and change.after.delete_before_replace


def test_rotating_with_a_previous_key_only_adds_the_new_key(tmp_path):
    address, diff = person_change(tmp_path, {}, {"key": 2, "previous_key": 1})
    assert [(c.type, c.op) for c in diff.changes if c.custom] == [(KEY, CREATE)]
    assert diff.destructive == []
    # ...and retiring the previous key deletes exactly that one.
    _, retire = person_change(tmp_path, {"key": 2, "previous_key": 1}, {"key": 2, "previous_key": None})
    [gone] = retire.destructive
    assert (gone.type, gone.op, gone.name) == (KEY, DELETE, f"{address}-key")


def test_a_new_pgp_key_replaces_the_access_key(tmp_path):
    _, diff = person_change(tmp_path, {"delivery": "pgp", "pgp_key": "keybase:alice"}, {"pgp_key": "keybase:bobby"})
    [change] = [c for c in diff.changes if c.custom]
    assert (change.type, change.op, change.replace_reasons) == (KEY, REPLACE, ["pgpKey"])


def test_suspending_a_person_is_an_update_that_is_called_out(tmp_path):
    address, diff = person_change(tmp_path, {}, {"status": "suspended"})
    assert {(c.type, c.op) for c in diff.changes if c.custom} == {(USER, UPDATE), (KEY, UPDATE)}
    assert diff.destructive == []
    [notice] = diff.attention
    assert notice.type == KEY and "Inactive" in notice.attention
    text = render_text([Report("dev", "a", "b", diff)])
    assert text.index("ATTENTION") < text.index("Summary:")


def test_restricting_source_ips_shows_the_policy_diff(tmp_path):
    _, diff = person_change(tmp_path, {}, {"allowed_ips": ["203.0.113.0/24"]})
    [change] = [c for c in diff.changes if c.custom]
    assert (change.type, change.op) == (POLICY, UPDATE)
    text = render_text([Report("dev", "a", "b", diff)])
    assert '+        "IpAddress": {' in text and '"203.0.113.0/24"' in text


def test_secrets_manager_delivery_never_prints_the_credential(tmp_path):
    address, diff = person_change(tmp_path, {}, {"delivery": "secrets_manager",
                                                 "secret_readers": ["arn:aws:iam::123456789012:role/reader"]})
    types = {c.type for c in diff.changes if c.custom and c.op == CREATE}
    assert "aws:secretsmanager/secretVersion:SecretVersion" in types
    report = [Report("dev", "a", "b", diff)]
    key = f"{address}-key"
    for out in (render_text(report), render_markdown(report), render_json(report)):
        assert fake_secret_key(key) not in out
        assert smtp_password(fake_secret_key(key), "ap-northeast-1") not in out


def test_a_head_roster_outside_the_repository_cannot_have_a_git_base(tmp_path):
    outside = dump(example(), tmp_path / "roster.yaml")
    done = run_diff("--base", "HEAD", "--roster", str(outside))
    assert done.returncode == 2 and "outside the git repository" in done.stderr
