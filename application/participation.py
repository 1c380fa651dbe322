"""What a signed-in person does in the engagements they belong to: see what waits for them, decide a
gate, check in, and see their training, rights and contributions.

Every function takes the person's session (``identity.sign_in.Session``); the person they are in an
engagement comes from their account's memberships, never from what they send. An engagement they do not
belong to is answered exactly like one that does not exist (``NotHere``), so nothing about it leaks.
Inputs go through ``engagements.submit`` like the command line's, vouched for as sent on the web and
signed in as the session says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from temporalio.service import RPCError, RPCStatusCode

from domain.engagement import EngagementState, RecognitionAccount
from domain.events.gates import VoteChoice
from domain.rules.changes import cosign_refusal, cosigning_waits_for
from domain.rules.eligibility import eligibility, vote_refusal
from domain.rules.quorum import tally
from workflows import messages as m

from .audit.receipts import make_receipt
from .engagements import engagement_status, submit
from .errors import NotFound
from .identity import Actor
from .identity.sign_in import Session, memberships
from .requests import request
from .services import Services
from .subject_access import SubjectAccess, subject_access

EXPIRY_WARNING = timedelta(days=30)  # training that runs out within this long is shown as expiring soon


class NotHere(NotFound):
    """No such engagement, or not one of the signed-in person's: the same answer either way."""


log = structlog.get_logger(__name__)

NOT_HERE = "There is nothing here for you. Go to your page to see the engagements you take part in."


class Unreachable(Exception):
    """Temporal does not answer, so where the person's engagements stand cannot be shown just now."""


@dataclass(frozen=True)
class Place:
    """The signed-in person in one engagement."""

    engagement_id: str
    person_id: str
    name: str | None
    title: str
    status: m.EngagementStatus


def actor_for(place: Place, current: Session) -> Actor:
    """The person acting on the web: who they are in this engagement, and how they signed in."""
    return Actor(place.person_id, "web", authentication=current.authentication or "sign_in_link")


async def places(services: Services, current: Session) -> list[Place]:
    """The engagements the person belongs to, with where each stands now (those Temporal cannot answer
    for, e.g. not started yet, are left out)."""
    found = []
    for membership in await memberships(services, current):
        try:
            client = await services.temporal()
            status = await engagement_status(client.get_workflow_handle(membership.engagement_id))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue
            if exc.status == RPCStatusCode.UNAVAILABLE:
                raise Unreachable() from exc
            raise
        except RuntimeError as exc:  # the client could not connect at all
            raise Unreachable() from exc
        plan = status.state.plan
        found.append(
            Place(
                membership.engagement_id,
                membership.person_id,
                membership.name,
                plan.title if plan else "",
                status,
            )
        )
    return found


async def place(services: Services, current: Session, engagement_id: str) -> Place:
    """The person in ``engagement_id``, or ``NotHere``."""
    for membership in await memberships(services, current):
        if membership.engagement_id == engagement_id:
            client = await services.temporal()
            try:
                status = await engagement_status(client.get_workflow_handle(engagement_id))
            except RPCError as exc:  # a membership of an engagement Temporal no longer has: not here
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                raise NotHere(NOT_HERE) from None
            plan = status.state.plan
            return Place(
                engagement_id, membership.person_id, membership.name, plan.title if plan else "", status
            )
    raise NotHere(NOT_HERE)


# -- what waits for me ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateToDecide:
    engagement_id: str
    phase_id: str
    title: str
    may_vote: bool
    why_not: str | None  # one sentence, when they may not vote
    voted: VoteChoice | None
    escalates_on: datetime | None  # when the gate is escalated if still pending


@dataclass(frozen=True)
class Expiring:
    engagement_id: str
    module_id: str
    title: str
    expires_at: datetime


