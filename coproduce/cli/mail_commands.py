"""``coproduce mail``: the mail the embedded stack's own mail server kept (invitations, sign-in links),
for a machine with no real mail server set up. With COPRODUCE_SMTP_URL set, mail goes there instead."""

from __future__ import annotations

import typer

from workers.mailbox import read_mail
from workers.running import StackPaths

from .common import JsonOption, fail, out, print_json, settings


def mail(
    number: int = typer.Argument(None, help="Show this message (its number in the list), whole."),
    as_json: bool = JsonOption,
) -> None:
    """List the mail kept by `coproduce up`'s mail server, newest last; with a number, show that message."""
    messages = read_mail(StackPaths(settings().state_dir).mail)
    rows = [
        {"number": n, "date": str(m["Date"]), "to": str(m["To"]), "subject": str(m["Subject"])}
        for n, (_, m) in enumerate(messages, 1)
    ]
    if number is None:
        if as_json:
            print_json(rows)
        elif not rows:
            out.print(
                "no mail yet (invitations and sign-in links land here when no COPRODUCE_SMTP_URL is set)"
            )
        else:
            for row in rows:
                out.print(
                    f"{row['number']:>3}  {row['date']}  to {row['to']}: {row['subject']}", highlight=False
                )
        return
    if not 1 <= number <= len(messages):
        fail(f"there is no message {number}; `coproduce mail` lists {len(messages)}")
    message = messages[number - 1][1]
    plain = next((part for part in message.walk() if part.get_content_type() == "text/plain"), message)
    text = (plain.get_payload(decode=True) or b"").decode(plain.get_content_charset() or "utf-8", "replace")
    if as_json:
        print_json({**rows[number - 1], "text": text})
        return
    out.print(
        f"Date: {message['Date']}\nTo: {message['To']}\nSubject: {message['Subject']}\n", highlight=False
    )
    out.print(text, highlight=False, markup=False)
