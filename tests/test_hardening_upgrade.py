"""Upgrading a stack deployed with 0.3.x (the program before issue 17, at BASE_REVISION) to this
one: no resource is created, deleted or replaced; each person's send policy and each secret's
policy is updated in place, and the diff says, per person, what the send policy now refuses.

Run the way tests/test_upgrade.py runs its upgrade: the old program from its own source tree in
a subprocess, the new one here, both under the mock engine, paired by URN and alias.
"""
from __future__ import annotations

import textwrap

import pytest

from ses_mail.review.changes import CREATE, DELETE, REPLACE, UPDATE, diff_stack
from tests.credential_helpers import READER
from tests.test_delivery import PGP_KEY
from tests.test_upgrade import _base_snapshot, _head_snapshot, _runs_at

#: The last program before issue 17 (display names open, pgp exporting the encrypted secret key).
BASE_REVISION = "cfc76c7"

ROSTER = f"""
    domains:
      - name: test1.com
    people:
      - email: taro@test1.com
        name: Taro Yamada
        delivery: pgp
        pgp_key: {PGP_KEY}
      - email: hanako@test1.com
        name: Hanako Sato
        delivery: secrets_manager
        secret_readers: [{READER}]
      - email: jiro@test1.com
      - email: saburo@test1.com
        name: Saburo
        display_name: true
"""


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory):
    roster = tmp_path_factory.mktemp("roster") / "roster.yaml"
    roster.write_text(textwrap.dedent(ROSTER).lstrip("\n"), encoding="utf-8")
    base_resources, base_outputs = _base_snapshot(_runs_at(BASE_REVISION, tmp_path_factory, {"r": roster})["r"])
    # Issue 19's default boundary is proven in tests/test_upgrade.py; opted out here, so this
    # diff holds the hardening's changes alone.
    head_resources, head_outputs = _head_snapshot(roster, {"ses-mail:permissionsBoundary": "none"})
    return diff_stack(base_resources, head_resources, base_outputs, head_outputs)


def test_no_resource_is_created_deleted_or_replaced(upgrade):
    assert upgrade.count(CREATE) == upgrade.count(DELETE) == upgrade.count(REPLACE) == 0, [
        (c.op, c.type, c.name) for c in upgrade.changes if c.op != UPDATE]
    updated = {(c.type, c.name): {p.top for p in c.properties} for c in upgrade.changes if c.op == UPDATE}
    # Only policies: removing pgp's encrypted secret from the outputs changes no resource (the
    # access keys are untouched), and the outputs that changed are outputs only.
    assert all(v == {"policy"} for v in updated.values()), updated
    assert {t for t, _ in updated} == {"aws:iam/userPolicy:UserPolicy", "aws:secretsmanager/secretPolicy:SecretPolicy"}
    assert not any(t == "aws:iam/accessKey:AccessKey" for t, _ in updated)
    assert set(upgrade.outputs_changed) <= {"smtp_credentials", "credential_status"}


def test_the_diff_shows_the_tightening_per_person(upgrade):
    said = {c.name.removesuffix("-send-policy"): c.attention for c in upgrade.changes
            if c.type == "aws:iam/userPolicy:UserPolicy"}
    assert set(said) == {"taro@test1.com", "hanako@test1.com", "jiro@test1.com", "saburo@test1.com"}
    assert "display names: any, even an address -> 'Taro Yamada' or none" in said["taro@test1.com"]
    assert "display names: any, even an address -> none" in said["jiro@test1.com"]
    # true keeps its meaning: exactly the name; what tightens is only the feedback address
    assert "display names" not in said["saburo@test1.com"]
    for text in said.values():
        assert "feedback address: any address -> own address only" in text
