"""``coproduce people ...``: who takes part, their copy of what is held, and forgetting someone.

Forgetting is ``application.people.forget``: the person's name and data key are destroyed, so their
sealed text can never be read again, and who asked and why is recorded in the log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from application import people, retention, subject_access
from application.identity import sign_in
from application.identity.cards import save_card
from domain.people import Person
from workflows import messages as m

from .common import (
    Commands,
    JsonOption,
    UpdateIdOption,
    acting,
    build,
    fail,
    operator,
    out,
    print_json,
    report_update,
    run,
    services,
)
from .engagement_commands import As, ForReason, send

people_app = typer.Typer(
    cls=Commands, help="The people of an engagement, forgetting someone, and retention.", no_args_is_help=True
)


@people_app.command("list")
def list_people(
    engagement_id: str = typer.Argument(..., help="The engagement's id."), as_json: bool = JsonOption
) -> None:
    """The people of an engagement: id, name (from the register), constituency, and who was forgotten."""

    rows = [vars(row) for row in run(lambda: people.list_people(services(), engagement_id), engagement_id)]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"People of {engagement_id}", title_justify="left")
    for column in ("id", "name", "constituency", "forgotten"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["person_id"], row["name"] or "", row["constituency"], row["forgotten"] or "")
    out.print(table)


@people_app.command("add")
def add(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="Their id (opaque, like t15; never built from a name)."),
    name: str = typer.Option(..., "--name", help="Their name (kept in the people register, not the log)."),
    constituency: str = typer.Option(
        ..., "--constituency", help="service_user, carer, staff, decision_maker, partner or facilitator."
    ),
    roles: list[str] = typer.Option([], "--role", help="A role of the plan they hold (once for each)."),
    cohort: str = typer.Option("initial", "--cohort", help="initial, or wider (once the cohort widens)."),
    contact: str = typer.Option(None, "--contact", help="An email address, for invitations and reminders."),
    by: str = typer.Option(..., "--as", help="The facilitator adding them."),
    update_id: str = UpdateIdOption,
    for_reason: str = ForReason,
    as_json: bool = JsonOption,
) -> None:
    """Add someone to a running engagement: the record gets their id, constituency, roles and cohort;
    their name and contact go to the people register."""
    person = build(
        Person, id=person_id, display_name=name, contact=contact, constituency=constituency, roles=tuple(roles),
        cohort=cohort,
    )  # fmt: skip
    result = run(
        lambda: people.add(
            services(), operator(for_reason), engagement_id, person, by=by, update_id=update_id
        ),
        engagement_id,
    )
    report_update(result, as_json)


@people_app.command("export")
def export(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="The person whose data it is."),
    out_file: Path = typer.Option(None, "--out", help="Write the copy as a readable HTML page to this file."),
    as_json: bool = JsonOption,
) -> None:
    """Everything held about a person in an engagement, opened, with where each item is stored: the
    answer to a subject access request (JSON with --json, a readable page with --out)."""
    found = run(lambda: subject_access.subject_access(services(), engagement_id, person_id), engagement_id)
    if out_file is not None:
        try:
            out_file.write_text(subject_access.subject_access_html(found), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {out_file} ({exc.strerror}); choose a file in a folder you may write to")
    if as_json:
        print_json(found.as_json())
        return
    out.print(
        f"{person_id} in {engagement_id}: {len(found.register)} item(s) in the people register, "
        f"{len(found.events)} entries in the record, {len(found.sign_in)} sign-in record(s)"
        + (f"; written to {out_file}" if out_file else "; --out FILE writes them as a page, --json as JSON"),
        highlight=False,
    )


@people_app.command("forget")
def forget(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="The id of the person to forget."),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. the erasure request and its date)."),
    by: str = typer.Option(..., "--as", help="Who asks: the id of a person of the engagement (an operator)."),
    everywhere: bool = typer.Option(
        False,
        "--everywhere",
        help="Also in every other engagement the same human takes part in (linked with `people same`).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Forget a person: destroy their name and data key, so their text is erased for good, and record
    who asked and why. Decisions and counts stay as they were; the log still verifies. With
    --everywhere, in every engagement they take part in, in one step."""

    def forgetting() -> Any:
        if everywhere:
            return people.forget_everywhere(services(), acting(by), engagement_id, person_id, reason)
        return people.forget(services(), acting(by), engagement_id, person_id, reason)

    found = run(forgetting, engagement_id)
    done = found if isinstance(found, list) else [found]
    if as_json:
        rows = [{**vars(d), "forgotten_at": d.forgotten_at.isoformat()} for d in done]
        print_json(rows if everywhere else rows[0])
        return
    for d in done:
        out.print(
            f"forgot {d.person_id} of {d.engagement_id}: their name and data key are destroyed, "
            f"their text in the log can no longer be read, and they are shown as {d.shown_as}"
            + ("" if d.newly or d.position is not None else " (forgotten already)"),
            highlight=False,
        )


