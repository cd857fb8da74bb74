"""Access key generations and the two IAM key slots they live in.

IAM allows two access keys per user. A person's keys are numbered generations (`key: 1`,
`key: 2`, ...); during a rotation the previous generation is kept next to the current one.
Each generation lives in one of two fixed slots, by parity:

- slot A, resource `<address>-key`: generations 1, 3, 5, ... (generation 1 keeps the name
  every key had before rotation existed, so existing keys are not touched);
- slot B, resource `<address>-key-b`: generations 2, 4, 6, ...

Moving a slot to a newer generation replaces its key, deleting the old key *before* creating
the new one. So going from `key: 2, previous_key: 1` straight to `key: 3, previous_key: 2`
deletes generation 1, then creates 3: a user never holds more than the two keys that the
roster names, and IAM's limit can never be hit half-way through an update.
"""
from __future__ import annotations

from dataclasses import dataclass

from ses_mail.specs.naming import person_resource

#: IAM's quota of access keys per user (not adjustable).
MAX_KEYS_PER_USER = 2
SLOTS = ("a", "b")


@dataclass(frozen=True)
class KeySlot:
    generation: int
    slot: str
    current: bool

    def resource_name(self, address: str) -> str:
        return key_resource(address, self.generation)


def slot_of(generation: int) -> str:
    if generation < 1:
        raise ValueError("key generations start at 1")
    return SLOTS[(generation - 1) % 2]


def key_resource(address: str, generation: int) -> str:
    """`<address>-key` for slot A (generation 1's original name), `<address>-key-b` for slot B."""
    return person_resource(address, "key" if slot_of(generation) == "a" else "key-b")


def key_slots(key: int, previous_key: int | None) -> list[KeySlot]:
    """The keys a person holds: the current generation, then the previous one if kept."""
    if previous_key is not None and (previous_key != key - 1):
        raise ValueError(f"the previous key must be generation {key - 1} (key - 1)")
    slots = [KeySlot(key, slot_of(key), True)]
    if previous_key is not None:
        slots.append(KeySlot(previous_key, slot_of(previous_key), False))
    return slots