@dataclass(frozen=True)
class ChangeToCosign:
    """A change that weakens the engagement, waiting for co-signers from the person's group (the plan's
    change policy): what it would do, in plain words, and whether they may co-sign it."""

    engagement_id: str
    title: str
    change_id: str
    what: str
    weakens: tuple[str, ...]
    proposed_by: str
    proposed_at: datetime
    waiting_for: tuple[str, ...]
    may_cosign: bool
    why_not: str | None  # one sentence, when they may not


@dataclass(frozen=True)
class Waiting:
    """Across every engagement the person belongs to: what waits for them."""

    gates: list[GateToDecide] = field(default_factory=list)
    changes: list[ChangeToCosign] = field(default_factory=list)
    check_ins: list[Place] = field(default_factory=list)  # engagements where a check-in is due from them
    expiring: list[Expiring] = field(default_factory=list)
    votes: list[VoteCastByMe] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    unreachable: bool = False  # the engagements could not be asked where they stand: show nothing, say so

    @property
    def facilitates(self) -> bool:
        """Whether the person facilitates any of their engagements (their page links to the portfolio)."""
        return any(
            (person := here.status.state.people.get(here.person_id)) is not None
            and person.constituency == "facilitator"
            for here in self.places
        )


@dataclass(frozen=True)
class VoteCastByMe:
    engagement_id: str
    phase_id: str
    title: str
    choice: VoteChoice
    cast_at: datetime
    position: int  # where the vote is in the log: its receipt's address


async def waiting(services: Services, current: Session) -> Waiting:
    found = Waiting()
    try:
        mine = await places(services, current)
    except Unreachable as exc:
        log.warning("engagements_unreachable", error=str(exc.__cause__))
        return Waiting(unreachable=True)
    for here in mine:
        found.places.append(here)
        state, now = here.status.state, here.status.as_of
        plan = state.plan
        if plan is None or state.status == "completed":
            continue
        for phase_id, gate in state.gates.items():
            if gate.status != "open" or here.person_id not in gate.roster:
                continue
            phase = plan.phases_by_id[phase_id]
            vote = gate.votes.get(here.person_id)
            refusal = None if vote else vote_refusal(state, phase_id, here.person_id, "approve", None, now)
            found.gates.append(
                GateToDecide(
                    here.engagement_id, phase_id, phase.title, refusal is None and vote is None, refusal,
                    vote.choice if vote else None, gate.opened_at + timedelta(days=phase.escalate_after_days),
                )
            )  # fmt: skip
        found.changes.extend(_changes_for(here))
        if _check_in_due(state, here.person_id, now):
            found.check_ins.append(here)
        person = state.people.get(here.person_id)
        for module_id, periods in (person.authorisations if person else {}).items():
            last = periods[-1] if periods else None
            ends = last.ends() if last else None
            if ends is not None and now <= ends <= now + EXPIRY_WARNING:
                module = plan.modules_by_id.get(module_id)
                found.expiring.append(
                    Expiring(here.engagement_id, module_id, module.title if module else module_id, ends)
                )
        positions = await _vote_positions(services, here)
        for phase_id, gate in state.gates.items():
            vote = gate.votes.get(here.person_id)
            if vote is not None and phase_id in positions:
                title = plan.phases_by_id[phase_id].title
                found.votes.append(
                    VoteCastByMe(
                        here.engagement_id, phase_id, title, vote.choice, vote.cast_at, positions[phase_id]
                    )
                )
    found.gates.sort(key=lambda g: (not g.may_vote, g.escalates_on or datetime.max.replace(tzinfo=UTC)))
    found.votes.sort(key=lambda v: v.cast_at, reverse=True)
    return found


