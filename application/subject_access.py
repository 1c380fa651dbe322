"""Everything held about one person in one engagement, opened, and where each item is stored: what a
subject access request (UK GDPR, Article 15) is answered with.

Three places hold data about a person:

- the **people register** (PostgreSQL, ``engagements.people_register``): their name, contact details
  and constituency; and a data key of theirs (``engagements.person_keys``, wrapped under the
  installation's master key) that seals their words in the log;
- the **event log** (PostgreSQL, ``eventlog.events``): every event that names them (their votes,
  check-ins, training, authorisations, time given, recognition paid, sessions they attended, the
  inputs they made) by id, never by name; their own words (reasons, notes) sealed under their key,
  opened here;
- **sign-in** (PostgreSQL, the ``identity`` schema): their account, the sign-in links and codes made
  for them (when made, used and expiring; never the secrets, which are only ever stored as hashes),
  their sessions and passkeys.

Others' words are not theirs to receive: a session's notes belong to the facilitator who wrote them,
a gate's decision lists other voters only by id. What the export leaves out is said in ``elsewhere``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from application.privacy.register import forgotten_stream
from application.privacy.sealing import is_sealed, sealed_owner

from .audit.history import DecodedEvent, TimelineEntry, state_as_of, timeline
from .auditing import shown
from .errors import NotFound
from .html import render
from .services import Services

REGISTER = "the people register (PostgreSQL table engagements.people_register)"
KEYS = "the people register's keys (PostgreSQL table engagements.person_keys), wrapped under the master key"
LOG = "the event log (PostgreSQL table eventlog.events), entry {position}"
SIGN_IN = "sign-in records (PostgreSQL table identity.{table})"
ELSEWHERE = (
    "Temporal keeps each input sent to the engagement in its workflow history, encrypted with this "
    "installation's payload key, until the namespace's retention period after the engagement completes.",
    "Mail sent to you (sign-in links, reminders) passed through the mail server set in COPRODUCE_SMTP_URL; "
    "its own logs are outside coproduce.",
    "Database backups and PostgreSQL's write-ahead log hold copies of the above until they are "
    "recycled (docs/privacy.md).",
)


@dataclass(frozen=True)
class Item:
    """One thing held about the person: what it is, its value, when, and where it is stored."""

    what: str
    value: Any
    stored_in: str
    when: datetime | None = None


@dataclass(frozen=True)
class SubjectAccess:
    engagement_id: str
    person_id: str
    produced_at: datetime
    forgotten: str | None  # "forgotten person #n" when they were forgotten
    register: list[Item] = field(default_factory=list)
    events: list[Item] = field(default_factory=list)
    sign_in: list[Item] = field(default_factory=list)
    elsewhere: tuple[str, ...] = ELSEWHERE
    title: str = ""  # the engagement's, from its plan

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return plain(asdict(self))  # type: ignore[no-any-return]


async def subject_access(services: Services, engagement_id: str, person_id: str) -> SubjectAccess:
    """Everything held about ``person_id`` in ``engagement_id``, opened with this installation's keys."""
    record = await shown(services, engagement_id)
    state = state_as_of(record.history)
    if person_id not in state.people:
        raise NotFound(
            f"there is no person '{person_id}' in engagement {engagement_id}; "
            f"`coproduce people list {engagement_id}` shows them"
        )
    return SubjectAccess(
        engagement_id, person_id, datetime.now(UTC), record.labels.get(person_id),
        register=await _register(services, engagement_id, person_id),
        events=_events(record.history, person_id) + await _choices(services, engagement_id, person_id),
        sign_in=await _sign_in(services, engagement_id, person_id), title=state.require_plan().title,
    )  # fmt: skip


async def _register(services: Services, engagement_id: str, person_id: str) -> list[Item]:
    async with services.register() as register:
        person = (await register.people(engagement_id)).get(person_id)
        has_key = person_id in await register.all_keys(engagement_id)
    items = []
    if person is not None:
        items.append(Item("your name", person.display_name, REGISTER))
        items.append(Item("your contact details", person.contact, REGISTER))
        items.append(Item("your group (constituency)", person.constituency, REGISTER))
    if has_key:
        items.append(Item("a data key that seals your words in the event log", "(a secret, not shown)", KEYS))
    return items


# Besides every field ending in "_by" (one id, or a list of them such as `agreed_by`, `cosigned_by`).
_NAMING = ("person_id", "by", "attendee_ids", "took_part", "person_ids")


def _names(payload: dict[str, Any], person_id: str) -> bool:
    """Whether an event's payload names the person (as subject, as one who took part, or as the one who
    acted)."""
    return any(
        (key in _NAMING or key.endswith("_by"))
        and (value == person_id or (isinstance(value, list) and person_id in value))
        for key, value in payload.items()
    )


