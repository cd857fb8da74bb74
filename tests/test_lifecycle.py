"""Suspend, reactivate, rotate, retire and remove: the registered resources and outputs."""
from __future__ import annotations

import itertools

import pulumi
import pytest

from ses_mail.components import ses_mail as component
from ses_mail.roster.errors import RosterError
from ses_mail.specs.key_slots import MAX_KEYS_PER_USER, key_resource, key_slots, slot_of
from ses_mail.roster import parse_roster
from tests.credential_helpers import (KEY, POLICY, USER, by_name, derived_password,
                                      roster)

TARO = "  - email: taro@test1.com\n    name: Taro Yamada\n"
HANAKO = "  - email: hanako@test1.com\n"


def fingerprint(result):
    return {(r.type, r.name): r.inputs for r in result.registrations}


# --- suspension ---------------------------------------------------------------------------

def test_suspending_makes_the_key_inactive_and_keeps_user_policy_and_key(run):
    active = run(roster(TARO + HANAKO))
    suspended = run(roster(TARO + "    status: suspended\n" + HANAKO))
    before, after = fingerprint(active), fingerprint(suspended)
    assert set(before) == set(after), "nothing is created or deleted"
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(KEY, "taro@test1.com-key"), (USER, "taro@test1.com-user")}
    assert after[(KEY, "taro@test1.com-key")] == {"user": "smtp-taro@test1.com", "status": "Inactive"}
    assert after[(USER, "taro@test1.com-user")]["tags"]["ses-mail:status"] == "suspended"
    assert after[(POLICY, "taro@test1.com-send-policy")] == before[(POLICY, "taro@test1.com-send-policy")]
    # The same key (same resource, so the same id): reactivation restores this very credential.
    assert suspended.named("taro@test1.com-key").id == active.named("taro@test1.com-key").id


def test_suspended_people_are_marked_and_get_no_usable_password(run):
    result = run(roster(TARO + "    status: suspended\n" + HANAKO))
    cred = result.outputs["smtp_credentials"]["taro@test1.com"]
    assert cred["status"] == "suspended" and cred["password"] is None
    assert derived_password("taro@test1.com-key") not in str(result.outputs)
    status = result.outputs["credential_status"]["taro@test1.com"]
    assert status["status"] == "suspended"
    assert status["access_keys"] == [{"generation": 1, "id": result.named("taro@test1.com-key").id,
                                      "status": "Inactive", "current": True}]
    assert result.outputs["credential_status"]["hanako@test1.com"]["status"] == "active"
    assert result.outputs["smtp_credentials"]["hanako@test1.com"]["password"]
    assert "smtp_credentials" in result.secret_outputs and "credential_status" not in result.secret_outputs


def test_reactivating_restores_exactly_the_original_resources(run):
    original = fingerprint(run(roster(TARO + HANAKO)))
    run(roster(TARO + "    status: suspended\n" + HANAKO))
    assert fingerprint(run(roster(TARO + "    status: active\n" + HANAKO))) == original


def test_suspending_during_a_rotation_disables_both_keys(run):
    result = run(roster(TARO + "    key: 2\n    previous_key: 1\n    status: suspended\n"))
    keys = by_name(result, KEY)
    assert {n: k.inputs.get("status") for n, k in keys.items()} == {
        "taro@test1.com-key": "Inactive", "taro@test1.com-key-b": "Inactive"}


# --- rotation -----------------------------------------------------------------------------

def test_generation_one_keeps_the_original_key_resource(run, raw_requests):
    result = run(roster(TARO))
    assert list(by_name(result, KEY)) == ["taro@test1.com-key"]
    raw = raw_requests["taro@test1.com-key"]
    # Generation 1 under its pre-rotation name: no alias, nothing to replace. The engine does
    # not replace on a trigger going from unset to 1, so existing stacks keep their keys.
    assert raw.replacement_trigger == 1 and raw.delete_before_replace
    assert result.options_of(result.named("taro@test1.com-key")).aliases == ()