def _changes_for(here: Place) -> list[ChangeToCosign]:
    """The changes waiting in ``here`` that ask for a co-signer from the person's group."""
    state = here.status.state
    person = state.people.get(here.person_id)
    found = []
    for change in state.changes.values():
        if change.status != "waiting" or person is None or person.constituency not in change.needs:
            continue
        what = (
            f"lift the comfort hold on the phase '{change.phase_id}' for its next round"
            if change.kind == "pace_override"
            else "amend the plan"
        )
        refusal = cosign_refusal(state, change, here.person_id)
        found.append(
            ChangeToCosign(
                here.engagement_id, here.title, change.change_id, what, change.weakens, change.proposed_by,
                change.proposed_at, tuple(cosigning_waits_for(change)), refusal is None, refusal,
            )
        )  # fmt: skip
    return found


async def change_to_cosign(
    services: Services, current: Session, engagement_id: str, change_id: str
) -> ChangeToCosign:
    """One change waiting for the person's co-signature (not here: the same page as any other address)."""
    here = await place(services, current, engagement_id)
    for change in _changes_for(here):
        if change.change_id == change_id:
            return change
    raise NotHere(NOT_HERE)


async def cosign(
    services: Services, current: Session, engagement_id: str, change_id: str, *, update_id: str | None = None
) -> m.UpdateResult:
    """Co-sign a change as the signed-in person; refused with the domain's sentence when it cannot count."""
    here = await place(services, current, engagement_id)
    message = request(m.CosignChange, by=here.person_id, change_id=change_id)
    return await submit(services, actor_for(here, current), engagement_id, message, update_id=update_id)


async def decline(
    services: Services,
    current: Session,
    engagement_id: str,
    change_id: str,
    reason: str,
    *,
    update_id: str | None = None,
) -> m.UpdateResult:
    """Decline to co-sign a change as the signed-in person, saying why: it never takes effect."""
    here = await place(services, current, engagement_id)
    message = request(m.DeclineChange, by=here.person_id, change_id=change_id, reason=reason)
    return await submit(services, actor_for(here, current), engagement_id, message, update_id=update_id)


async def _vote_positions(services: Services, here: Place) -> dict[str, int]:
    """Where the person's latest vote on each gate is in the log."""
    async with services.writer_log() as log, log.pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT payload->>'phase_id', max(position) FROM eventlog.audit_events"
                " WHERE stream_id = %s AND event_type = 'vote_cast' AND payload->>'person_id' = %s"
                " GROUP BY 1",
                (here.engagement_id, here.person_id),
            )
        ).fetchall()
    return {str(phase): int(position) for phase, position in rows}


def _check_in_due(state: EngagementState, person_id: str, now: datetime) -> bool:
    """Whether the person has not checked in during the current check-in period."""
    person = state.people.get(person_id)
    if state.status != "active" or person is None or not state.takes_part(person):
        return False
    every = timedelta(days=state.require_plan().pace.check_in_every_days)
    last = state.check_ins.get(person_id)
    return last is None or last.at <= now - every


# -- a gate ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConstituencyCount:
    constituency: str
    required: int
    approve: int
    object: int
    abstain: int


@dataclass(frozen=True)
class GatePage:
    place: Place
    phase_id: str
    title: str
    objectives: tuple[str, ...]
    status: str  # open, passed, held, rejected, or "not open yet"
    method: str
    round: int
    counts: list[ConstituencyCount]
    may_vote: bool
    why_not: str | None
    my_vote: VoteChoice | None
    reason_required: bool
    escalates_on: datetime | None


