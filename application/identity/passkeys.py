"""Passkeys (WebAuthn) with user verification: a returning person signs in with their phone's lock.

Registering needs a session signed in some other way (a link or a code); signing in with a passkey
needs none. Each ceremony's challenge is kept in the browser's server-side session until it is used,
and used once. User verification is required on both sides (the authenticator checks a PIN, a
fingerprint or a face), which is what makes a passkey sign-in two factors: the device and its lock.
The relying party is the web app's host, and the origin its public address (``Services.web_url``);
browsers allow passkeys only on https, or on http at ``localhost``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..services import Services
from .sign_in import (
    ATTEMPTS_PER_ADDRESS,
    SESSION_IDLE,
    Session,
    SignInRefused,
    count_attempt,
    limit_attempts,
    signed_in_session,
    store_of,
)

RP_NAME = "coproduce"
PASSKEY_REFUSED = (
    "That passkey could not be used here. Sign in with your link or code instead, then add it again."
)


def _relying_party(services: Services) -> tuple[str, str]:
    parts = urlsplit(services.web_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return parts.hostname or "localhost", origin


async def registration_options(services: Services, current: Session, label: str) -> str:
    """The options (JSON) for the browser to create a passkey for the signed-in person."""
    if current.account_id is None:
        raise SignInRefused("Sign in first, with your link or code, to add a passkey.")
    rp_id, _ = _relying_party(services)
    async with store_of(services) as store:
        handle = await store.user_handle(current.account_id)
        existing = await store.passkeys_of(current.account_id)
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=RP_NAME,
            user_name=label,
            user_id=handle,
            user_display_name=label,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
        )
        await store.set_challenge(current.token, options.challenge)
    return options_to_json(options)


async def register(services: Services, current: Session, credential: str | dict[str, Any]) -> None:
    """Verify the browser's new passkey against the session's challenge and keep its public key."""
    if current.account_id is None:
        raise SignInRefused("Sign in first, with your link or code, to add a passkey.")
    rp_id, origin = _relying_party(services)
    async with store_of(services) as store:
        row = await store.session(current.token, idle=SESSION_IDLE)
        challenge = row.challenge if row else None
        await store.set_challenge(current.token, None)
        if challenge is None:
            raise SignInRefused(PASSKEY_REFUSED)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=bytes(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
                require_user_verification=True,
            )
        except InvalidRegistrationResponse:
            raise SignInRefused(PASSKEY_REFUSED) from None
        await store.add_passkey(
            current.account_id, verified.credential_id, verified.credential_public_key, verified.sign_count
        )


async def authentication_options(services: Services, current: Session) -> str:
    """The options (JSON) for the browser to sign in with any passkey it holds for this site."""
    rp_id, _ = _relying_party(services)
    options = generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.REQUIRED
    )
    async with store_of(services) as store:
        await store.set_challenge(current.token, options.challenge)
    return options_to_json(options)


async def sign_in_with_passkey(
    services: Services, current: Session, credential: str | dict[str, Any], address: str
) -> Session:
    """Verify the browser's assertion against the session's challenge; a new session when it holds."""
    rp_id, origin = _relying_party(services)
    parsed = json.loads(credential) if isinstance(credential, str) else credential
    async with store_of(services) as store:
        await limit_attempts(store, (f"address:{address}", ATTEMPTS_PER_ADDRESS))
        row = await store.session(current.token, idle=SESSION_IDLE)
        challenge = row.challenge if row else None
        await store.set_challenge(current.token, None)
        try:
            found = await store.passkey(base64url_to_bytes(str(parsed.get("rawId") or parsed.get("id"))))
        except (ValueError, TypeError):
            found = None
        if challenge is None or found is None:
            await count_attempt(store, (f"address:{address}", ATTEMPTS_PER_ADDRESS))
            raise SignInRefused(PASSKEY_REFUSED)
        account_id, public_key, sign_count = found
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=bytes(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=public_key,
                credential_current_sign_count=sign_count,
                require_user_verification=True,
            )
        except InvalidAuthenticationResponse:
            await count_attempt(store, (f"address:{address}", ATTEMPTS_PER_ADDRESS))
            raise SignInRefused(PASSKEY_REFUSED) from None
        await store.passkey_used(verified.credential_id, verified.new_sign_count)
        return await signed_in_session(store, current, account_id, "passkey")