def _events(history: list[DecodedEvent], person_id: str) -> list[Item]:
    items = []
    entries = {entry.position: entry for entry in timeline(history)}
    for decoded in history:
        stored = decoded.record
        if decoded.event is None or decoded.foreign is not None:
            continue
        payload = decoded.event.model_dump(mode="json")
        if not (_names(payload, person_id) or stored.actor == person_id):
            continue
        entry: TimelineEntry | None = entries.get(stored.position)
        words = {
            key: payload[key]
            for key, stored in stored.payload.items()
            if isinstance(stored, str) and is_sealed(stored) and sealed_owner(stored) == person_id
        }
        value: dict[str, Any] = {"event": stored.type}  # for a program reading the JSON
        if words:
            value["your words"] = words
        if entry is not None and entry.how:
            value["how it reached the engagement"] = entry.how
        where = LOG.format(position=stored.position)
        if words:
            where += "; your words sealed under your own key, opened for this copy"
        items.append(Item(entry.what if entry else stored.type, value, where, decoded.event.occurred_at))
    return items


# Records beside the engagement (the stream people/<engagement id>) that concern the person, in words.
_CHOICES = {
    "person_opted_to_stay": "you opted to stay: the retention rule will not forget you",
    "person_stay_withdrawn": "you withdrew your choice to stay: the retention rule will forget you when it falls due",
    "person_forgotten": "you were forgotten",
}


async def _choices(services: Services, engagement_id: str, person_id: str) -> list[Item]:
    """Their retention choices, the rule's record where it names them, and their forgetting."""
    async with services.writer_log() as log:
        records = await log.read_stream(forgotten_stream(engagement_id))
    items = []
    for record in records:
        payload, where = record.payload, LOG.format(position=record.position)
        if record.type in _CHOICES and payload.get("person_id") == person_id:
            by = payload.get("recorded_by") or payload.get("requested_by")
            value = {"event": record.type, "recorded by": by}
            items.append(Item(_CHOICES[record.type], value, where, record.occurred_at))
        elif record.type == "retention_applied":
            if person_id in payload.get("forgotten", ()):
                what = "the retention rule forgot you"
            elif person_id in payload.get("stayed", ()):
                what = "the retention rule left you, as you opted to stay"
            else:
                continue
            items.append(Item(what, {"event": record.type}, where, record.occurred_at))
    return items


async def _sign_in(services: Services, engagement_id: str, person_id: str) -> list[Item]:
    items: list[Item] = []
    async with services.writer_log() as log, log.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT account_id, created_at FROM identity.memberships WHERE engagement_id = %s AND person_id = %s",
                (engagement_id, person_id),
            )
        ).fetchone()
        if row is None:
            return items
        account, joined = row
        items.append(Item("a sign-in account, for this engagement", "(an account number, not shown)",
                          SIGN_IN.format(table="memberships"), joined))  # fmt: skip
        for kind, issued_by, issued, expires, used in await (
            await conn.execute(
                "SELECT kind, issued_by, issued_at, expires_at, used_at FROM identity.sign_in_tokens "
                "WHERE account_id = %s ORDER BY issued_at",
                (account,),
            )
        ).fetchall():
            what = "a sign-in link" if kind == "link" else "a one-time sign-in code"
            state = f"used {used:%Y-%m-%d %H:%M} UTC" if used else f"expires {expires:%Y-%m-%d %H:%M} UTC"
            maker = str(issued_by).split(" (")[0]  # "f1 (cli)": the operator who made it
            items.append(Item(f"{what}, made by {maker}", f"{state} (only a hash of it is kept)",
                              SIGN_IN.format(table="sign_in_tokens"), issued))  # fmt: skip
        for how, created, last_seen, ended in await (
            await conn.execute(
                "SELECT authentication, created_at, last_seen_at, ended_at FROM identity.sessions "
                "WHERE account_id = %s ORDER BY created_at",
                (account,),
            )
        ).fetchall():
            status = (
                f"ended {ended:%Y-%m-%d %H:%M} UTC" if ended else f"last used {last_seen:%Y-%m-%d %H:%M} UTC"
            )
            items.append(Item(f"a signed-in session ({(how or 'not signed in').replace('_', ' ')})", status,
                              SIGN_IN.format(table="sessions"), created))  # fmt: skip
        for created, last_used in await (
            await conn.execute(
                "SELECT created_at, last_used_at FROM identity.passkeys WHERE account_id = %s ORDER BY created_at",
                (account,),
            )
        ).fetchall():
            used = f"last used {last_used:%Y-%m-%d %H:%M} UTC" if last_used else "not used yet"
            items.append(
                Item("a passkey (its public key only)", used, SIGN_IN.format(table="passkeys"), created)
            )
    return items


def subject_access_html(found: SubjectAccess) -> str:
    """The copy as one self-contained, readable HTML page (the house stylesheet inlined)."""
    return render("subject_access.html", access=found)