def test_rotation_overlap_keeps_both_keys_working_and_points_at_the_new_one(run, raw_requests):
    before = run(roster(TARO))
    during = run(roster(TARO + "    key: 2\n    previous_key: 1\n"))
    keys = by_name(during, KEY)
    assert set(keys) == {"taro@test1.com-key", "taro@test1.com-key-b"}
    # The old key is untouched (same inputs, same trigger), the new one is added next to it.
    assert keys["taro@test1.com-key"].inputs == before.named("taro@test1.com-key").inputs
    assert raw_requests["taro@test1.com-key"].replacement_trigger == 1
    assert raw_requests["taro@test1.com-key-b"].replacement_trigger == 2
    assert all(k.outputs["status"] == "Active" for k in keys.values())
    new_id = keys["taro@test1.com-key-b"].id
    cred = during.outputs["smtp_credentials"]["taro@test1.com"]
    assert cred["username"] == new_id
    assert cred["password"] == derived_password("taro@test1.com-key-b")
    status = during.outputs["credential_status"]["taro@test1.com"]
    assert (status["key"], status["previous_key"]) == (2, 1)
    assert [(k["generation"], k["current"]) for k in status["access_keys"]] == [(2, True), (1, False)]


def test_retiring_the_previous_key_deletes_only_it(run):
    during = fingerprint(run(roster(TARO + "    key: 2\n    previous_key: 1\n")))
    after = fingerprint(run(roster(TARO + "    key: 2\n")))
    assert set(during) - set(after) == {(KEY, "taro@test1.com-key")}
    assert all(after[k] == during[k] for k in after)


def test_the_next_rotation_reuses_slot_a_by_replacing_it_old_key_first(run, raw_requests):
    run(roster(TARO + "    key: 3\n    previous_key: 2\n"))
    a, b = raw_requests["taro@test1.com-key"], raw_requests["taro@test1.com-key-b"]
    assert (a.replacement_trigger, b.replacement_trigger) == (3, 2)
    assert a.delete_before_replace and b.delete_before_replace


def test_every_key_depends_on_its_user_so_removal_deletes_keys_first(run):
    result = run(roster(TARO + "    key: 2\n    previous_key: 1\n"))
    user_urn = result.options_of(result.named("taro@test1.com-user")).urn
    for name in ("taro@test1.com-key", "taro@test1.com-key-b", "taro@test1.com-send-policy"):
        assert user_urn in result.options_of(result.named(name)).dependencies, name
    assert result.named("taro@test1.com-user").inputs["forceDestroy"] is True


def _peak_keys(old: dict[str, int], new: dict[str, int]) -> int:
    """Keys a user holds at the worst moment of an update from `old` to `new` (slot -> generation).

    Pulumi's order: a replaced resource with delete_before_replace is deleted, then created;
    new resources are created; resources gone from the program are deleted at the very end.
    """
    held = dict(old)
    peak = len(held)
    for slot, generation in new.items():
        if slot in held and held[slot] != generation:
            del held[slot]  # delete before replace
        held[slot] = generation
        peak = max(peak, len(held))
    return peak


def _states(max_generation: int):
    for key in range(1, max_generation + 1):
        yield key, None
        if key > 1:
            yield key, key - 1


def test_no_transition_between_valid_rosters_ever_needs_three_keys():
    for (k1, p1), (k2, p2) in itertools.product(list(_states(6)), repeat=2):
        old = {s.slot: s.generation for s in key_slots(k1, p1)}
        new = {s.slot: s.generation for s in key_slots(k2, p2)}
        assert _peak_keys(old, new) <= MAX_KEYS_PER_USER, ((k1, p1), (k2, p2))


