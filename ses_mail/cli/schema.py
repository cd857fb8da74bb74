"""JSON Schema of the roster, generated from the pydantic model in ses_mail.roster.model.

Editors validate and complete `config/roster.yaml` with it (yaml-language-server reads the
`# yaml-language-server: $schema=./roster.schema.json` first line). The schema is derived,
never written by hand: `Roster.model_json_schema()`, rewritten to draft-07 (`definitions`),
which every YAML editor plugin understands, plus the shorthands the model's "before"
validators accept, found by asking the model itself (e.g. `dmarc: false`, `rua: one@address`).

    python -m ses_mail.cli.schema --write     # regenerate config/roster.schema.json
    python -m ses_mail.cli.schema --check     # exit 1 when the committed file is stale
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import BaseModel

from ses_mail.cli.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from ses_mail.project import ProjectError, find_project
from ses_mail.roster import Roster

#: Where the schema lives in a project, beside the example roster that references it.
SCHEMA_FILE = "config/roster.schema.json"
DRAFT = "http://json-schema.org/draft-07/schema#"

# Values tried against each model and each list field to learn which shorthands they accept.
# Samples cover the kinds of text roster lists hold (addresses, domains, networks, patterns, ARNs).
_ITEM_PROBES = ["someone@example.com", "example.com", "203.0.113.7", "203.0.113.0/24", "*@example.com",
                "arn:aws:iam::123456789012:role/reader", "x"]
_MODEL_PROBES: list[tuple[Any, str]] = [(False, "boolean"), (True, "boolean"), (None, "null"),
                                        *((probe, "string") for probe in _ITEM_PROBES[:2])]


def _models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from `model`, by the name pydantic gives its definition."""
    found: dict[str, type[BaseModel]] = {}

    def visit(m: type[BaseModel]) -> None:
        if m.__name__ in found:
            return
        found[m.__name__] = m
        for info in m.model_fields.values():
            for sub in _model_args(info.annotation):
                visit(sub)

    visit(model)
    return found


def _model_args(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _model_args(arg)
    return out


def model_shorthands(model: type[BaseModel]) -> list[str]:
    """JSON types other than an object that validate as this model (`dmarc: false`)."""
    accepted: list[str] = []
    for probe, json_type in _MODEL_PROBES:
        try:
            model.model_validate(probe)
        except Exception:  # noqa: BLE001 - any rejection means "not a shorthand"
            continue
        if json_type not in accepted:
            accepted.append(json_type)
    return accepted


def single_item_fields(model: type[BaseModel]) -> list[str]:
    """List fields whose "before" validator also takes a single string for a one-item list."""
    out: list[str] = []
    validators = model.__pydantic_decorators__.field_validators.values()
    for name in model.model_fields:
        for decorator in validators:
            if decorator.info.mode != "before" or name not in decorator.info.fields:
                continue
            method = getattr(model, decorator.cls_var_name)
            for probe in _ITEM_PROBES:
                try:
                    result = method(probe)
                except Exception:  # noqa: BLE001
                    continue
                if isinstance(result, (list, tuple)) and len(result) == 1:
                    out.append(name)
                    break
            if name in out:
                break
    return out


def _allow_single_item(prop: dict[str, Any]) -> None:
    """Let a list-of-strings property also be one string (`rua: reports@example.com`)."""
    if prop.get("type") == "array":
        array = {k: prop.pop(k) for k in ("type", "items", "minItems", "maxItems", "uniqueItems") if k in prop}
        prop["anyOf"] = [array]
    for alternative in list(prop.get("anyOf", [])):
        items = alternative.get("items", {})
        if alternative.get("type") == "array" and items.get("type") == "string" and items not in prop["anyOf"]:
            prop["anyOf"].insert(prop["anyOf"].index(alternative) + 1, dict(items))


def build_schema() -> dict[str, Any]:
    schema = Roster.model_json_schema(mode="validation", ref_template="#/definitions/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    models = _models(Roster)

    for name, model in models.items():
        target = schema if model is Roster else definitions.get(name)
        if target is None:
            continue
        for field in single_item_fields(model):
            _allow_single_item(target["properties"][field])

    # Where a model accepts shorthands, every reference to it accepts them too.
    shorthands = {name: model_shorthands(model) for name, model in models.items() if model is not Roster}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: rewrite(v) for k, v in node.items()}
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1] if ref.startswith("#/definitions/") else ""
            extra = {k: v for k, v in node.items() if k != "$ref"}
            if name and shorthands.get(name):
                node = {"anyOf": [{"$ref": ref}] + [{"type": t} for t in shorthands[name]], **extra}
            elif ref and extra:
                node = {"allOf": [{"$ref": ref}], **extra}  # draft-07 ignores keywords beside $ref
            return node
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    definitions = rewrite(definitions)
    schema = rewrite(schema)
    return {
        "$schema": DRAFT,
        "$comment": "Generated from ses_mail/roster/model.py by `ses-mail schema --write`; do not edit.",
        "title": "ses-mail roster",
        **{k: v for k, v in schema.items() if k != "title"},
        "definitions": definitions,
    }


def render() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ses-mail schema", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write the project's {SCHEMA_FILE}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when the project's {SCHEMA_FILE} is out of date")
    parser.add_argument("--project-dir", metavar="DIR", help="the Pulumi project (default: found from the working directory)")
    args = parser.parse_args(argv)
    text = render()
    if not (args.write or args.check):
        sys.stdout.write(text)
        return EXIT_OK
    try:
        target = find_project(args.project_dir).resolve(SCHEMA_FILE)
    except ProjectError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.write:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
        return EXIT_OK
    current = target.read_text(encoding="utf-8") if target.exists() else ""
    if current != text:
        print(f"{target} is out of date with the roster model: run `ses-mail schema --write` and commit it",
              file=sys.stderr)
        return EXIT_FINDINGS
    print(f"{target} is up to date")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
