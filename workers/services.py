"""The application's ``Services`` for this installation's settings: what every entrance starts from.

The command line and the web app build one from ``Settings`` (``COPRODUCE_*``): Temporal through
``workers.temporal.connect`` (TLS, API key, payload encryption), the log's PostgreSQL from
``COPRODUCE_DATABASE_URL`` or the running stack (never starting a server by itself), and the master keys
from their settings or key files.
"""

from __future__ import annotations

from application.services import Services

from .database import database_url
from .keys import (
    checkpoint_signer,
    master_key,
    previous_master_keys,
    trusted_writer_verifiers,
    writer_signer,
)
from .running import running_stack
from .settings import Settings
from .temporal import connect


def services_from_settings(settings: Settings) -> Services:
    """Services for the installation ``settings`` describes; nothing is connected yet. The web address
    and the mail server are the settings', else the running stack's (``coproduce up``)."""
    stack = running_stack(settings) if not (settings.web_url and settings.smtp_url) else None
    return Services(
        connect_temporal=lambda: connect(settings),
        database_url=lambda: database_url(settings, start_embedded=False),
        load_master_key=lambda create: master_key(settings, create=create),
        load_previous_master_keys=lambda: previous_master_keys(settings),
        load_writer_key=lambda: writer_signer(settings),
        load_writer_verifiers=lambda: trusted_writer_verifiers(settings),
        load_checkpoint_public_key=lambda: _checkpoint_public_key(settings),
        task_queue=settings.task_queue,
        web_url=settings.web_url
        or (stack.web_url if stack and stack.web_url else f"http://{settings.web_bind}"),
        smtp_url=settings.smtp_url or (stack.smtp_url if stack and stack.smtp_url else None),
        mail_from=settings.mail_from,
    )


def _checkpoint_public_key(settings: Settings) -> str | None:
    """The public half of this installation's checkpoint key, where this machine has the key."""
    signer = checkpoint_signer(settings, create=False)
    return signer.verifier.key_string() if signer else None
