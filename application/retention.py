"""Retention: forgetting an engagement's participants a set time after it completes, unless they stay.

A plan's ``retention`` rule (``domain.retention``) says how many days after completion its participants
(everyone but the facilitators) are forgotten. Three use cases serve it:

- ``stay``: a person opts to stay (recorded by them or a facilitator for them): the rule leaves them;
- ``retention_view``: the rule, when it falls due, who it will forget, who stays, and what it did;
- ``apply_retention``: once due, forget each participant who did not opt to stay, exactly as
  ``people forget`` does (name and data key destroyed, a ``person_forgotten`` record), then record
  ``retention_applied`` (the rule, who it forgot by id, who it left alone). The retention workflow
  (``workflows.retention``) calls it, through an activity, when its durable timer fires; it is safe to
  run again: nobody is forgotten twice and nothing is recorded twice.

The choices and the record live beside the engagement in the stream ``people/<engagement id>`` (as
``person_forgotten`` does), so they can be written after the engagement's workflow has completed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.engagement import EngagementState
from domain.events.people import PersonForgotten, PersonOptedToStay, PersonStayWithdrawn, RetentionApplied
from domain.retention import RetentionPolicy
from domain.rules.retention import participants, retention_due_at, retention_outcome, retention_rule
from eventlog import DuplicateEventError, EventLog, NewEvent, Verifier
from eventlog.writers import check_writer, is_signed

from .audit.disclosure import Disclosure, forgotten_people
from .audit.history import first_signed_position, load, state_as_of
from .errors import NotFound, UserError
from .identity import Actor
from .people import forget
from .privacy.register import forgotten_stream
from .services import Services

RETENTION_ACTOR = "coproduce"  # who the rule's forgetting is recorded as requested by
RETENTION_NAMESPACE = uuid.UUID("0b7d8a3e-2f61-4c9e-8d0a-5e2f7c1b9a44")  # stay and retention event ids


@dataclass(frozen=True)
class RetentionView:
    """An engagement's retention: the rule (None: the plan has none), when it falls due (None until the
    engagement completes), who it covers, who opted to stay (id -> when), who was forgotten already, and
    the record of its application once applied."""

    engagement_id: str
    rule: RetentionPolicy | None
    completed_at: datetime | None
    due_at: datetime | None
    participants: tuple[str, ...]
    stayed: dict[str, datetime] = field(default_factory=dict)
    forgotten: tuple[str, ...] = ()
    applied: RetentionApplied | None = None

    @property
    def to_forget(self) -> tuple[str, ...]:
        """Who the rule will forget when it falls due, as things stand."""
        if self.applied is not None:
            return ()
        return tuple(p for p in self.participants if p not in self.stayed and p not in self.forgotten)


@dataclass
class _Choices:
    """What the stream ``people/<engagement id>`` says of retention: who stays now (their latest
    choice), how many stays and withdrawals each person recorded, and the rule's record once applied."""

    stayed: dict[str, PersonOptedToStay] = field(default_factory=dict)
    stays: dict[str, int] = field(default_factory=dict)
    withdrawals: dict[str, int] = field(default_factory=dict)
    applied: RetentionApplied | None = None


async def _records(log: EventLog, engagement_id: str, writers: Mapping[str, Verifier] | None) -> _Choices:
    """Who stays and the retention record, from the stream ``people/<engagement id>``, choices in the
    order made; with ``writers``, only records the installation's writers signed count (a forged choice
    keeps nobody, a forged withdrawal forgets nobody)."""
    found = _Choices()
    signed_from = await first_signed_position(log) if writers is not None else None
    for record in await log.read_stream(forgotten_stream(engagement_id)):
        if writers is not None:
            if is_signed(record.entry) and check_writer(record.entry, writers) is not None:
                continue
            if not is_signed(record.entry) and signed_from is not None and record.position >= signed_from:
                continue
        if record.type == PersonOptedToStay.TYPE:
            choice = PersonOptedToStay.model_validate(record.payload)
            found.stayed.setdefault(choice.person_id, choice)
            found.stays[choice.person_id] = found.stays.get(choice.person_id, 0) + 1
        elif record.type == PersonStayWithdrawn.TYPE:
            withdrawn = PersonStayWithdrawn.model_validate(record.payload)
            found.stayed.pop(withdrawn.person_id, None)
            found.withdrawals[withdrawn.person_id] = found.withdrawals.get(withdrawn.person_id, 0) + 1
        elif record.type == RetentionApplied.TYPE and found.applied is None:
            found.applied = RetentionApplied.model_validate(record.payload)
    return found


