"""Signing in, as the application layer does it, against a real PostgreSQL: invitations, one-time links
and codes, sessions and their expiry, rate limits. (The web pages on top are tested in a browser, in
tests/web/.) Each test tries to break one promise the sign-in makes to the people who use it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import psycopg
import pytest

from application.identity import Actor, sign_in
from application.identity.sign_in import CODE_REFUSED, LINK_REFUSED, TOO_MANY, SignInRefused, TooManyAttempts
from application.identity.store import CODE_GUESSES, normalise_code
from application.services import Services
from domain.plan import plan_from_yaml
from eventlog import Signer
from tests.domain.plans import SMALL_PLAN_YAML

ENGAGEMENT = "ident-1"
FACILITATOR = Actor("f1", "cli")


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """Services on this test's database, with the people of the small plan in the register (u1 has an
    email address, u2 has none)."""
    writer = Signer.generate("tests/identity")
    key = os.urandom(32)
    found = Services(
        connect_temporal=_no_temporal, database_url=lambda: database_url, load_master_key=lambda _: key,
        load_writer_key=lambda: writer, load_writer_verifiers=lambda: [writer.verifier], task_queue="unused",
        web_url="http://localhost:8000",
    )  # fmt: skip
    plan = plan_from_yaml(SMALL_PLAN_YAML, "small")
    people = [
        p.model_copy(update={"contact": "u1@example.org" if p.id == "u1" else None}) for p in plan.people
    ]
    async with found.register() as register:
        await register.register(ENGAGEMENT, plan.model_copy(update={"people": tuple(people)}))
    await found.open()
    yield found
    await found.close()


async def _no_temporal():  # type: ignore[no-untyped-def]
    raise AssertionError("signing in never needs Temporal")


async def fresh(services: Services) -> sign_in.Session:
    return await sign_in.session(services, None)


async def test_an_invitation_code_signs_in_once_and_only_as_its_person(services: Services) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    assert invitation.emailed_to is None and normalise_code(invitation.code) == invitation.code
    visitor = await fresh(services)
    signed = await sign_in.sign_in_with_code(
        services, visitor, invitation.code.lower().replace("-", " "), "10.0.0.1"
    )
    assert signed.signed_in and signed.authentication == "one_time_code" and signed.token != visitor.token
    assert [(m.engagement_id, m.person_id) for m in await sign_in.memberships(services, signed)] == [
        (ENGAGEMENT, "u2")
    ]
    with pytest.raises(SignInRefused) as again:
        await sign_in.sign_in_with_code(services, await fresh(services), invitation.code, "10.0.0.1")
    assert str(again.value) == CODE_REFUSED


async def test_the_old_session_ends_when_someone_signs_in(services: Services) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    visitor = await fresh(services)
    await sign_in.sign_in_with_code(services, visitor, invitation.code, "10.0.0.2")
    again = await sign_in.session(services, visitor.token)
    assert again.token != visitor.token and not again.signed_in  # the pre-sign-in id is worth nothing now


async def test_a_code_is_void_after_too_many_wrong_guesses(services: Services) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    lookup = invitation.code[:4]
    wrong = f"{lookup}-2222-2222" if invitation.code[5:] != "2222-2222" else f"{lookup}-3333-3333"
    for n in range(CODE_GUESSES):
        with pytest.raises(SignInRefused):
            await sign_in.sign_in_with_code(services, await fresh(services), wrong, f"10.1.0.{n}")
    with pytest.raises(SignInRefused) as right_too_late:
        await sign_in.sign_in_with_code(services, await fresh(services), invitation.code, "10.1.1.1")
    assert str(right_too_late.value) in (CODE_REFUSED, TOO_MANY)


async def test_a_link_is_not_used_up_by_looking_at_it_only_by_signing_in(services: Services) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    token = invitation.link.rsplit("/", 1)[1]
    for _ in range(3):  # a mail scanner fetching the link, then the person opening it
        assert await sign_in.link_is_usable(services, token)
    signed = await sign_in.sign_in_with_link(services, await fresh(services), token, "10.2.0.1")
    assert signed.authentication == "sign_in_link"
    assert not await sign_in.link_is_usable(services, token)
    with pytest.raises(SignInRefused) as reused:
        await sign_in.sign_in_with_link(services, await fresh(services), token, "10.2.0.2")
    assert str(reused.value) == LINK_REFUSED


async def test_forged_and_expired_links_are_refused(services: Services, database_url: str) -> None:
    with pytest.raises(SignInRefused):
        await sign_in.sign_in_with_link(
            services, await fresh(services), "not-a-token-anyone-issued", "10.3.0.1"
        )
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    token = invitation.link.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE identity.sign_in_tokens SET expires_at = now() - interval '1 second'")
    with pytest.raises(SignInRefused) as expired:
        await sign_in.sign_in_with_link(services, await fresh(services), token, "10.3.0.2")
    assert str(expired.value) == LINK_REFUSED


async def test_racing_requests_with_one_link_sign_in_once(services: Services) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    token = invitation.link.rsplit("/", 1)[1]
    visitors = [await fresh(services) for _ in range(8)]
    results = await asyncio.gather(
        *(sign_in.sign_in_with_link(services, v, token, f"10.4.0.{i}") for i, v in enumerate(visitors)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, sign_in.Session) for r in results) == 1
    assert all(isinstance(r, SignInRefused) for r in results if not isinstance(r, sign_in.Session))


async def test_sessions_end_when_idle_and_signing_out_everywhere_ends_them_all(
    services: Services, database_url: str
) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    phone = await sign_in.sign_in_with_code(services, await fresh(services), invitation.code, "10.5.0.1")
    second = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    laptop = await sign_in.sign_in_with_code(services, await fresh(services), second.code, "10.5.0.2")
    assert (await sign_in.session(services, phone.token)).signed_in
    assert await sign_in.sign_out(services, laptop, everywhere=True) == 2
    for token in (phone.token, laptop.token):
        assert not (await sign_in.session(services, token)).signed_in
    third = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    idle = await sign_in.sign_in_with_code(services, await fresh(services), third.code, "10.5.0.3")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE identity.sessions SET last_seen_at = now() - interval '31 minutes'")
    assert not (await sign_in.session(services, idle.token)).signed_in


async def test_sign_in_attempts_are_limited_per_address(services: Services) -> None:
    for _ in range(sign_in.ATTEMPTS_PER_ADDRESS):
        with pytest.raises(SignInRefused):
            await sign_in.sign_in_with_link(services, await fresh(services), "guess", "10.6.0.1")
    with pytest.raises(TooManyAttempts) as limited:
        await sign_in.sign_in_with_link(services, await fresh(services), "guess", "10.6.0.1")
    assert str(limited.value) == TOO_MANY
    with pytest.raises(SignInRefused) as elsewhere:  # another address is not held up
        await sign_in.sign_in_with_link(services, await fresh(services), "guess", "10.6.0.2")
    assert not isinstance(elsewhere.value, TooManyAttempts)


async def test_nothing_secret_is_stored(services: Services, database_url: str) -> None:
    invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
    signed = await sign_in.sign_in_with_code(services, await fresh(services), invitation.code, "10.7.0.1")
    token = invitation.link.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        dump = "".join(
            str(row)
            for table in ("sign_in_tokens", "sessions")
            for row in conn.execute(f"SELECT * FROM identity.{table}").fetchall()
        )
    for secret in (token, invitation.code, invitation.code[5:], signed.token):
        assert secret not in dump


async def test_inviting_someone_who_is_not_in_the_engagement_says_so(services: Services) -> None:
    with pytest.raises(sign_in.NotFound) as missing:
        await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "zz9", email=False)
    assert str(missing.value).startswith("there is no person 'zz9' in engagement ident-1")


async def test_a_room_of_people_signing_in_from_one_address_is_not_locked_out(services: Services) -> None:
    """Only failures count against an address: a tenants' meeting on one venue's network signs everyone in."""
    room = sign_in.ATTEMPTS_PER_ADDRESS + 5
    for _ in range(room):
        invitation = await sign_in.invite(services, FACILITATOR, ENGAGEMENT, "u2", email=False)
        signed = await sign_in.sign_in_with_code(services, await fresh(services), invitation.code, "10.7.0.1")
        assert signed.signed_in
