"""Co-signed changes: one person cannot lower a quorum or lift a comfort hold on their own.

Under a plan's ``changes`` policy an amendment that weakens a gate or the pace policy, and an override of
a pace hold, wait for co-signers (by default one decision maker and one service user, never the
proposer, at least one from another group); an override lasts for the gate's next round only; who may
amend, widen, pause and ask for a pause is plan data. A plan without the policy keeps the old rules.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.events import (
    ChangeCosigned,
    ChangeDeclined,
    ChangeProposed,
    CohortWidened,
    EngagementPaused,
    PaceHoldRecorded,
    PaceHoldReleased,
    PaceOverridden,
    PauseRequested,
    PlanAmended,
)
from domain.plan import Plan, plan_diff, plan_from_yaml, plan_sha256
from domain.rules.changes import weakenings
from domain.rules.pace import pace_check
from tests.domain.helpers import Story
from tests.domain.plans import SMALL_PLAN_YAML, small_plan

POLICED_YAML = SMALL_PLAN_YAML + "changes: {}\n"


def policed_plan() -> Plan:
    """The small plan with the default change policy: facilitators amend, widen and pause; anyone may
    ask for a pause; one decision maker and one service user co-sign weakening changes."""
    return plan_from_yaml(POLICED_YAML, "policed.yaml")


def held(plan: Plan | None = None) -> Story:
    """The pilot is ready but comfort is low: the pace policy holds it (day 15)."""
    story = Story(plan or policed_plan()).pilot_ready().check_ins(u1=2, u2=3, u3=2)
    waiting = pace_check(story.state, "pilot", story.now).waiting_for
    return story.record(PaceHoldRecorded(occurred_at=story.now, phase_id="pilot", waiting_for=waiting))


def override_proposal(story: Story, change_id: str = "c-1") -> ChangeProposed:
    return ChangeProposed(
        occurred_at=story.now,
        change_id=change_id,
        kind="pace_override",
        proposed_by="f1",
        reason="The board meets next week; we agreed to go on.",
        needs={"decision_maker": 1, "service_user": 1},
        phase_id="pilot",
    )


def lowered_quorum(plan: Plan) -> Plan:
    """``plan`` with the widen gate needing one service user's approval instead of two."""
    return plan_from_yaml(
        POLICED_YAML.replace(
            "approvals_required: 3\n      quorum: {service_user: 2}",
            "approvals_required: 3\n      quorum: {service_user: 1}",
        ),
        "lowered.yaml",
    )


def amendment(story: Story, new: Plan, **fields: object) -> PlanAmended:
    old = story.state.require_plan()
    values: dict[str, object] = {
        "occurred_at": story.now,
        "plan": new,
        "plan_sha256": plan_sha256(new),
        "changes": plan_diff(old, new),
        "amended_by": "f1",
        "reason": "Fewer tenants can come.",
    }
    return PlanAmended(**{**values, **fields})


def cosign_story() -> Story:
    """Every event of the small gate: an override proposed, refused alone, co-signed and recorded; an
    amendment that lowers a quorum proposed and declined; a tenant asking for a pause."""
    story = held().on(16)
    story.record(override_proposal(story))
    story.record(ChangeCosigned(occurred_at=story.now, change_id="c-1", person_id="u1"))
    story.record(ChangeCosigned(occurred_at=story.now, change_id="c-1", person_id="d1"))
    story.record(
        PaceOverridden(
            occurred_at=story.now,
            phase_id="pilot",
            overridden_by="f1",
            change_id="c-1",
            cosigned_by=("d1", "u1"),
            round=1,
        )
    )
    new = lowered_quorum(story.state.require_plan())
    story.record(
        ChangeProposed(
            occurred_at=story.now,
            change_id="c-2",
            kind="amendment",
            proposed_by="f1",
            reason="Fewer tenants can come.",
            needs={"decision_maker": 1, "service_user": 1},
            weakens=tuple(weakenings(story.state, new)),
            plan=new,
            plan_sha256=plan_sha256(new),
            base_plan_sha256=story.state.plan_sha256,
            changes=plan_diff(story.state.require_plan(), new),
        )
    )
    story.record(
        ChangeDeclined(occurred_at=story.now, change_id="c-2", person_id="u2", reason="We can still come.")
    )
    return story.record(PauseRequested(occurred_at=story.now, requested_by="u3", reason="Exams this month."))


