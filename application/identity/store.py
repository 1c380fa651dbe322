"""The ``identity`` schema: accounts, memberships, one-time sign-in tokens, sessions, passkeys, attempts.

Plain SQL over a psycopg pool whose connections act as the writer role. Nothing secret is stored:
a link is kept as its SHA-256, a code's secret part salted with scrypt, a session id as its SHA-256.
Redeeming a link or a code is one conditional ``UPDATE ... RETURNING``, so of two requests racing with
the same secret exactly one wins.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from psycopg_pool import AsyncConnectionPool

Authentication = Literal["sign_in_link", "one_time_code", "passkey"]

# A code reads like ``K7QD-MX4P-9WTR``: the first group finds the row, the other two are the secret
# (40 bits; with at most ``CODE_GUESSES`` wrong guesses per code, guessing one is hopeless). Letters that
# look alike (0/O, 1/I/L) are left out, and typing is forgiving about case, spaces and dashes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GUESSES = 5
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def normalise_code(typed: str) -> str:
    """A code as typed (any case, spaces or dashes) in its canonical form, or '' when it cannot be one."""
    letters = "".join(ch for ch in typed.upper() if ch.isalnum())
    if len(letters) != 12 or any(ch not in CODE_ALPHABET for ch in letters):
        return ""
    return f"{letters[:4]}-{letters[4:8]}-{letters[8:]}"


@dataclass(frozen=True)
class SessionRow:
    account_id: uuid.UUID | None
    authentication: Authentication | None
    csrf_token: str
    challenge: bytes | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class IdentityStore:
    """The identity tables of one database."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    # -- accounts -----------------------------------------------------------------------------------
    async def account_for(self, engagement_id: str, person_id: str) -> uuid.UUID:
        """The account that is ``person_id`` in ``engagement_id``, made on first use."""
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "SELECT account_id FROM identity.memberships WHERE engagement_id = %s AND person_id = %s",
                    (engagement_id, person_id),
                )
            ).fetchone()
            if row is not None:
                return row[0]
            account_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO identity.accounts (account_id, user_handle) VALUES (%s, %s)",
                (account_id, os.urandom(64)),
            )
            await conn.execute(
                "INSERT INTO identity.memberships (engagement_id, person_id, account_id) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (engagement_id, person_id, account_id),
            )
            row = await (
                await conn.execute(
                    "SELECT account_id FROM identity.memberships WHERE engagement_id = %s AND person_id = %s",
                    (engagement_id, person_id),
                )
            ).fetchone()
        assert row is not None
        return row[0]

    async def join(self, account_id: uuid.UUID, engagement_id: str, person_id: str) -> None:
        """Make ``account_id`` also be ``person_id`` of ``engagement_id`` (the same human elsewhere)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO identity.memberships (engagement_id, person_id, account_id) VALUES (%s, %s, %s) "
                "ON CONFLICT (engagement_id, person_id) DO NOTHING",
                (engagement_id, person_id, account_id),
            )

    async def move_membership(self, engagement_id: str, person_id: str, account_id: uuid.UUID) -> None:
        """Make ``person_id`` of ``engagement_id`` belong to ``account_id`` from now on."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE identity.memberships SET account_id = %s WHERE engagement_id = %s AND person_id = %s",
                (account_id, engagement_id, person_id),
            )

    async def memberships(self, account_id: uuid.UUID) -> list[tuple[str, str]]:
        """``(engagement id, person id)`` of every engagement the account belongs to."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT engagement_id, person_id FROM identity.memberships WHERE account_id = %s "
                    "ORDER BY engagement_id",
                    (account_id,),
                )
            ).fetchall()
        return [(e, p) for e, p in rows]

    async def user_handle(self, account_id: uuid.UUID) -> bytes:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT user_handle FROM identity.accounts WHERE account_id = %s", (account_id,)
                )
            ).fetchone()
        assert row is not None
        return bytes(row[0])

    async def account_by_handle(self, user_handle: bytes) -> uuid.UUID | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT account_id FROM identity.accounts WHERE user_handle = %s", (user_handle,)
                )
            ).fetchone()
        return row[0] if row else None

    async def accounts_with_contact(self, contact: str) -> list[uuid.UUID]:
        """Accounts of people whose contact in the people register is ``contact`` (case-insensitive)."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT DISTINCT m.account_id FROM identity.memberships m "
                    "JOIN engagements.people_register r USING (engagement_id, person_id) "
                    "WHERE r.forgotten_at IS NULL AND lower(r.contact) = lower(%s)",
                    (contact.strip(),),
                )
            ).fetchall()
        return [r[0] for r in rows]

    # -- one-time links and codes -------------------------------------------------------------------
    async def issue_link(self, account_id: uuid.UUID, issued_by: str, lifetime: timedelta) -> str:
        """A new sign-in link token (256 bits) for the account; only its hash is kept."""
        token = secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO identity.sign_in_tokens (token_id, kind, account_id, issued_by, expires_at) "
                "VALUES (%s, 'link', %s, %s, now() + %s)",
                (_sha256(token).hex(), account_id, issued_by, lifetime),
            )
        return token

    async def redeem_link(self, token: str) -> uuid.UUID | None:
        """The account a valid, unused, unexpired link token belongs to, marking it used; else None."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE identity.sign_in_tokens SET used_at = now() WHERE token_id = %s AND kind = 'link' "
                    "AND used_at IS NULL AND expires_at > now() RETURNING account_id",
                    (_sha256(token).hex(),),
                )
            ).fetchone()
        return row[0] if row else None

    async def link_is_usable(self, token: str) -> bool:
        """Whether a link token could still be redeemed (for the page that asks to confirm: no change)."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT 1 FROM identity.sign_in_tokens WHERE token_id = %s AND kind = 'link' "
                    "AND used_at IS NULL AND expires_at > now()",
                    (_sha256(token).hex(),),
                )
            ).fetchone()
        return row is not None

    async def issue_code(self, account_id: uuid.UUID, issued_by: str, lifetime: timedelta) -> str:
        """A new one-time code ``XXXX-XXXX-XXXX`` for the account; its secret part kept salted (scrypt)."""
        letters = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
        code = f"{letters[:4]}-{letters[4:8]}-{letters[8:]}"
        salt = os.urandom(16)
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO identity.sign_in_tokens (token_id, kind, account_id, secret_hash, salt, issued_by, "
                "expires_at) VALUES (%s, 'code', %s, %s, %s, %s, now() + %s)",
                (code[:4], account_id, _scrypt(code[5:], salt), salt, issued_by, lifetime),
            )
        return code

    async def redeem_code(self, code: str) -> uuid.UUID | None:
        """The account a valid code belongs to, marking it used; else None (a wrong secret counts as a
        guess, and a code guessed wrongly ``CODE_GUESSES`` times is void)."""
        canonical = normalise_code(code)
        if not canonical:
            return None
        lookup, secret = canonical[:4], canonical[5:]
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "SELECT account_id, secret_hash, salt FROM identity.sign_in_tokens WHERE token_id = %s "
                    "AND kind = 'code' AND used_at IS NULL AND expires_at > now() AND wrong_guesses < %s FOR UPDATE",
                    (lookup, CODE_GUESSES),
                )
            ).fetchone()
            if row is None:
                return None
            account_id, stored, salt = row
            if not hmac.compare_digest(_scrypt(secret, bytes(salt)), bytes(stored)):
                await conn.execute(
                    "UPDATE identity.sign_in_tokens SET wrong_guesses = wrong_guesses + 1 WHERE token_id = %s",
                    (lookup,),
                )
                return None
            await conn.execute(
                "UPDATE identity.sign_in_tokens SET used_at = now() WHERE token_id = %s", (lookup,)
            )
        return account_id

    # -- sessions -----------------------------------------------------------------------------------
    async def new_session(
        self,
        account_id: uuid.UUID | None,
        authentication: Authentication | None,
        lifetime: timedelta,
    ) -> tuple[str, str]:
        """A new session; returns its id (for the cookie; only its hash is kept) and its CSRF token."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO identity.sessions (session_hash, account_id, authentication, csrf_token, expires_at) "
                "VALUES (%s, %s, %s, %s, now() + %s)",
                (_sha256(token), account_id, authentication, csrf, lifetime),
            )
        return token, csrf

    async def session(self, token: str, idle: timedelta) -> SessionRow | None:
        """The live session with this id (not ended, not past its absolute or idle expiry), touched."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE identity.sessions SET last_seen_at = now() WHERE session_hash = %s AND ended_at IS NULL "
                    "AND expires_at > now() AND last_seen_at > now() - %s "
                    "RETURNING account_id, authentication, csrf_token, challenge, created_at, last_seen_at, expires_at",
                    (_sha256(token), idle),
                )
            ).fetchone()
        return SessionRow(*row) if row else None

    async def end_session(self, token: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE identity.sessions SET ended_at = now() WHERE session_hash = %s AND ended_at IS NULL",
                (_sha256(token),),
            )

    async def end_sessions_of(self, account_id: uuid.UUID) -> int:
        """End every session of the account (sign out everywhere); how many were live."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE identity.sessions SET ended_at = now() WHERE account_id = %s AND ended_at IS NULL",
                (account_id,),
            )
            return cur.rowcount

    async def set_challenge(self, token: str, challenge: bytes | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE identity.sessions SET challenge = %s WHERE session_hash = %s",
                (challenge, _sha256(token)),
            )

    # -- passkeys -----------------------------------------------------------------------------------
    async def add_passkey(
        self, account_id: uuid.UUID, credential_id: bytes, public_key: bytes, sign_count: int
    ) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO identity.passkeys (credential_id, account_id, public_key, sign_count) "
                "VALUES (%s, %s, %s, %s)",
                (credential_id, account_id, public_key, sign_count),
            )

    async def passkeys_of(self, account_id: uuid.UUID) -> list[bytes]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT credential_id FROM identity.passkeys WHERE account_id = %s", (account_id,)
                )
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    async def passkey(self, credential_id: bytes) -> tuple[uuid.UUID, bytes, int] | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT account_id, public_key, sign_count FROM identity.passkeys WHERE credential_id = %s",
                    (credential_id,),
                )
            ).fetchone()
        return (row[0], bytes(row[1]), int(row[2])) if row else None

    async def passkey_used(self, credential_id: bytes, sign_count: int) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE identity.passkeys SET sign_count = %s, last_used_at = now() WHERE credential_id = %s",
                (sign_count, credential_id),
            )

    # -- attempts -----------------------------------------------------------------------------------
    async def attempts_since(self, scope: str, window: timedelta) -> int:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) FROM identity.attempts WHERE scope = %s AND at > now() - %s",
                    (scope, window),
                )
            ).fetchone()
        return int(row[0]) if row else 0

    async def record_attempt(self, scope: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("INSERT INTO identity.attempts (scope) VALUES (%s)", (scope,))
            await conn.execute("DELETE FROM identity.attempts WHERE at < now() - interval '1 day'")
