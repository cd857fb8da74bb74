"""The roster's JSON Schema: generated from the model, committed, referenced by the example,
and as strict as the model about typos."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from ses_mail.roster.errors import RosterError
from ses_mail.roster import parse_roster
from ses_mail.cli import schema
from tests.conftest import EXAMPLE_ROSTER, PROJECT_DIR


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    document = json.loads((PROJECT_DIR / schema.SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(document)
    return jsonschema.Draft7Validator(document)


def example() -> dict:
    return yaml.safe_load(EXAMPLE_ROSTER.read_text(encoding="utf-8"))


def test_committed_schema_matches_the_model():
    """Fails when the roster model changed without `make schema` (python -m ses_mail.cli.schema --write)."""
    assert (PROJECT_DIR / schema.SCHEMA_FILE).read_text(encoding="utf-8") == schema.render(), \
        "config/roster.schema.json is stale: run `make schema` and commit it"


def test_check_mode_exits_nonzero_on_drift(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text("name: ses-mail\nruntime: python\n")
    (tmp_path / "config").mkdir()
    (tmp_path / schema.SCHEMA_FILE).write_text("{}\n")
    assert schema.main(["--check", "--project-dir", str(tmp_path)]) == 1
    assert schema.main(["--write", "--project-dir", str(tmp_path)]) == 0
    assert schema.main(["--check", "--project-dir", str(tmp_path)]) == 0


def test_the_example_roster_references_the_schema_on_its_first_line():
    first = EXAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./roster.schema.json"
    assert (EXAMPLE_ROSTER.parent / "roster.schema.json").exists()


def test_the_example_roster_validates(validator):
    errors = [e.message for e in validator.iter_errors(example())]
    assert errors == []


def test_every_model_field_is_in_the_schema():
    document = schema.build_schema()
    from ses_mail.roster import Roster
    for name, model in schema._models(Roster).items():
        target = document if model is Roster else document["definitions"][name]
        assert set(target["properties"]) == set(model.model_fields), name
        assert target["additionalProperties"] is False, name


def typo(path: list, key: str, value=None, rename: str | None = None):
    def mutate(data: dict) -> dict:
        data = copy.deepcopy(data)
        node = data
        for part in path:
            node = node[part]
        if rename:
            node[rename] = node.pop(key)
        else:
            node[key] = value
        return data
    return mutate


TYPOS = {
    "misspelt domain field": typo(["domains", 0], "mail_from", rename="mailfrom"),
    "misspelt person field": typo(["people", 0], "email", rename="emial"),
    "misspelt top-level key": typo([], "people", rename="poeple"),
    "unknown dmarc policy": typo(["domains", 0], "dmarc", {"policy": "quarentine"}),
    "ttl below the minimum": typo(["domains", 0], "ttl", 30),
    "ttl as text": typo(["domains", 0], "ttl", "ten minutes"),
    "dmarc as a string": typo(["domains", 0], "dmarc", "off"),
    "people as a mapping": typo([], "people", {"email": "taro@example.com"}),
    "no domains": typo([], "domains", []),
}


@pytest.mark.parametrize("name", sorted(TYPOS))
def test_typical_typos_are_rejected_by_the_schema_and_the_model(validator, name):
    data = TYPOS[name](example())
    assert list(validator.iter_errors(data)), f"schema accepted: {name}"
    with pytest.raises(RosterError):
        parse_roster(yaml.safe_dump(data), "typo.yaml")


SHORTHANDS = {
    "dmarc: false": typo(["domains", 0], "dmarc", False),
    "dmarc: true": typo(["domains", 0], "dmarc", True),
    "rua as one address": typo(["domains", 0], "dmarc", {"policy": "none", "rua": "reports@example.com"}),
}


@pytest.mark.parametrize("name", sorted(SHORTHANDS))
def test_shorthands_the_model_accepts_are_accepted_by_the_schema(validator, name):
    data = SHORTHANDS[name](example())
    parse_roster(yaml.safe_dump(data), "shorthand.yaml")
    assert [e.message for e in validator.iter_errors(data)] == []


def test_the_generator_command_prints_the_same_schema():
    done = subprocess.run([sys.executable, "-m", "ses_mail.cli.schema"], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout) == json.loads(schema.render())


# --- the plugin's package schema: what `pulumi package add` consumers are generated from --------

PLUGIN_SCHEMA = PROJECT_DIR / "tests" / "support" / "plugin_schema.json"


def plugin_schema(components: list | None = None) -> dict:
    """The component's part of the plugin's schema (resources and types), as the plugin serves it."""
    from pulumi.provider.experimental.component import ComponentProvider

    from ses_mail import SesMail

    document = json.loads(ComponentProvider(components or [SesMail], "ses-mail", None, "0.0.0").schema)
    return {"resources": document["resources"], "types": document["types"]}


def write_plugin_schema() -> None:
    """Accept a deliberate schema change: `venv/bin/python -c 'from tests.test_schema import write_plugin_schema as w; w()'`."""
    PLUGIN_SCHEMA.write_text(json.dumps(plugin_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def test_the_plugin_schema_is_pinned():
    """Every input, output, type and description of the package schema is as committed: a new public
    annotation on SesMail (an output in every language) or a changed input fails here."""
    pinned = json.loads(PLUGIN_SCHEMA.read_text(encoding="utf-8"))
    assert plugin_schema() == pinned, ("the plugin schema changed: if on purpose, run write_plugin_schema() "
                                       "(see its docstring) and say so in CHANGELOG.md")


def test_a_new_public_annotation_would_change_the_pinned_schema():
    """The pin is sensitive to exactly the accident it guards against: a public annotation becomes an output."""
    import pulumi

    from ses_mail import SesMail

    # Built with type(): this module's annotations are strings (`from __future__ import annotations`).
    widened_class = type("SesMail", (SesMail,), {"__annotations__": {"extra": pulumi.Output[str]}})
    widened = plugin_schema([widened_class])["resources"]["ses-mail:index:SesMail"]
    pinned = json.loads(PLUGIN_SCHEMA.read_text(encoding="utf-8"))["resources"]["ses-mail:index:SesMail"]
    assert set(widened["properties"]) - set(pinned["properties"]) == {"extra"}