async def gate(services: Services, current: Session, engagement_id: str, phase_id: str) -> GatePage:
    here = await place(services, current, engagement_id)
    state, now = here.status.state, here.status.as_of
    plan = state.require_plan()
    phase = plan.phases_by_id.get(phase_id)
    if phase is None:
        raise NotHere(NOT_HERE)
    opened = state.gates.get(phase_id)
    counts = []
    if opened is not None:
        for constituency in sorted(
            {v.constituency for v in opened.votes.values()} | set(opened.policy.quorum)
        ):
            counted = [v for v in opened.votes.values() if v.counted and v.constituency == constituency]
            counts.append(
                ConstituencyCount(
                    constituency, opened.policy.quorum.get(constituency, 0),
                    sum(v.choice == "approve" for v in counted), sum(v.choice == "object" for v in counted),
                    sum(v.choice == "abstain" for v in counted),
                )
            )  # fmt: skip
    mine = opened.votes.get(here.person_id) if opened else None
    why_not = None if mine else vote_refusal(state, phase_id, here.person_id, "approve", None, now)
    if opened is None:
        why_not = (
            eligibility(state, phase_id, here.person_id, now).reason
            or f"gate '{phase_id}' has not been opened"
        )
    return GatePage(
        place=here, phase_id=phase_id, title=phase.title, objectives=phase.objectives,
        status=opened.status if opened else "not open yet", method=phase.gate.method,
        round=opened.round if opened else 0, counts=counts, may_vote=why_not is None and mine is None,
        why_not=why_not, my_vote=mine.choice if mine else None, reason_required=phase.gate.reason_required,
        escalates_on=opened.opened_at + timedelta(days=phase.escalate_after_days) if opened else None,
    )  # fmt: skip


def quorum_met(state: EngagementState, phase_id: str) -> bool:
    return tally(state, phase_id).met


@dataclass(frozen=True)
class Cast:
    """A vote recorded: where it is in the log."""

    engagement_id: str
    phase_id: str
    choice: VoteChoice
    position: int
    result: m.UpdateResult


async def vote(
    services: Services,
    current: Session,
    engagement_id: str,
    phase_id: str,
    choice: Literal["approve", "object", "abstain"],
    reason: str | None,
    *,
    update_id: str | None = None,
) -> Cast:
    """Cast the signed-in person's vote on the gate; refused with the domain's sentence when it could not
    count. ``update_id`` makes a resend safe (the same vote is recorded once)."""
    here = await place(services, current, engagement_id)
    decision = request(
        m.DecideGate, person_id=here.person_id, phase_id=phase_id, choice=choice, reason=reason or None
    )
    result = await submit(services, actor_for(here, current), engagement_id, decision, update_id=update_id)
    position = result.positions[result.events.index("vote_cast")] if "vote_cast" in result.events else 0
    return Cast(engagement_id, phase_id, choice, position, result)


async def check_in(
    services: Services,
    current: Session,
    engagement_id: str,
    comfort: int,
    note: str | None,
    *,
    update_id: str | None = None,
) -> m.UpdateResult:
    """Record how comfortable the signed-in person is with the pace, on the plan's scale."""
    here = await place(services, current, engagement_id)
    message = request(m.RecordCheckIn, person_id=here.person_id, comfort=comfort, note=note or None)
    return await submit(services, actor_for(here, current), engagement_id, message, update_id=update_id)


@dataclass(frozen=True)
class CheckInPage:
    place: Place
    choices: list[tuple[int, str]]  # each point of the plan's comfort scale, with words for it
    last: tuple[int, datetime] | None  # the person's last check-in: comfort, when


async def check_in_page(services: Services, current: Session, engagement_id: str) -> CheckInPage:
    here = await place(services, current, engagement_id)
    state = here.status.state
    scale = state.require_plan().pace.comfort_scale
    last = state.check_ins.get(here.person_id)
    return CheckInPage(here, comfort_words(scale.low, scale.high), (last.comfort, last.at) if last else None)


def comfort_words(low: int, high: int) -> list[tuple[int, str]]:
    """Words for every point of a comfort scale from ``low`` (least comfortable) to ``high``: the ends are
    "very", the middle (when there is one) is "neither", and points between say "a little" nearer it."""
    span = high - low
    words = []
    for value in range(low, high + 1):
        at = (value - low) / span  # 0 at the low end, 1 at the high end
        if at == 0:
            said = "Very uncomfortable: it is going too fast for me"
        elif at == 1:
            said = "Very comfortable: the pace is right, or we could go faster"
        elif at == 0.5:
            said = "Neither comfortable nor uncomfortable"
        elif at < 0.5:
            said = "Uncomfortable" if at < 0.3 else "A little uncomfortable"
        else:
            said = "Comfortable" if at > 0.7 else "A little comfortable"
        words.append((value, said))
    return words