async def retention_view(services: Services, engagement_id: str) -> RetentionView:
    """The engagement's retention as it stands now (see ``RetentionView``)."""
    async with services.writer_log() as log:
        state = state_as_of(await load(log, engagement_id, Disclosure()))
        choices = await _records(log, engagement_id, services.writers())
        forgotten = await forgotten_people(log, engagement_id, services.writers())
    stayed, applied = choices.stayed, choices.applied
    covered = participants(state)
    return RetentionView(
        engagement_id=engagement_id,
        rule=retention_rule(state),
        completed_at=state.completed_at if state.status == "completed" else None,
        due_at=retention_due_at(state),
        participants=covered,
        stayed={p: c.occurred_at for p, c in sorted(stayed.items()) if p not in forgotten},
        forgotten=tuple(p for p in covered if p in forgotten),
        applied=applied,
    )


async def _choosing(
    log: EventLog, services: Services, actor: Actor, engagement_id: str, person_id: str, nothing: str
) -> tuple[EngagementState, _Choices]:
    """The engagement and its retention choices, for ``actor`` to record one about ``person_id``;
    refused, in a sentence, for someone unknown or forgotten already (then there is ``nothing``), or an
    actor who may not record it."""
    state = state_as_of(await load(log, engagement_id, Disclosure()))
    for who, what in ((person_id, "to stay"), (actor.person_id, "in --as")):
        if who not in state.people:
            raise NotFound(
                f"there is no person '{who}' {what} in engagement {engagement_id}; "
                f"`coproduce people list {engagement_id}` shows them"
            )
    if actor.person_id != person_id and state.people[actor.person_id].constituency != "facilitator":
        raise UserError(
            f"only {person_id} or a facilitator may record whether {person_id} stays, and "
            f"{actor.person_id} is neither"
        )
    forgotten = (await forgotten_people(log, engagement_id, services.writers())).get(person_id)
    if forgotten is not None:
        raise UserError(
            f"{person_id} of {engagement_id} was forgotten on {forgotten.occurred_at:%Y-%m-%d}, so there is {nothing}"
        )
    return state, await _records(log, engagement_id, services.writers())


@dataclass(frozen=True)
class Stayed:
    engagement_id: str
    person_id: str
    stayed_at: datetime
    newly: bool  # False: they had opted to stay already
    rule: RetentionPolicy | None  # None: the plan has no retention rule (yet)


async def stay(services: Services, actor: Actor, engagement_id: str, person_id: str) -> Stayed:
    """Record that ``person_id`` opts to stay: the retention rule will not forget them. ``actor`` is the
    person themself or a facilitator of the engagement. Refused, in a sentence, for someone unknown,
    someone forgotten already, or an actor who may not record it; a second choice records nothing."""
    async with services.writer_log() as log:
        state, choices = await _choosing(
            log, services, actor, engagement_id, person_id, "nobody left to keep"
        )
        rule = retention_rule(state)
        if person_id in choices.stayed:
            return Stayed(engagement_id, person_id, choices.stayed[person_id].occurred_at, False, rule)
        choice = PersonOptedToStay(
            engagement_id=engagement_id, person_id=person_id, recorded_by=actor.person_id,
            occurred_at=datetime.now(UTC),
        )  # fmt: skip
        # The first stay keeps the key it always had; one after a withdrawal is a record of its own.
        times = choices.stays.get(person_id, 0)
        key = f"{engagement_id}/{person_id}/stays" + (f"/{times + 1}" if times else "")
        # A duplicate: recorded by an earlier attempt that stopped before saying so.
        with contextlib.suppress(DuplicateEventError):
            await log.append(
                forgotten_stream(engagement_id),
                [_event(choice, key, actor.person_id, f"stay:{person_id}")],
                None,
            )
    return Stayed(engagement_id, person_id, choice.occurred_at, True, rule)


@dataclass(frozen=True)
class Withdrawn:
    engagement_id: str
    person_id: str
    withdrawn_at: datetime | None  # None: they were not staying, and nothing was recorded
    rule: RetentionPolicy | None
    due_at: datetime | None  # when the rule will forget them (None: not known until it completes)