@people_app.command("same")
def same(
    engagement_id: str = typer.Argument(..., help="An engagement the person is in."),
    person_id: str = typer.Argument(..., help="Their id there."),
    other_engagement: str = typer.Argument(..., help="Another engagement the same human is in."),
    other_person: str = typer.Argument(..., help="Their id in that one."),
    as_json: bool = JsonOption,
) -> None:
    """Say two people of two engagements are the same human, so they sign in once and see both (a
    facilitator's portfolio, a tenant on two boards). Their sessions in the second one end."""
    ended = run(
        lambda: sign_in.same_person(
            services(), operator(), (engagement_id, person_id), (other_engagement, other_person)
        ),
        engagement_id,
    )
    if as_json:
        print_json(
            {
                "linked": [[engagement_id, person_id], [other_engagement, other_person]],
                "sessions_ended": ended,
            }
        )
        return
    out.print(
        f"{person_id} of {engagement_id} and {other_person} of {other_engagement} now sign in as one",
        highlight=False,
    )


@people_app.command("invite")
def invite(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="The id of the person to invite."),
    email: bool = typer.Option(
        True, "--email/--no-email", help="Email the sign-in link when the register holds an email address."
    ),
    card: Path = typer.Option(
        None, "--print", help="Also write a card to print and hand over: a .pdf or .png file (a new file)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Invite a person to sign in on the web: a link by email, and a one-time code (on a printed card
    for people without email). Both work once, within 7 days; keep the card safe until it is handed over."""

    async def body() -> tuple[sign_in.Invitation, str | None]:
        current = services()
        invitation = await sign_in.invite(current, operator(), engagement_id, person_id, email=email)
        name = None
        if card is not None:
            async with current.register() as register:
                name = (await register.names(engagement_id)).get(person_id)
            save_card(invitation, name, f"{current.web_url.rstrip('/')}/sign-in", card)
        return invitation, name

    invitation, _ = run(body, engagement_id)
    if as_json:
        print_json({**vars(invitation), "card": str(card) if card else None})
        return
    if invitation.emailed_to:
        out.print(f"emailed a sign-in link to {person_id} of {engagement_id}", highlight=False)
    out.print(
        f"sign-in code for {person_id}: {invitation.code} (works once, within {invitation.expires_in_days} days)",
        highlight=False,
    )
    out.print(f"sign-in link: {invitation.link}", highlight=False, soft_wrap=True)
    if card is not None:
        out.print(f"card to print: {card}", highlight=False)


@people_app.command("basis")
def basis(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="Whose data."),
    lawful_basis: str = typer.Option(
        ...,
        "--basis",
        help="consent, contract, legal_obligation, vital_interests, public_task or legitimate_interests.",
    ),
    by: str = As,
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record the lawful basis on which a person's data is processed (UK GDPR Article 6)."""
    msg = build(m.RecordLawfulBasis, by=by, person_id=person_id, basis=lawful_basis)
    send(engagement_id, msg, update_id, as_json, None)


@people_app.command("withdraw")
def withdraw(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="Who withdrew their consent."),
    by: str = As,
    for_reason: str = ForReason,
    update_id: str = UpdateIdOption,
    as_json: bool = JsonOption,
) -> None:
    """Record that a person withdrew their consent: nothing more is asked of them or recorded from them
    (what they gave stays; `people forget` erases it)."""
    send(engagement_id, build(m.WithdrawConsent, by=by, person_id=person_id), update_id, as_json, for_reason)