# -- my record ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Authorisation:
    module_id: str
    title: str
    granted_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class MyRecord:
    place: Place
    trained: list[tuple[str, str, datetime]]  # module id, title, completed
    authorisations: list[Authorisation]
    minutes_given: int
    fee_earned_pence: int
    paid_pence: int
    expenses_claimed_pence: int
    expenses_paid_pence: int
    now: datetime


async def my_data(services: Services, current: Session, engagement_id: str) -> SubjectAccess:
    """Everything held about the signed-in person in ``engagement_id``, opened (their own subject
    access copy: ``subject_access``), or ``NotHere`` for an engagement they are not in. The person is
    the session's, never one named in the request."""
    for membership in await memberships(services, current):
        if membership.engagement_id == engagement_id:
            try:
                return await subject_access(services, engagement_id, membership.person_id)
            except NotFound:  # an engagement whose record is gone: nothing here for them either
                raise NotHere(NOT_HERE) from None
    raise NotHere(NOT_HERE)


async def my_record(services: Services, current: Session, engagement_id: str) -> MyRecord:
    here = await place(services, current, engagement_id)
    state = here.status.state
    plan = state.require_plan()
    person = state.people.get(here.person_id)
    modules = plan.modules_by_id
    trained = sorted(
        (
            (mid, modules[mid].title if mid in modules else mid, at)
            for mid, at in (person.trained if person else {}).items()
        ),
        key=lambda row: row[2],
    )
    rights = []
    for module_id, periods in (person.authorisations if person else {}).items():
        last = periods[-1] if periods else None
        rights.append(
            Authorisation(
                module_id, modules[module_id].title if module_id in modules else module_id,
                last.granted_at if last else None, last.ends() if last else None,
            )
        )  # fmt: skip
    account = state.recognition.get(here.person_id) or RecognitionAccount()
    return MyRecord(
        place=here, trained=trained, authorisations=rights, minutes_given=account.minutes,
        fee_earned_pence=account.fee_earned_pence, paid_pence=account.fee_paid_pence,
        expenses_claimed_pence=account.expenses_claimed_pence, expenses_paid_pence=account.expenses_paid_pence,
        now=here.status.as_of,
    )  # fmt: skip


# -- receipts ----------------------------------------------------------------------------------------------
async def receipt(services: Services, current: Session, engagement_id: str, position: int) -> dict[str, Any]:
    """The receipt of the signed-in person's own vote at ``position`` (``audit.receipts``): with its
    inclusion proof once a signed checkpoint covers it. Anyone else's vote, or any other event, is
    ``NotHere``."""
    here = await place(services, current, engagement_id)
    async with services.writer_log() as log, log.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT entry FROM eventlog.audit_events WHERE position = %s AND stream_id = %s"
                " AND event_type = 'vote_cast' AND payload->>'person_id' = %s",
                (position, engagement_id, here.person_id),
            )
        ).fetchone()
        if row is None:
            raise NotHere(NOT_HERE)
        entry = bytes(row[0])
        note_row = await (
            await conn.execute(
                "SELECT size, note FROM eventlog.audit_checkpoints WHERE size >= %s ORDER BY size DESC LIMIT 1",
                (position,),
            )
        ).fetchone()
        leaves = None
        if note_row is not None:
            cur = conn.cursor(binary=True)
            await cur.execute(
                "SELECT leaf_hash FROM eventlog.audit_events WHERE position <= %s ORDER BY position",
                (note_row[0],),
            )
            leaves = [bytes(r[0]) for r in await cur.fetchall()]
    return make_receipt(
        engagement_id, position, entry, leaves, note_row[1] if note_row else None,
        services.load_checkpoint_public_key() or "",
    )  # fmt: skip
