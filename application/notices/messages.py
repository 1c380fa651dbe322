"""What a notice says: a subject and a few plain sentences, with a link to the page that needs the person.

Pure functions over what ``delivery`` looks up (the engagement's titles and dates, the person's name,
the sign-in link); the same words go in the plain text and in the HTML alternative. Nothing here is
sent or logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

KINDS = (
    "gate_opened", "gate_vote", "gate_waiting", "gate_escalated", "check_in", "training_renewal",
    "training_expired", "paused", "resumed", "milestone", "milestone_due",
)  # fmt: skip


@dataclass(frozen=True)
class About:
    """What a notice is about, in words the person knows."""

    kind: str
    engagement_title: str
    subject_title: str | None = None  # the phase, training module or milestone, by its title
    by: datetime | None = None  # a date that matters: the gate escalates, the training lapses


@dataclass(frozen=True)
class Written:
    subject: str
    lines: tuple[str, ...]
    action: str  # the words on the link


def _day(moment: datetime | None) -> str:
    return f"{moment:%A %-d %B %Y}" if moment else ""


def written(about: About) -> Written:
    """The subject, sentences and link words of one notice."""
    e, what, by = about.engagement_title, about.subject_title or "", _day(about.by)
    match about.kind:
        case "gate_opened":
            return Written(
                f"A decision is open: {what}",
                (f"The decision '{what}' in {e} is open, and your say counts.",
                 *((f"Please decide by {by}.",) if by else ())),
                "Read the proposal and decide",
            )  # fmt: skip
        case "gate_vote" | "gate_waiting":
            return Written(
                f"Reminder: your decision on {what} is still needed",
                (f"The decision '{what}' in {e} is still waiting for your say.",
                 *((f"If it is still undecided on {by}, the facilitators will be asked to step in.",) if by else ())),
                "Decide now",
            )  # fmt: skip
        case "gate_escalated":
            return Written(
                f"A decision has waited too long: {what}",
                (f"The decision '{what}' in {e} has gone past the time the plan allows without being made.",
                 "Please look at what it is waiting for."),
                "See what it waits for",
            )  # fmt: skip
        case "check_in":
            return Written(
                "How comfortable are you with the pace of change?",
                (f"It is time to check in on {e}: tell us how comfortable you are with how fast things are "
                 "changing. It takes a minute, and it can slow things down if people are uneasy.",),
                "Check in",
            )  # fmt: skip
        case "training_renewal":
            return Written(
                f"Your training '{what}' needs renewing by {by}",
                (f"Your training '{what}' for {e} ends on {by}. After that your decisions will not count "
                 "until you renew it.", "Ask your facilitator about the next session."),
                "See your training",
            )  # fmt: skip
        case "training_expired":
            return Written(
                f"Your training '{what}' has ended",
                (f"Your training '{what}' for {e} has ended, so your decisions will not count until you "
                 "renew it.", "Ask your facilitator about the next session."),
                "See your training",
            )  # fmt: skip
        case "paused":
            return Written(
                f"{e} is paused",
                (f"{e} has been paused. Nothing will be decided until it resumes; we will tell you when.",),
                "See your page",
            )  # fmt: skip
        case "resumed":
            return Written(
                f"{e} has resumed",
                (f"{e} has resumed after a pause.",),
                "See what is waiting for you",
            )  # fmt: skip
        case "milestone" | "milestone_due":
            return Written(
                f"Measurements are due: {what}",
                (f"The milestone '{what}' in {e} is due: please record its measurements.",),
                "Open the engagement",
            )  # fmt: skip
    raise ValueError(f"no words for a notice of kind {about.kind!r}")


def body(greeting: str, items: list[tuple[Written, str]], stop_url: str | None) -> tuple[str, str]:
    """Plain text and HTML of a mail holding ``items`` (one, or a day's digest): (words, link) pairs."""
    text = [f"Hello {greeting},", ""]
    html = [f"<p>Hello {escape(greeting)},</p>"]
    for words, link in items:
        text.extend([*words.lines, f"{words.action}: {link}", ""])
        html.append("".join(f"<p>{escape(line)}</p>" for line in words.lines))
        html.append(f'<p><a href="{escape(link, quote=True)}">{escape(words.action)}</a></p>')
    text.append("Each link signs you in once and works for 7 days.")
    html.append("<p>Each link signs you in once and works for 7 days.</p>")
    if stop_url:
        text.append(f"To stop these emails: {stop_url}")
        html.append(f'<p><a href="{escape(stop_url, quote=True)}">Stop these emails</a></p>')
    return "\n".join(text) + "\n", "".join(html)