def test_one_facilitator_cannot_lift_a_comfort_hold_alone_under_the_policy() -> None:
    story = held().on(16)
    with pytest.raises(DomainError, match="asks for co-signers to override a pace hold"):
        story.record(
            PaceOverridden(occurred_at=story.now, phase_id="pilot", overridden_by="f1", reason="Go on.")
        )


def test_without_the_policy_one_facilitator_still_overrides_as_before() -> None:
    story = held(small_plan()).on(16)
    story.record(PaceOverridden(occurred_at=story.now, phase_id="pilot", overridden_by="f1", reason="Go on."))
    assert pace_check(story.state, "pilot", story.now).may_advance


def test_an_override_waits_for_both_co_signers_and_never_counts_its_proposer() -> None:
    story = held().on(16)
    story.record(override_proposal(story))
    for who, why in (
        ("f1", "proposed change 'c-1'; someone else must co-sign"),
        ("s1", "is co-signed by decision makers, service users, and s1 is not one"),
        ("u4", "wider group"),
    ):
        with pytest.raises(DomainError, match=why):
            story.record(ChangeCosigned(occurred_at=story.now, change_id="c-1", person_id=who))
    story.record(ChangeCosigned(occurred_at=story.now, change_id="c-1", person_id="u1"))
    with pytest.raises(DomainError, match="has all the service users it needs"):
        story.record(ChangeCosigned(occurred_at=story.now, change_id="c-1", person_id="u2"))
    early = PaceOverridden(
        occurred_at=story.now,
        phase_id="pilot",
        overridden_by="f1",
        change_id="c-1",
        cosigned_by=("u1",),
        round=1,
    )
    with pytest.raises(DomainError, match="still waits for 1 decision maker to co-sign"):
        story.record(early)
    assert not pace_check(story.state, "pilot", story.now).may_advance


def test_a_co_signed_override_lasts_for_the_gates_next_round_only() -> None:
    story = cosign_story()
    assert story.state.changes["c-1"].status == "done"
    assert pace_check(story.state, "pilot", story.now).may_advance
    story.on(17).open_gate("pilot").vote("pilot", "u1", "object", reason="Too fast for us.")
    story.decide("pilot", "held", reason="an objection")
    story.on(30).check_ins(u1=2, u2=2, u3=2)
    check = pace_check(story.state, "pilot", story.now)
    assert not check.may_advance and not check.comfort_overridden
    assert any("comfort" in waiting for waiting in check.waiting_for)


def test_an_amendment_that_lowers_a_quorum_is_refused_until_co_signed() -> None:
    story = held().on(16)
    new = lowered_quorum(story.state.require_plan())
    assert weakenings(story.state, new) == ["gate 'widen' needs 1 approval from a service user, not 2"]
    with pytest.raises(
        DomainError, match=r"weakens the engagement .*needs 1 approval from a service user.* co-signers"
    ):
        story.record(amendment(story, new))
    proposal = ChangeProposed(
        occurred_at=story.now,
        change_id="c-9",
        kind="amendment",
        proposed_by="f1",
        reason="Fewer tenants can come.",
        needs={"decision_maker": 1, "service_user": 1},
        weakens=tuple(weakenings(story.state, new)),
        plan=new,
        plan_sha256=plan_sha256(new),
        base_plan_sha256=story.state.plan_sha256,
        changes=plan_diff(story.state.require_plan(), new),
    )
    story.record(proposal)
    story.record(ChangeCosigned(occurred_at=story.now, change_id="c-9", person_id="d2"))
    story.record(ChangeCosigned(occurred_at=story.now, change_id="c-9", person_id="u2"))
    story.record(amendment(story, new, reason=None, change_id="c-9", cosigned_by=("d2", "u2")))
    assert story.state.require_plan().phases_by_id["widen"].gate.quorum == {"service_user": 1}
    assert story.state.changes["c-9"].status == "done"


def test_an_amendment_that_weakens_nothing_takes_effect_at_once() -> None:
    story = held().on(16)
    stricter = plan_from_yaml(
        POLICED_YAML.replace(
            "min_dwell_days: 5\n    escalate_after_days: 15", "min_dwell_days: 9\n    escalate_after_days: 15"
        ),
        "x.yaml",
    )
    story.record(amendment(story, stricter))
    assert story.state.require_plan().phases_by_id["widen"].min_dwell_days == 9


