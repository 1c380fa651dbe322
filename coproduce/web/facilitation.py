"""The facilitator's pages: every engagement they run on one page (``/portfolio``), and one engagement's
page with its timeline, charts and the forms for what would otherwise need the command line.

Each handler reads the request, calls one use case of ``application.facilitation`` and renders a
template. Who acts is the session's facilitator in the engagement named in the address; a form that
carries anything but its own fields (a ``person_id`` or ``by``, say) is refused (400). A form that is
wrong is shown again with an error summary and the message beside the field (400), nothing recorded;
one that is right is recorded and the page is shown again by a redirect, with a banner saying so
(Post/Redirect/Get), except an invitation, whose code is shown once, on the answer to the POST itself.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from application import facilitation
from application.errors import NotFound, sentence

if TYPE_CHECKING:
    from .app import WebApp

FILTER_FIELDS = ("organisation", "facilitator")
INVITE_FIELDS = frozenset({"person", "key"})
CHECK_IN_FIELDS = frozenset({"person", "comfort", "note", "for_reason", "key"})
SESSION_FIELDS = frozenset({"activity_type", "attendees", "minutes", "notes", "key"})
PAUSE_FIELDS = frozenset({"reason", "key"})
MAX_TEXT = 5_000
MAX_MINUTES = 24 * 60
DONE = {
    "check-in": "The check-in is recorded.",
    "session": "The session is recorded.",
    "paused": "The engagement is paused: no gate opens and no reminder goes out until it is resumed.",
    "resumed": "The engagement is resumed.",
}
_KEY = re.compile(r"[0-9a-f]{32}")


class FacilitatorPages:
    """The facilitator's pages, rendered by ``web``."""

    def __init__(self, web: WebApp) -> None:
        self.web = web
        self.services = web.services

    # -- the portfolio ---------------------------------------------------------------------------------
    async def portfolio(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        chosen = {name: request.query_params.get(name, "").strip()[:200] for name in FILTER_FIELDS}
        shown = await facilitation.portfolio_page(
            self.services, current, datetime.now(UTC),
            organisation=chosen["organisation"] or None, facilitator=chosen["facilitator"] or None,
        )  # fmt: skip
        return self.web.page(request, "portfolio.html", portfolio=shown)

    # -- one engagement --------------------------------------------------------------------------------
    async def engagement(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        shown = await facilitation.engagement_page(self.services, current, request.path_params["engagement"])
        done = DONE.get(request.query_params.get("done", ""))
        return self._page(request, shown, done=done)

    def _page(
        self, request: Request, shown: facilitation.EngagementPage, status: int = 200, **context: Any
    ) -> Response:
        context.setdefault("done", None)
        context.setdefault("invitation", None)
        context.setdefault("errors", {})
        context.setdefault("values", {})
        context.setdefault("form", None)
        return self.web.page(
            request, "engagement.html", status, page=shown, key=secrets.token_hex(16), **context
        )

    def _refused(
        self, request: Request, shown: facilitation.EngagementPage, form: str, errors: dict[str, str],
        values: dict[str, Any],
    ) -> Response:  # fmt: skip
        return self._page(request, shown, 400, form=form, errors=errors, values=values)

    async def _recorded(
        self, request: Request, shown: facilitation.EngagementPage, form: str, field: str,
        values: dict[str, Any], send: Any,
    ) -> Response | None:  # fmt: skip
        """``send()``; None once recorded, else the page again with the engagement's sentence at ``field``."""
        try:
            await send()
        except NotFound:
            raise
        except Exception as exc:
            said = sentence(exc, shown.place.engagement_id)
            if said is None:
                raise
            return self._refused(request, shown, form, {field: _capital(said)}, values)
        return None

    async def invite(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        form = await self.web.form(request, INVITE_FIELDS)
        engagement_id = request.path_params["engagement"]
        shown = await facilitation.engagement_page(self.services, current, engagement_id)
        values = {"person": str(form.get("person", ""))}
        if values["person"] not in {p.person_id for p in shown.people}:
            return self._refused(request, shown, "invite", {"invite-person": "Choose who to invite."}, values)
        invitation = None

        async def send() -> None:
            nonlocal invitation
            invitation = await facilitation.invite_person(
                self.services, current, engagement_id, values["person"]
            )

        refused = await self._recorded(request, shown, "invite", "invite-person", values, send)
        return refused or self._page(request, shown, invitation=invitation)

    async def check_in(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        form = await self.web.form(request, CHECK_IN_FIELDS)
        engagement_id = request.path_params["engagement"]
        shown = await facilitation.engagement_page(self.services, current, engagement_id)
        values = {name: str(form.get(name, "")).strip() for name in CHECK_IN_FIELDS}
        errors = {}
        if values["person"] not in {p.person_id for p in shown.taking_part}:
            errors["checkin-person"] = "Choose who is checking in."
        if values["comfort"] not in {str(point) for point, _ in shown.comfort_scale}:
            errors["checkin-comfort"] = "Choose how comfortable they are with the pace."
        if len(values["note"]) > MAX_TEXT:
            errors["checkin-note"] = (
                f"The note is {len(values['note']):,} characters long; keep it under {MAX_TEXT:,}."
            )
        someone_else = values["person"] != shown.place.person_id
        if someone_else and not values["for_reason"]:
            errors["checkin-for-reason"] = (
                "Say why you are entering this for them, like 'by phone, with them'."
            )
        elif len(values["for_reason"]) > MAX_TEXT:
            errors["checkin-for-reason"] = f"Keep the reason under {MAX_TEXT:,} characters."
        if errors:
            return self._refused(request, shown, "check-in", errors, values)
        refused = await self._recorded(
            request, shown, "check-in", "checkin-person", values,
            lambda: facilitation.record_check_in(
                self.services, current, engagement_id, values["person"], int(values["comfort"]),
                values["note"] or None, values["for_reason"] if someone_else else None,
                update_id=_update_id("check-in", values["key"]),
            ),
        )  # fmt: skip
        return refused or _see(engagement_id, "check-in")

    async def session(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        form = await self.web.form(request, SESSION_FIELDS)
        engagement_id = request.path_params["engagement"]
        shown = await facilitation.engagement_page(self.services, current, engagement_id)
        values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in SESSION_FIELDS}
        values["attendees"] = [str(a) for a in form.getlist("attendees")]
        errors = {}
        if values["activity_type"] not in shown.activity_types:
            errors["session-type"] = "Choose what kind of session it was."
        known = {p.person_id for p in shown.people}
        if not values["attendees"] or not set(values["attendees"]) <= known:
            errors["session-attendees"] = "Choose at least one person who came."
        minutes = values["minutes"]
        if not minutes.isdigit() or not 0 < int(minutes) <= MAX_MINUTES:
            errors["session-minutes"] = "Enter how long it lasted in minutes, a whole number like 90."
        if len(values["notes"]) > MAX_TEXT:
            errors["session-notes"] = (
                f"The notes are {len(values['notes']):,} characters long; keep them under {MAX_TEXT:,}."
            )
        if errors:
            return self._refused(request, shown, "session", errors, values)
        refused = await self._recorded(
            request, shown, "session", "session-type", values,
            lambda: facilitation.record_session(
                self.services, current, engagement_id, values["activity_type"], values["attendees"],
                int(minutes), values["notes"] or None, update_id=_update_id("session", values["key"]),
            ),
        )  # fmt: skip
        return refused or _see(engagement_id, "session")

    async def pause(self, request: Request) -> Response:
        return await self._pause_or_resume(request, "pause")

    async def resume(self, request: Request) -> Response:
        return await self._pause_or_resume(request, "resume")

    async def _pause_or_resume(self, request: Request, action: str) -> Response:
        current = self.web.signed_in(request)
        form = await self.web.form(request, PAUSE_FIELDS)
        engagement_id = request.path_params["engagement"]
        shown = await facilitation.engagement_page(self.services, current, engagement_id)
        values = {"reason": str(form.get("reason", "")).strip(), "key": str(form.get("key", ""))}
        field = f"{action}-reason"
        if not values["reason"]:
            error = f"Say why you {action} the engagement: everyone who reads its record sees it."
            return self._refused(request, shown, action, {field: error}, values)
        if len(values["reason"]) > MAX_TEXT:
            error = f"The reason is {len(values['reason']):,} characters long; keep it under {MAX_TEXT:,}."
            return self._refused(request, shown, action, {field: error}, values)
        use_case = facilitation.pause if action == "pause" else facilitation.resume
        refused = await self._recorded(
            request, shown, action, field, values,
            lambda: use_case(
                self.services, current, engagement_id, values["reason"],
                update_id=_update_id(action, values["key"]),
            ),
        )  # fmt: skip
        return refused or _see(engagement_id, "paused" if action == "pause" else "resumed")


def _update_id(action: str, key: str) -> str | None:
    """The input's idempotency key from the form's random key: a form sent twice records once."""
    return f"web-{action}-{key}" if _KEY.fullmatch(key) else None


def _see(engagement_id: str, done: str) -> Response:
    return RedirectResponse(f"/portfolio/{engagement_id}?done={done}#done", status_code=303)


def _capital(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", "?", "!", ")")) else text + "."
