"""Signing in without a password: invitations, one-time links and codes, sessions, signing out.

- A facilitator **invites** a person of an engagement (``invite``): the person gets a sign-in link
  by email when the people register holds an email address for them, and a one-time code (and the same
  link) to print on a card for people without one. Both are theirs alone, work once, and expire.
- A person who has signed in before **asks for a link** by email (``request_link``): the answer is
  the same whether or not the address is known, and attempts are limited per address and per email.
- A link is opened in two steps: a GET shows a "Sign in" button and changes nothing (mail scanners
  fetch links), and only the button's POST uses it up (``sign_in_with_link``).
- A **session** is kept server-side (``identity.sessions``); the browser holds only a random id. It ends
  after ``SESSION_IDLE`` without use or ``SESSION_LIFETIME`` in all, on signing out, or everywhere at
  once (``sign_out(everywhere=True)``). Signing in always starts a new session and ends the old one.

Every refusal is one sentence a person can act on; nothing says whether an address or code exists.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import aiosmtplib
import structlog

from ..errors import NotFound, UserError
from ..mail import compose, send
from ..services import Services
from .actor import Actor
from .store import Authentication, IdentityStore, normalise_code

log = structlog.get_logger(__name__)

INVITE_LIFETIME = timedelta(days=7)  # a facilitator's invitation: a card may take days to reach someone
REQUESTED_LINK_LIFETIME = timedelta(minutes=15)
SESSION_IDLE = timedelta(minutes=30)
SESSION_LIFETIME = timedelta(hours=12)
ANONYMOUS_LIFETIME = timedelta(hours=1)  # a visitor's session before signing in: it holds the CSRF token
# Failed sign-ins are limited, not successful ones: a tenants' meeting signs in thirty people from one
# venue's network address, and must not lock itself out.
ATTEMPTS_PER_ADDRESS = 50  # failed sign-ins (or links asked for) from one network address ...
ATTEMPTS_PER_PERSON = 5  # ... and for one code or email address ...
ATTEMPT_WINDOW = timedelta(minutes=15)  # ... in this long


class SignInRefused(UserError):
    """A sign-in that did not work; the message says what to do next."""


class TooManyAttempts(SignInRefused):
    """Too many sign-in attempts in a short time."""


LINK_REFUSED = "This sign-in link has been used already or has expired. Ask for a new one below."
CODE_REFUSED = "That code is not right, or it has been used or has expired. Check it, or ask your facilitator for a new one."
TOO_MANY = "There have been too many sign-in attempts. Wait 15 minutes, then try again."


@dataclass(frozen=True)
class Session:
    """A browser's session: ``token`` goes in its cookie; ``account_id`` is None before signing in."""

    token: str
    csrf_token: str
    account_id: uuid.UUID | None = None
    authentication: Authentication | None = None
    new: bool = False  # the cookie must be (re)set

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None


@asynccontextmanager
async def store_of(services: Services) -> AsyncIterator[IdentityStore]:
    """The sign-in tables in the log's database."""
    async with services.writer_log() as log:
        yield IdentityStore(log.pool)


# -- sessions ------------------------------------------------------------------------------------------
async def session(services: Services, token: str | None) -> Session:
    """The live session the browser's cookie names, or a new anonymous one."""
    async with store_of(services) as store:
        if token:
            row = await store.session(token, SESSION_IDLE)
            if row is not None:
                return Session(token, row.csrf_token, row.account_id, row.authentication)
        fresh, csrf = await store.new_session(None, None, ANONYMOUS_LIFETIME)
    return Session(fresh, csrf, new=True)


async def signed_in_session(
    store: IdentityStore, old: Session, account_id: uuid.UUID, how: Authentication
) -> Session:
    """A new session for the account (a fresh id at every sign-in), the old one ended."""
    await store.end_session(old.token)
    token, csrf = await store.new_session(account_id, how, SESSION_LIFETIME)
    return Session(token, csrf, account_id, how, new=True)


async def sign_out(services: Services, current: Session, *, everywhere: bool = False) -> int:
    """End this session, or every session of its account; how many ended."""
    async with store_of(services) as store:
        if everywhere and current.account_id is not None:
            return await store.end_sessions_of(current.account_id)
        await store.end_session(current.token)
        return 1