def test_slots_alternate_and_name_generation_one_as_before():
    assert [slot_of(g) for g in range(1, 6)] == ["a", "b", "a", "b", "a"]
    assert key_resource("taro@test1.com", 1) == "taro@test1.com-key"
    assert key_resource("taro@test1.com", 2) == "taro@test1.com-key-b"
    assert key_resource("taro@test1.com", 5) == "taro@test1.com-key"
    with pytest.raises(ValueError):
        key_slots(3, 1)


@pytest.mark.parametrize("fields,field,value,words", [
    ("    key: 3\n    previous_key: 1\n", "people[0].previous_key", 1, "must be 2 (key - 1): IAM allows 2 access keys"),
    ("    key: 2\n    previous_key: [1]\n", "people[0].previous_key", [1], "IAM allows 2 access keys per user"),
    ("    key: 3\n    previous_key: [1, 2]\n", "people[0].previous_key", [1, 2], "keep one previous key at most"),
    ("    key: 2\n    previous_key: 2\n", "people[0].previous_key", 2, "must be lower than key (2)"),
    ("    previous_key: 1\n", "people[0].previous_key", 1, "must be lower than key (1)"),
    ("    key: 0\n", "people[0].key", 0, "should be at least 1"),
    ("    key: '2'\n", "people[0].key", "2", "should be a whole number"),
    ("    key: true\n", "people[0].key", True, "should be a whole number"),
    ("    key: 2\n    previous_key: 0\n", "people[0].previous_key", 0, "should be at least 1"),
    ("    status: disabled\n", "people[0].status", "disabled", "'active' or 'suspended'"),
    ("    status: [suspended]\n", "people[0].status", ["suspended"], "'active' or 'suspended'"),
])
def test_bad_lifecycle_fields_name_file_line_field_and_value(fields, field, value, words):
    with pytest.raises(RosterError) as caught:
        parse_roster(roster(TARO + fields), "roster.yaml")
    [problem] = [p for p in caught.value.problems if p.field == field]
    assert words in problem.message, str(problem)
    assert problem.file == "roster.yaml" and problem.value == value
    line = 6 + next(i for i, text in enumerate(fields.splitlines()) if text.strip().startswith(field.split(".")[-1] + ":"))
    assert problem.line == line
    assert str(problem).startswith(f"roster.yaml:{line}: {field}: {value!r}")


def test_a_bad_rotation_registers_nothing(write_roster):
    from ses_mail.review.emulation import AwsMocks
    from ses_mail.review.engine import run_program
    mocks = AwsMocks()
    with pytest.raises(pulumi.RunError, match="previous_key: 1 must be 2"):
        run_program(roster=write_roster(roster(TARO + "    key: 3\n    previous_key: 1\n")), mocks=mocks)
    assert mocks.registrations == []


def test_generations_past_two_need_an_engine_with_replacement_triggers(run, monkeypatch):
    monkeypatch.setattr(component, "monitor_supports_feature", lambda feature: False)
    run(roster(TARO + "    key: 2\n    previous_key: 1\n"))  # slots' first generations: no trigger needed
    with pytest.raises(pulumi.RunError, match="taro@test1.com.*upgrade the Pulumi CLI"):
        run(roster(TARO + "    key: 3\n"))


# --- removal ------------------------------------------------------------------------------

def test_removing_a_person_removes_all_of_their_resources_and_nothing_else(run):
    both = fingerprint(run(roster(TARO + "    key: 2\n    previous_key: 1\n" + HANAKO)))
    only_hanako = fingerprint(run(roster(HANAKO)))
    gone = {name for _, name in set(both) - set(only_hanako)}
    assert gone == {"taro@test1.com", "taro@test1.com-user", "taro@test1.com-send-policy",
                    "taro@test1.com-key", "taro@test1.com-key-b"}
    assert all(both[k] == v for k, v in only_hanako.items())


def test_removed_people_leave_the_outputs(run):
    result = run(roster(HANAKO))
    for output in ("smtp_credentials", "senders", "credential_status"):
        assert set(result.outputs[output]) == {"hanako@test1.com"}
