"""The people use cases: who takes part in an engagement, adding someone, and forgetting someone.

Adding someone to a running engagement records them in the log by id, constituency, roles and cohort
(``participant_joined``); their name and contact details go to the people register, never the log.

Forgetting honours a person's right to erasure in a log that cannot change: their entry in the people
register is blanked and their data key destroyed, so their sealed text can never be read again, and a
``person_forgotten`` record (who asked, why, when) goes into the log beside the engagement, in the
stream ``people/<engagement id>``. Decisions, counts and the hash chain are untouched: the log still
verifies, and the person is shown from then on as "forgotten person #n". ``forget_everywhere`` does it
in every engagement the same human takes part in (their sign-in account's memberships).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from domain.events.people import PersonForgotten
from domain.people import Person
from eventlog import DuplicateEventError
from workflows import messages as m
from workflows.contracts import EventToAppend
from workflows.messages import UpdateResult

from .audit.disclosure import Disclosure, forgotten_people
from .audit.history import load, state_as_of
from .engagements import submit
from .errors import NotFound, UserError
from .identity import Actor
from .identity.sign_in import store_of
from .privacy.records import sealed_events
from .privacy.register import forgotten_stream
from .requests import request as checked
from .services import Services

FORGET_NAMESPACE = uuid.UUID("6f1c7a52-4a55-4d3e-9a57-3f3f0b7f1c11")  # person_forgotten event ids


@dataclass(frozen=True)
class PersonRow:
    """One person of an engagement: their name from the register, unless they were forgotten."""

    person_id: str
    name: str | None
    constituency: str
    forgotten: str | None  # "forgotten person #n"


async def list_people(services: Services, engagement_id: str) -> list[PersonRow]:
    """The people of an engagement: id, name (from the register), constituency, who was forgotten."""
    async with services.writer_log() as log:
        state = state_as_of(await load(log, engagement_id, Disclosure()))
        forgotten = await forgotten_people(log, engagement_id)
        names = await services.register_on(log).names(engagement_id)
    return [
        PersonRow(
            person_id=person_id,
            name=None if person_id in forgotten else names.get(person_id),
            constituency=person.constituency,
            forgotten=f"forgotten person #{forgotten[person_id].number}" if person_id in forgotten else None,
        )
        for person_id, person in sorted(state.people.items())
    ]


async def add(
    services: Services,
    actor: Actor,
    engagement_id: str,
    person: Person,
    *,
    by: str,
    update_id: str | None = None,
) -> UpdateResult:
    """Add ``person`` to a running engagement, as the facilitator ``by``: the engagement records them
    (refusing, in a sentence, someone already there or a role the plan lacks), then their name and
    contact go to the register. Sending the same ``update_id`` again records nothing twice."""
    joined = checked(
        m.AddParticipant, by=by, person_id=person.id, constituency=person.constituency, roles=person.roles,
        cohort=person.cohort,
    )  # fmt: skip
    result = await submit(services, actor, engagement_id, joined, update_id=update_id)
    async with services.register() as register:
        await register.add(engagement_id, person)
    return result


@dataclass(frozen=True)
class Forgotten:
    engagement_id: str
    person_id: str
    shown_as: str
    forgotten_at: datetime
    newly: bool  # False when an earlier attempt had destroyed the key already
    position: int | None  # of the person_forgotten record; None when an earlier attempt wrote it


async def forget_everywhere(
    services: Services, actor: Actor, engagement_id: str, person_id: str, reason: str
) -> list[Forgotten]:
    """Forget the human who is ``person_id`` of ``engagement_id`` in every engagement they take part in:
    each engagement where their sign-in account is a member (the operator linked them with ``people
    same``), in one step, as ``forget`` does in each. ``actor`` must be a person of ``engagement_id``;
    the others record the same request. Everything is checked before anything is destroyed; safe to
    repeat after a crash (an engagement where they were forgotten already is reported, not redone)."""
    async with store_of(services) as store:
        account = await store.account_for(engagement_id, person_id)
        linked = [pair for pair in await store.memberships(account) if pair != (engagement_id, person_id)]
    async with services.writer_log() as log:
        for other, other_person in linked:  # every engagement the account names still exists and holds them
            state = state_as_of(await load(log, other, Disclosure()))
            if other_person not in state.people:
                raise NotFound(f"the account also names {other_person} of {other}, which has no such person")
    done = [await forget(services, actor, engagement_id, person_id, reason, again=True)]
    for other, other_person in linked:
        done.append(
            await forget(services, actor, other, other_person, reason, again=True, requester_here=False)
        )
    return done


async def forget(
    services: Services,
    actor: Actor,
    engagement_id: str,
    person_id: str,
    reason: str,
    *,
    again: bool = False,
    requester_here: bool = True,
) -> Forgotten:
    """Forget a person of an engagement at ``actor``'s request: destroy their name and data key, and
    record who asked and why. Checked before anything is destroyed; safe to repeat after a crash.

    ``again``: someone forgotten already is reported as such, not refused (``forget_everywhere`` and
    the retention rule); ``requester_here``: the actor must be a person of this engagement (False for
    the other engagements of ``forget_everywhere`` and for the retention rule, which is nobody's)."""
    if not reason.strip():
        raise UserError("--reason is empty; say why this person is forgotten (e.g. their request)")
    async with services.writer_log() as log:
        register = services.register_on(log)
        state = state_as_of(await load(log, engagement_id, Disclosure()))
        checks = [(person_id, "to forget")] + ([(actor.person_id, "in --as")] if requester_here else [])
        for who, what in checks:
            if who not in state.people:
                raise NotFound(
                    f"there is no person '{who}' {what} in engagement {engagement_id}; "
                    f"`coproduce people list {engagement_id}` shows them"
                )
        if actor.person_id == person_id:
            raise UserError("--as names the person to forget; a request is recorded by someone else")
        try:  # check the reason before anything is destroyed
            PersonForgotten(
                engagement_id=engagement_id, person_id=person_id, number=1, requested_by=actor.person_id,
                reason=reason, occurred_at=datetime.now(UTC),
            )  # fmt: skip
        except ValidationError as exc:
            raise UserError(f"--reason is not usable: {exc.errors()[0]['msg']}") from None
        already = (await forgotten_people(log, engagement_id)).get(person_id)
        number, when, newly = await register.forget(engagement_id, person_id)
        if already is not None and again:
            return Forgotten(
                engagement_id=engagement_id, person_id=person_id, shown_as=f"forgotten person #{already.number}",
                forgotten_at=already.occurred_at, newly=False, position=None,
            )  # fmt: skip
        if already is not None:
            raise UserError(
                f"{person_id} of {engagement_id} was forgotten already, as forgotten person "
                f"#{already.number} on {already.occurred_at:%Y-%m-%d}; there is nothing more to do"
            )
        record = PersonForgotten(
            engagement_id=engagement_id, person_id=person_id, number=number, requested_by=actor.person_id,
            reason=reason, occurred_at=when,
        )  # fmt: skip
        [event] = await sealed_events(
            register,
            engagement_id,
            [
                EventToAppend(
                    event_id=uuid.uuid5(FORGET_NAMESPACE, f"{engagement_id}/{person_id}"),
                    type=PersonForgotten.TYPE,
                    schema_version=PersonForgotten.SCHEMA_VERSION,
                    payload=record.model_dump(mode="json"),
                    occurred_at=when,
                    actor=actor.person_id,
                    causation_id=f"forget:{engagement_id}/{person_id}",
                    correlation_id=engagement_id,
                )
            ],
        )
        try:
            position: int | None = (
                await log.append(forgotten_stream(engagement_id), [event], None)
            ).positions[0]
        except DuplicateEventError:  # recorded by an earlier attempt that stopped before saying so
            position = None
    return Forgotten(
        engagement_id=engagement_id,
        person_id=person_id,
        shown_as=f"forgotten person #{number}",
        forgotten_at=when,
        newly=newly,
        position=position,
    )
