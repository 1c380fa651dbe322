"""Email: plain text with an HTML alternative, sent over SMTP.

The server comes from one URL (``COPRODUCE_SMTP_URL``):

- ``smtp://host:port``: plain SMTP, upgraded with STARTTLS when the server offers it (a local relay);
- ``smtp+starttls://user:password@host:587``: STARTTLS required, never sent in clear;
- ``smtps://user:password@host:465``: TLS from the first byte.

The Message-ID is chosen by the caller from what the mail is about, so a mail sent again after a fault
carries the same id and a mailbox can tell it is the same mail. Nothing here logs a message's body or
its recipient: sign-in links are secrets, addresses are personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from .errors import UserError


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None  # None: if offered; True: required

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        schemes = {
            "smtp": (False, None, 25),
            "smtp+starttls": (False, True, 587),
            "smtps": (True, False, 465),
        }
        if parts.scheme not in schemes or not parts.hostname:
            raise UserError(
                "COPRODUCE_SMTP_URL must look like smtp://host:port, smtp+starttls://user:password@host:587 "
                "or smtps://user:password@host:465"
            )
        use_tls, start_tls, default_port = schemes[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
        )


def compose(
    *, sender: str, to: str, subject: str, text: str, html: str | None, message_id: str, domain: str
) -> EmailMessage:
    """A mail in plain text (and HTML as an alternative) with the given id (``<id@domain>``)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{message_id}@{domain}>" if message_id else make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to it, please
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(server: SmtpServer, message: EmailMessage, timeout: float = 30) -> None:
    """Hand the message to the SMTP server; raises when it does not take it."""
    await aiosmtplib.send(
        message,
        hostname=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        use_tls=server.use_tls,
        start_tls=server.start_tls,
        timeout=timeout,
    )
