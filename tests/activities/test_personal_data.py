"""Sealing personal text in payloads and opening it again: pure, no database."""

from __future__ import annotations

from uuid import uuid4

from application.privacy.sealing import (
    ERASED,
    PREFIX,
    WITHHELD,
    new_data_key,
    open_sealed,
    owners,
    seal,
    sealed_owner,
)

VOTE = {"person_id": "c01", "phase_id": "training", "round": 1, "choice": "object", "reason": "Dates clash."}
PLAN = {
    "plan": {"people": [{"id": "p01", "display_name": "Jane Doe"}, {"id": "p02", "display_name": "p02"}]},
    "amended_by": "f01",
    "reason": "Jane joins the panel.",
}


def test_a_reason_is_sealed_under_its_owners_key_and_opens_again() -> None:
    keys = {"c01": new_data_key()}
    event_id = uuid4()
    sealed = seal("vote_cast", VOTE, event_id, keys)
    assert sealed["reason"].startswith(PREFIX) and sealed_owner(sealed["reason"]) == "c01"
    assert "Dates clash" not in str(sealed) and VOTE["reason"] == "Dates clash."  # the input is untouched
    assert {k: v for k, v in sealed.items() if k != "reason"} == {
        k: v for k, v in VOTE.items() if k != "reason"
    }
    assert open_sealed("vote_cast", sealed, event_id, keys) == VOTE


def test_sealing_is_deterministic_per_event_and_differs_between_events() -> None:
    keys = {"c01": new_data_key()}
    event_id = uuid4()
    assert seal("vote_cast", VOTE, event_id, keys) == seal("vote_cast", VOTE, event_id, keys)  # a retry
    assert (
        seal("vote_cast", VOTE, uuid4(), keys)["reason"] != seal("vote_cast", VOTE, event_id, keys)["reason"]
    )


def test_sealed_text_moved_to_another_event_does_not_open() -> None:
    keys = {"c01": new_data_key()}
    sealed = seal("vote_cast", VOTE, uuid4(), keys)
    assert open_sealed("vote_cast", sealed, uuid4(), keys)["reason"] == ERASED


def test_readers_without_keys_see_withheld_and_forgotten_owners_erased() -> None:
    keys = {"c01": new_data_key()}
    event_id = uuid4()
    sealed = seal("vote_cast", VOTE, event_id, keys)
    assert open_sealed("vote_cast", sealed, event_id, None)["reason"] == WITHHELD
    assert open_sealed("vote_cast", sealed, event_id, None, {"c01"})["reason"] == ERASED
    assert open_sealed("vote_cast", sealed, event_id, {})["reason"] == ERASED  # the key is gone


def test_text_of_a_forgotten_person_is_not_kept_at_all() -> None:
    assert seal("vote_cast", VOTE, uuid4(), {"c01": None})["reason"] == ERASED


def test_names_in_a_plan_are_sealed_by_person_and_an_id_as_name_is_left() -> None:
    assert owners("plan_amended", PLAN) == {"p01", "f01"}
    keys = {"p01": new_data_key(), "f01": new_data_key()}
    event_id = uuid4()
    sealed = seal("plan_amended", PLAN, event_id, keys)
    people = sealed["plan"]["people"]
    assert sealed_owner(people[0]["display_name"]) == "p01" and people[1]["display_name"] == "p02"
    assert sealed_owner(sealed["reason"]) == "f01"
    assert open_sealed("plan_amended", sealed, event_id, keys) == PLAN
    shown = open_sealed("plan_amended", sealed, event_id, {"f01": keys["f01"]}, {"p01"})
    assert shown["plan"]["people"][0]["display_name"] == ERASED and shown["reason"] == PLAN["reason"]


def test_events_without_personal_fields_pass_through() -> None:
    payload = {"phase_id": "training", "occurred_at": "2027-01-01T00:00:00Z"}
    assert owners("phase_started", payload) == set()
    assert seal("phase_started", payload, uuid4(), {}) == payload