async def withdraw_stay(services: Services, actor: Actor, engagement_id: str, person_id: str) -> Withdrawn:
    """Record that ``person_id`` no longer opts to stay: the retention rule forgets them when it falls
    due. The same people may record it as for ``stay``. Refused, in a sentence, once the rule has been
    applied (it kept them; ``people forget`` forgets them now); for someone not staying it records
    nothing and says so."""
    async with services.writer_log() as log:
        state, choices = await _choosing(
            log, services, actor, engagement_id, person_id, "no choice left to withdraw"
        )
        rule, due_at = retention_rule(state), retention_due_at(state)
        if choices.applied is not None:
            raise UserError(
                f"the retention rule was applied to {engagement_id} on {choices.applied.occurred_at:%Y-%m-%d} "
                f"and kept {person_id}; to forget them now, use `coproduce people forget {engagement_id} {person_id}`"
            )
        if person_id not in choices.stayed:
            return Withdrawn(engagement_id, person_id, None, rule, due_at)
        withdrawn = PersonStayWithdrawn(
            engagement_id=engagement_id, person_id=person_id, recorded_by=actor.person_id,
            occurred_at=datetime.now(UTC),
        )  # fmt: skip
        key = f"{engagement_id}/{person_id}/withdraws/{choices.withdrawals.get(person_id, 0) + 1}"
        with contextlib.suppress(DuplicateEventError):  # an earlier attempt recorded it
            await log.append(
                forgotten_stream(engagement_id),
                [_event(withdrawn, key, actor.person_id, f"withdraw-stay:{person_id}")],
                None,
            )
    return Withdrawn(engagement_id, person_id, withdrawn.occurred_at, rule, due_at)


@dataclass(frozen=True)
class RetentionReport:
    """What ``apply_retention`` found and did. ``due_at`` None: nothing will ever fall due (no rule, or
    nothing yet: the engagement has not completed); ``applied``: the record (None before it is due);
    ``newly_forgotten``: who this run forgot; ``recorded``: whether this run wrote the record."""

    engagement_id: str
    due_at: datetime | None
    completed: bool
    applied: RetentionApplied | None = None
    newly_forgotten: tuple[str, ...] = ()
    recorded: bool = False


async def apply_retention(services: Services, engagement_id: str, now: datetime) -> RetentionReport:
    """Apply the engagement's retention rule as of ``now``: before it falls due, nothing (the report says
    when it will); once due, forget each participant who did not opt to stay and was not forgotten
    already, then record what was done. Safe to repeat: a rerun forgets nobody twice and records
    nothing twice. A participant who cannot be forgotten stops it with the reason (it is retried)."""
    writers = services.writers()
    async with services.writer_log() as log:
        state = state_as_of(await load(log, engagement_id, Disclosure()))
        choices = await _records(log, engagement_id, writers)
        forgotten = await forgotten_people(log, engagement_id, writers)
    stayed, applied = choices.stayed, choices.applied
    completed = state.status == "completed"
    due_at = retention_due_at(state)
    if applied is not None:
        return RetentionReport(engagement_id, due_at, completed, applied)
    # People the rule forgot in an earlier run that stopped before recording it are forgotten again
    # (a no-op that keeps them in this rule's list), so the record names them whatever the run.
    by_request = {p for p, f in forgotten.items() if f.requested_by != RETENTION_ACTOR}
    outcome = retention_outcome(state, now, forgotten=by_request, stayed=set(stayed))
    if outcome is None:
        return RetentionReport(engagement_id, due_at, completed)
    rule = outcome.rule
    reason = (
        f"retention: {rule.described()} (it completed on {outcome.completed_at:%Y-%m-%d}, "
        f"so they fell due on {outcome.due_at:%Y-%m-%d})"
    )
    system = Actor(person_id=RETENTION_ACTOR, channel="cli", authentication="operator")
    newly = []
    for person_id in outcome.forget:
        done = await forget(
            services, system, engagement_id, person_id, reason, again=True, requester_here=False
        )
        if done.newly:
            newly.append(person_id)
    record = RetentionApplied(
        engagement_id=engagement_id, forget_participants_after_days=rule.forget_participants_after_days,
        completed_at=outcome.completed_at, due_at=outcome.due_at, forgotten=outcome.forget,
        forgotten_before=outcome.forgotten_before, stayed=outcome.stayed, occurred_at=now,
    )  # fmt: skip
    recorded = True
    async with services.writer_log() as log:
        try:
            await log.append(
                forgotten_stream(engagement_id),
                [_event(record, f"{engagement_id}/retention", RETENTION_ACTOR, f"retention:{engagement_id}")],
                None,
            )
        except DuplicateEventError:  # an earlier run recorded it and stopped before saying so
            recorded = False
    return RetentionReport(engagement_id, due_at, completed, record, tuple(newly), recorded)


def _event(
    record: PersonOptedToStay | PersonStayWithdrawn | RetentionApplied | PersonForgotten,
    key: str,
    actor: str,
    causation: str,
) -> NewEvent:
    """A record of the stream ``people/<engagement id>`` as a log event; its id is fixed by ``key``, so
    writing it again is a duplicate, never a second record."""
    return NewEvent(
        type=record.TYPE,
        payload=record.model_dump(mode="json"),
        event_id=uuid.uuid5(RETENTION_NAMESPACE, key),
        schema_version=record.SCHEMA_VERSION,
        occurred_at=record.occurred_at,
        actor=actor,
        causation_id=causation,
        correlation_id=record.engagement_id,
    )