# -- rate limits ---------------------------------------------------------------------------------------
async def limit_attempts(store: IdentityStore, *scopes_and_limits: tuple[str, int]) -> None:
    """Refuse when any scope has had its limit of attempts in the window (nothing else is counted)."""
    for scope, limit in scopes_and_limits:
        if await store.attempts_since(scope, ATTEMPT_WINDOW) >= limit:
            raise TooManyAttempts(TOO_MANY)


async def count_attempt(store: IdentityStore, *scopes_and_limits: tuple[str, int]) -> None:
    """Count one attempt (a failed sign-in, or a link asked for) against each scope."""
    for scope, _ in scopes_and_limits:
        await store.record_attempt(scope)


def _hashed(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


# -- links and codes -----------------------------------------------------------------------------------
async def link_is_usable(services: Services, token: str) -> bool:
    """Whether the link can still be used (the confirm page's question; it uses nothing up)."""
    async with store_of(services) as store:
        return await store.link_is_usable(token)


async def sign_in_with_link(services: Services, current: Session, token: str, address: str) -> Session:
    async with store_of(services) as store:
        limits = ((f"address:{address}", ATTEMPTS_PER_ADDRESS),)
        await limit_attempts(store, *limits)
        account_id = await store.redeem_link(token)
        if account_id is None:
            await count_attempt(store, *limits)
            raise SignInRefused(LINK_REFUSED)
        return await signed_in_session(store, current, account_id, "sign_in_link")


async def sign_in_with_code(services: Services, current: Session, code: str, address: str) -> Session:
    canonical = normalise_code(code)
    async with store_of(services) as store:
        limits = (
            (f"address:{address}", ATTEMPTS_PER_ADDRESS),
            (f"code:{canonical[:4] or 'malformed'}", ATTEMPTS_PER_PERSON),
        )
        await limit_attempts(store, *limits)
        account_id = await store.redeem_code(canonical) if canonical else None
        if account_id is None:
            await count_attempt(store, *limits)
            raise SignInRefused(CODE_REFUSED)
        return await signed_in_session(store, current, account_id, "one_time_code")


async def request_link(services: Services, email: str, address: str) -> None:
    """Email a sign-in link to ``email`` if it belongs to someone who was invited; say nothing either way."""
    if "@" not in email or len(email) > 254:
        raise UserError("Enter an email address, like name@example.com.")
    async with store_of(services) as store:
        limits = (
            (f"address:{address}", ATTEMPTS_PER_ADDRESS),
            (f"email:{_hashed(email)}", ATTEMPTS_PER_PERSON),
        )
        await limit_attempts(store, *limits)
        await count_attempt(store, *limits)  # every link asked for counts: mail costs, and tells nothing
        accounts = await store.accounts_with_contact(email)
        if len(accounts) != 1:
            return  # unknown (or shared by several people: ask a facilitator for an invitation instead)
        token = await store.issue_link(accounts[0], "self", REQUESTED_LINK_LIFETIME)
    try:
        await _mail_link(services, email, token, invited=False)
    except (aiosmtplib.SMTPException, OSError, UserError) as exc:  # the page says the same either way
        log.warning("a requested sign-in link could not be mailed", error=type(exc).__name__)


# -- invitations ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Invitation:
    engagement_id: str
    person_id: str
    link: str
    code: str
    expires_in_days: int
    emailed_to: str | None  # the address the link went to, or None (print the card instead)


async def invite(
    services: Services, actor: Actor, engagement_id: str, person_id: str, *, email: bool = True
) -> Invitation:
    """Invite ``person_id`` of ``engagement_id`` to sign in: a link (emailed when the register has an
    email address for them and ``email``) and a code for a printed card, both valid for a week."""
    async with services.writer_log() as log:
        register = services.register_on(log)
        people = await register.people(engagement_id)
    person = people.get(person_id)
    if person is None:
        raise NotFound(
            f"there is no person '{person_id}' in engagement {engagement_id} (or they were forgotten); "
            f"`coproduce people list {engagement_id}` shows them"
        )
    contact = person.contact or ""
    async with store_of(services) as store:
        account_id = await store.account_for(engagement_id, person_id)
        token = await store.issue_link(account_id, str(actor), INVITE_LIFETIME)
        code = await store.issue_code(account_id, str(actor), INVITE_LIFETIME)
    emailed = contact if email and "@" in contact else None
    if emailed is not None:
        try:
            await _mail_link(services, emailed, token, invited=True)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise UserError(
                f"the mail server did not take the invitation ({type(exc).__name__}); the code {code} works "
                "all the same: print the card (--no-email --print card.pdf), or invite again when mail is back"
            ) from None
    return Invitation(
        engagement_id, person_id, link_url(services, token), code, INVITE_LIFETIME.days, emailed
    )


async def same_person(
    services: Services, actor: Actor, first: tuple[str, str], second: tuple[str, str]
) -> int:
    """Make ``second`` (engagement id, person id) sign in as the same account as ``first``: the same
    human in two engagements (a facilitator who runs several, say) then has one sign-in and one
    portfolio. An operator's decision, never inferred from matching email addresses (anyone who can
    type an address into a plan could otherwise take over another's account). ``second``'s own
    sessions end. Returns how many sessions ended."""
    async with services.writer_log() as event_log:
        register = services.register_on(event_log)
        for engagement_id, person_id in (first, second):
            if person_id not in await register.people(engagement_id):
                raise NotFound(
                    f"there is no person '{person_id}' in engagement {engagement_id} (or they were forgotten); "
                    f"`coproduce people list {engagement_id}` shows them"
                )
    async with store_of(services) as store:
        account = await store.account_for(*first)
        previous = await store.account_for(*second)
        if previous == account:
            return 0
        ended = await store.end_sessions_of(previous)
        await store.move_membership(second[0], second[1], account)
    log.info("accounts linked", first=first[0], second=second[0], actor=str(actor))
    return ended


def link_url(services: Services, token: str) -> str:
    return f"{services.web_url.rstrip('/')}/sign-in/link/{token}"


async def _mail_link(services: Services, to: str, token: str, *, invited: bool) -> None:
    smtp = services.smtp()
    if smtp is None:
        raise UserError(
            "no mail server is set up, so the link cannot be emailed: set COPRODUCE_SMTP_URL, "
            "or print the invitation card instead (--no-email --print card.pdf)"
        )
    lifetime = "7 days" if invited else "15 minutes"
    url = link_url(services, token)
    text = (
        "Hello,\n\n"
        + ("You have been invited to take part in decisions, with coproduce.\n\n" if invited else "")
        + f"Open this link to sign in. It works once, for {lifetime}:\n\n{url}\n\n"
        "If you did not ask for this, you can ignore this email: nobody can sign in without the link.\n"
    )
    html = (
        "<p>Hello,</p>"
        + ("<p>You have been invited to take part in decisions, with coproduce.</p>" if invited else "")
        + f'<p><a href="{url}">Sign in</a>. The link works once, for {lifetime}.</p>'
        "<p>If you did not ask for this, you can ignore this email: nobody can sign in without the link.</p>"
    )
    message_id = "sign-in-" + hashlib.sha256(token.encode()).hexdigest()[:32]  # not the token itself
    domain = services.mail_domain()
    await send(
        smtp,
        compose(
            sender=services.mail_from, to=to, subject="Your sign-in link", text=text, html=html,
            message_id=message_id, domain=domain,
        ),
    )  # fmt: skip


# -- who is signed in ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Membership:
    engagement_id: str
    person_id: str
    name: str | None


async def memberships(services: Services, current: Session) -> list[Membership]:
    """The engagements the signed-in person belongs to, with their name in each."""
    if current.account_id is None:
        return []
    async with store_of(services) as store:
        places = await store.memberships(current.account_id)
    found = []
    async with services.writer_log() as log:
        register = services.register_on(log)
        for engagement_id, person_id in places:
            names = await register.names(engagement_id)
            found.append(Membership(engagement_id, person_id, names.get(person_id)))
    return found