@people_app.command("stay")
def stay(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    person_id: str = typer.Argument(..., help="Who opts to stay (or withdraws that choice)."),
    by: str = typer.Option(..., "--as", help="The person themself, or a facilitator recording it for them."),
    withdraw: bool = typer.Option(
        False,
        "--withdraw",
        help="They no longer opt to stay: the retention rule forgets them when it falls due.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Record that a person opts to stay: the plan's retention rule will not forget them when it falls
    due (they may still ask to be forgotten at any time). Works after the engagement has completed.
    With --withdraw, record that they no longer opt to stay."""
    if withdraw:
        gone = run(
            lambda: retention.withdraw_stay(services(), acting(by), engagement_id, person_id), engagement_id
        )
        if as_json:
            print_json({
                "engagement_id": engagement_id, "person_id": person_id,
                "withdrawn_at": gone.withdrawn_at.isoformat() if gone.withdrawn_at else None,
                "retention": gone.rule.model_dump() if gone.rule else None,
                "due_at": gone.due_at.isoformat() if gone.due_at else None,
            })  # fmt: skip
            return
        if gone.withdrawn_at is None:
            out.print(
                f"{person_id} of {engagement_id} had not opted to stay; nothing was recorded", highlight=False
            )
            return
        when = (
            "the plan has no retention rule, so they are forgotten only on request"
            if gone.rule is None
            else f"the rule ({gone.rule.described()}) forgets them "
            + (f"on {gone.due_at:%Y-%m-%d}" if gone.due_at else "once it falls due")
        )
        out.print(f"{person_id} of {engagement_id} no longer opts to stay: {when}", highlight=False)
        return
    done = run(lambda: retention.stay(services(), acting(by), engagement_id, person_id), engagement_id)
    if as_json:
        print_json({
            "engagement_id": done.engagement_id, "person_id": done.person_id,
            "stayed_at": done.stayed_at.isoformat(), "newly": done.newly,
            "retention": done.rule.model_dump() if done.rule else None,
        })  # fmt: skip
        return
    rule = (
        f"the rule ({done.rule.described()}) will not forget them"
        if done.rule
        else ("the plan has no retention rule, so nothing would forget them anyway")
    )
    already = "" if done.newly else " (recorded already)"
    out.print(f"{person_id} of {engagement_id} stays{already}: {rule}", highlight=False)


@people_app.command("retention")
def retention_status(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    apply: bool = typer.Option(
        False, "--apply", help="Apply the rule now if it has fallen due (the workflow does it by itself)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """When the plan's retention rule forgets this engagement's participants, who it will forget, who
    opted to stay, and what it did once applied (a workflow applies it by itself when it falls due).
    With --apply, apply it now if it is due: safe to repeat, it forgets nobody twice."""
    if apply:
        report = run(
            lambda: retention.apply_retention(services(), engagement_id, datetime.now(UTC)), engagement_id
        )
        if report.applied is None:
            why = (
                f"it falls due on {report.due_at:%Y-%m-%d}"
                if report.due_at
                else "the plan has no retention rule, or the engagement has not completed"
            )
            if as_json:
                print_json({"engagement_id": engagement_id, "applied": None,
                            "due_at": report.due_at.isoformat() if report.due_at else None})  # fmt: skip
                return
            out.print(f"{engagement_id}: nothing to apply yet: {why}", highlight=False)
            return
    view = run(lambda: retention.retention_view(services(), engagement_id), engagement_id)
    if as_json:
        print_json({
            "engagement_id": engagement_id,
            "retention": view.rule.model_dump() if view.rule else None,
            "completed_at": view.completed_at.isoformat() if view.completed_at else None,
            "due_at": view.due_at.isoformat() if view.due_at else None,
            "to_forget": list(view.to_forget),
            "stayed": {p: at.isoformat() for p, at in view.stayed.items()},
            "forgotten_already": list(view.forgotten),
            "applied": view.applied.model_dump(mode="json") if view.applied else None,
        })  # fmt: skip
        return
    if view.rule is None:
        out.print(f"{engagement_id}: the plan has no retention rule; people are forgotten only on request")
        return
    out.print(f"{engagement_id}: {view.rule.described()}.", highlight=False)
    if view.applied is not None:
        a = view.applied
        out.print(
            f"Applied on {a.occurred_at:%Y-%m-%d} (due {a.due_at:%Y-%m-%d}): forgot "
            f"{', '.join(a.forgotten) or 'nobody'}; stayed: {', '.join(a.stayed) or 'nobody'}; "
            f"forgotten before on request: {', '.join(a.forgotten_before) or 'nobody'}.",
            highlight=False,
        )
        return
    when = f"on {view.due_at:%Y-%m-%d}" if view.due_at else "once the engagement completes (not yet)"
    out.print(f"Falls due {when}; it will forget {', '.join(view.to_forget) or 'nobody'}.", highlight=False)
    if view.stayed:
        out.print(f"Opted to stay: {', '.join(view.stayed)}.", highlight=False)
