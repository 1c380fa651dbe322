"""``coproduce notices``: what people were told, and whom to tell by hand.

``notices list ENG`` shows every notice of an engagement: who it was for (by id), what about, and
whether the mail server took it; ``--by-hand`` lists only the people who asked for no email or have no
address, for the facilitator to tell in person or by phone. ``notices prefer ENG PERSON email|digest|none``
records how someone wants to be told. ``notices deliver`` runs one delivery round now (workers run
them every few seconds by themselves).
"""

from __future__ import annotations

import typer

from application.notices import delivery
from application.notices.register import notices_of, set_preference

from .common import Commands, JsonOption, out, print_json, run, services

notices_app = typer.Typer(
    cls=Commands, help="What people were told, and whom to tell by hand.", no_args_is_help=True
)

_KIND = {
    "gate_opened": "a decision opened", "gate_vote": "reminder to decide", "gate_waiting": "decision still waiting",
    "gate_escalated": "decision escalated", "check_in": "time to check in", "training_renewal": "training to renew",
    "training_expired": "training ended", "paused": "engagement paused", "resumed": "engagement resumed",
    "milestone": "measurements due", "milestone_due": "milestone due",
}  # fmt: skip
_STATUS = {
    "pending": "waiting for the mail server", "sent": "taken by the mail server", "digest": "in tomorrow's digest",
    "by_hand": "to tell by hand", "stale": "not sent: too old when first seen", "forgotten": "not sent: forgotten",
}  # fmt: skip


@notices_app.command("list")
def list_notices(
    engagement_id: str = typer.Argument(..., help="The engagement."),
    by_hand: bool = typer.Option(
        False, "--by-hand", help="Only the people to tell by hand (a printable list)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Every notice of the engagement, oldest first, and what became of it."""
    rows = run(lambda: notices_of(services(), engagement_id, by_hand=by_hand), engagement_id)
    if as_json:
        print_json([vars(row) for row in rows])
        return
    if not rows:
        out.print("nobody needs telling by hand" if by_hand else "no notices yet")
        return
    for row in rows:
        about = f" ({row.reference})" if row.reference else ""
        status = _STATUS.get(row.status, row.status)
        tried = f", {row.attempts} attempt(s), last error {row.last_error}" if row.last_error else ""
        out.print(
            f"{row.occurred_at:%Y-%m-%d %H:%M}  {row.person_id:<10} {_KIND.get(row.kind, row.kind)}{about}: "
            f"{status}{tried}",
            highlight=False,
        )


@notices_app.command("prefer")
def prefer(
    engagement_id: str = typer.Argument(..., help="The engagement."),
    person_id: str = typer.Argument(..., help="The person, by id."),
    preference: str = typer.Argument(..., help="email, digest (one mail a day) or none (told by hand)."),
    as_json: bool = JsonOption,
) -> None:
    """Record how someone wants to be told (kept in the people register, not in the log)."""
    run(lambda: set_preference(services(), engagement_id, person_id, preference), engagement_id)
    if as_json:
        print_json({"engagement_id": engagement_id, "person_id": person_id, "preference": preference})
        return
    out.print(f"{person_id} will be told: {preference}")


@notices_app.command("deliver")
def deliver(as_json: bool = JsonOption) -> None:
    """Run one delivery round now: mail what is due, file what is to be told by hand."""
    done = run(lambda: delivery.deliver(services()))
    if as_json:
        print_json(vars(done))
        return
    out.print(
        f"sent {done.sent}, digests {done.digests}, to tell by hand {done.by_hand}, failed {done.failed}"
        + (f" ({', '.join(sorted(set(done.errors)))})" if done.errors else "")
    )