def test_a_declined_change_never_takes_effect() -> None:
    story = cosign_story()
    assert story.state.changes["c-2"].status == "declined"
    with pytest.raises(DomainError, match="'c-2' is declined; there is nothing to co-sign"):
        story.record(ChangeCosigned(occurred_at=story.now, change_id="c-2", person_id="d2"))


def test_a_waiting_change_lapses_when_what_it_would_change_moves_on() -> None:
    """An override nobody co-signed before comfort rose lapses with the hold; a proposed amendment
    lapses when another amendment lands first; neither can be co-signed into effect afterwards."""
    story = held().on(16)
    story.record(override_proposal(story))
    story.record(PaceHoldReleased(occurred_at=story.now, phase_id="pilot"))
    assert story.state.changes["c-1"].status == "lapsed"
    with pytest.raises(DomainError, match="'c-1' is lapsed"):
        story.record(ChangeCosigned(occurred_at=story.now, change_id="c-1", person_id="u1"))

    new = lowered_quorum(story.state.require_plan())
    story.record(
        ChangeProposed(
            occurred_at=story.now,
            change_id="c-2",
            kind="amendment",
            proposed_by="f1",
            reason="Fewer tenants can come.",
            needs={"decision_maker": 1, "service_user": 1},
            weakens=tuple(weakenings(story.state, new)),
            plan=new,
            plan_sha256=plan_sha256(new),
            base_plan_sha256=story.state.plan_sha256,
            changes=plan_diff(story.state.require_plan(), new),
        )
    )
    stricter = plan_from_yaml(
        POLICED_YAML.replace(
            "min_dwell_days: 5\n    escalate_after_days: 15", "min_dwell_days: 9\n    escalate_after_days: 15"
        ),
        "x.yaml",
    )
    story.record(amendment(story, stricter))
    assert story.state.changes["c-2"].status == "lapsed"
    assert story.state.require_plan().phases_by_id["widen"].gate.quorum == {"service_user": 2}


def test_roles_for_amend_widen_pause_and_asking_for_a_pause_are_plan_data() -> None:
    story = cosign_story()
    assert story.state.pause_requested_by == "u3"
    with pytest.raises(
        DomainError, match="only facilitator may pause or resume the engagement, and u3 is not one"
    ):
        story.record(EngagementPaused(occurred_at=story.now, paused_by="u3", reason="Exams."))
    with pytest.raises(DomainError, match="only facilitator may amend the plan, and d1 is not one"):
        story.record(
            amendment(
                story, plan_from_yaml(POLICED_YAML.replace("Widen\n", "Widening\n"), "x"), amended_by="d1"
            )
        )
    tenants_widen = POLICED_YAML.replace("changes: {}", "changes: {widen: [user-rep]}")
    story = Story(plan_from_yaml(tenants_widen, "x")).start()
    with pytest.raises(DomainError, match="only user-rep may widen the cohort, and f1 is not one"):
        story.record(CohortWidened(occurred_at=story.now, phase_id="setup", widened_by="f1"))
    story.record(EngagementPaused(occurred_at=story.now, paused_by="f1", reason="Exams."))
    assert story.state.pause_requested_at is None


@settings(max_examples=40, deadline=None)
@given(
    phase=st.sampled_from(["setup", "train", "pilot", "widen"]),
    constituency=st.sampled_from(["decision_maker", "service_user"]),
)
def test_any_lowered_quorum_of_a_gate_not_yet_passed_is_a_weakening(phase: str, constituency: str) -> None:
    plan = policed_plan()
    story = Story(plan).start()
    gates = {p.id: dict(p.gate.quorum) for p in plan.phases}
    if constituency not in gates[phase]:
        return
    data = plan.model_dump(mode="json", exclude_defaults=True)
    for p in data["phases"]:
        if p["id"] == phase:
            p["gate"]["quorum"][constituency] -= 1
            if not p["gate"]["quorum"][constituency]:
                del p["gate"]["quorum"][constituency]
    new = Plan.model_validate(data)
    found = weakenings(story.state, new)
    assert any(f"gate '{phase}' needs" in w for w in found), found
