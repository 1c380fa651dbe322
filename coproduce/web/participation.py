"""The approvers' pages: what waits for me, a gate and my vote on it, its receipt, a check-in, a change to
co-sign or decline, my record.

Each handler reads the request, calls one use case of ``application.participation`` and renders a
template; the person acting is the session's, in the engagement named in the address only if they
belong to it (anything else is the same "nothing here for you" page, whatever the address holds).

A vote takes three requests, as the GOV.UK Design System's "check answers" pattern does: the gate's page
asks (radios and a reason), the check page shows the answer before it is sent (or sends it back to be
changed), and sending it records it and leads to its receipt. The check page carries a fresh random
key, so pressing "Send" twice, or resending after a lost answer, records one vote.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from application import participation
from application.errors import NotFound, sentence

if TYPE_CHECKING:
    from .app import WebApp

CHOICES = {
    "approve": "Approve: the phase has done what it set out to do; move on",
    "object": "Object: it is not ready; say why",
    "abstain": "Abstain: I choose not to decide this one",
}
# What each form sends; anything else in a posted form is refused (who acts is never a field).
CHECK_FIELDS = frozenset({"choice", "reason", "change", "key"})
VOTE_FIELDS = frozenset({"choice", "reason", "key"})
CHECK_IN_FIELDS = frozenset({"comfort", "note", "key"})
COSIGN_FIELDS = frozenset({"key"})
DECLINE_FIELDS = frozenset({"reason", "key"})
MAX_REASON = 5_000  # characters: several paragraphs; the log's own limit is higher
MAX_NOTE = 5_000
_KEY = re.compile(r"[0-9a-f]{32}")


class Pages:
    """The approvers' pages, rendered by ``web``."""

    def __init__(self, web: WebApp) -> None:
        self.web = web
        self.services = web.services

    # -- what waits for me --------------------------------------------------------------------------
    async def waiting(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        found = await participation.waiting(self.services, current)
        return self.web.page(request, "waiting.html", waiting=found, how=self.web.how(current))

    # -- a gate, the check page, the vote -------------------------------------------------------------
    async def gate(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        engagement_id, phase_id = request.path_params["engagement"], request.path_params["phase"]
        shown = await participation.gate(self.services, current, engagement_id, phase_id)
        return self.web.page(request, "gate.html", gate=shown, choices=CHOICES, errors={}, values={})

    async def check(self, request: Request) -> Response:
        """The answer, shown before it is sent; or the gate's page again with what is wrong."""
        current = self.web.signed_in(request)
        form = await self.web.form(request, CHECK_FIELDS)
        engagement_id, phase_id = request.path_params["engagement"], request.path_params["phase"]
        shown = await participation.gate(self.services, current, engagement_id, phase_id)
        values = {"choice": str(form.get("choice", "")), "reason": str(form.get("reason", "")).strip()}
        errors = _vote_errors(values, shown.reason_required) if shown.may_vote else {}
        if errors or not shown.may_vote or form.get("change"):
            status = 400 if errors else 200
            return self.web.page(
                request, "gate.html", status, gate=shown, choices=CHOICES, errors=errors, values=values
            )
        return self.web.page(
            request, "check_vote.html", gate=shown, choices=CHOICES, values=values, key=secrets.token_hex(16)
        )

    async def vote(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        form = await self.web.form(request, VOTE_FIELDS)
        engagement_id, phase_id = request.path_params["engagement"], request.path_params["phase"]
        values = {"choice": str(form.get("choice", "")), "reason": str(form.get("reason", "")).strip()}
        shown = await participation.gate(self.services, current, engagement_id, phase_id)
        if not shown.may_vote and shown.my_vote is None:  # (a vote already cast: the engagement answers)
            why = shown.why_not or f"you voted {shown.my_vote} already"
            return self.web.page(
                request, "gate.html", 409, gate=shown, choices=CHOICES, errors={"decision": _capital(why)},
                values=values,
            )  # fmt: skip
        errors = _vote_errors(values, shown.reason_required)
        key = str(form.get("key", ""))
        if not _KEY.fullmatch(key):
            errors.setdefault("choice", "This answer has no key to send it by. Check your answer again.")
        if errors:
            return self.web.page(
                request, "gate.html", 400, gate=shown, choices=CHOICES, errors=errors, values=values
            )
        try:
            cast = await participation.vote(
                self.services, current, engagement_id, phase_id, values["choice"],  # type: ignore[arg-type]
                values["reason"] or None, update_id=f"web-{shown.place.person_id}-{key}",
            )  # fmt: skip
        except NotFound:
            raise
        except Exception as exc:
            said = sentence(exc, engagement_id)
            if said is None:
                raise
            refused = await participation.gate(self.services, current, engagement_id, phase_id)
            where = "choice" if refused.may_vote else "decision"  # the form, or the panel saying why not
            return self.web.page(
                request, "gate.html", 409, gate=refused, choices=CHOICES, errors={where: _capital(said)},
                values=values,
            )  # fmt: skip
        if not cast.position:  # the same answer sent again: its receipt is that of the vote recorded
            mine = {v.phase_id: v for v in (await participation.waiting(self.services, current)).votes}
            if phase_id in mine:
                return _see(f"/engagements/{engagement_id}/votes/{mine[phase_id].position}")
            return _see(f"/engagements/{engagement_id}/gates/{phase_id}")
        return _see(f"/engagements/{engagement_id}/votes/{cast.position}")

    # -- receipts ------------------------------------------------------------------------------------
    async def receipt(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        engagement_id, position = request.path_params["engagement"], _position(request)
        kept = await participation.receipt(self.services, current, engagement_id, position)
        event = json.loads(_entry(kept))
        here = await participation.place(self.services, current, engagement_id)
        phase = here.status.state.require_plan().phases_by_id.get(event["payload"]["phase_id"])
        return self.web.page(
            request, "receipt.html", receipt=kept, event=event, place=here,
            phase_title=phase.title if phase else event["payload"]["phase_id"], choices=CHOICES,
        )  # fmt: skip

    async def receipt_file(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        engagement_id, position = request.path_params["engagement"], _position(request)
        kept = await participation.receipt(self.services, current, engagement_id, position)
        name = f"receipt-{engagement_id}-{position}.json"
        return Response(
            json.dumps(kept, indent=2) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- check-ins -----------------------------------------------------------------------------------
    async def check_in(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        shown = await participation.check_in_page(self.services, current, request.path_params["engagement"])
        return self.web.page(
            request, "check_in.html", check=shown, errors={}, values={}, key=secrets.token_hex(16)
        )

    async def record_check_in(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        form = await self.web.form(request, CHECK_IN_FIELDS)
        engagement_id = request.path_params["engagement"]
        shown = await participation.check_in_page(self.services, current, engagement_id)
        values = {"comfort": str(form.get("comfort", "")), "note": str(form.get("note", "")).strip()}
        errors = {}
        points = {str(value) for value, _ in shown.choices}
        if values["comfort"] not in points:
            errors["comfort"] = "Choose how comfortable you are with the pace."
        if len(values["note"]) > MAX_NOTE:
            errors["note"] = (
                f"Your note is {len(values['note']):,} characters long; keep it under {MAX_NOTE:,}."
            )
        key = str(form.get("key", ""))
        if not errors:
            try:
                await participation.check_in(
                    self.services, current, engagement_id, int(values["comfort"]), values["note"] or None,
                    update_id=f"web-{shown.place.person_id}-{key}" if _KEY.fullmatch(key) else None,
                )  # fmt: skip
            except NotFound:
                raise
            except Exception as exc:
                said = sentence(exc, engagement_id)
                if said is None:
                    raise
                errors["comfort"] = _capital(said)
        if errors:
            return self.web.page(
                request, "check_in.html", 400, check=shown, errors=errors, values=values,
                key=key if _KEY.fullmatch(key) else secrets.token_hex(16),
            )  # fmt: skip
        return self.web.page(request, "checked_in.html", check=shown, comfort=int(values["comfort"]))

    # -- changes waiting for my co-signature -----------------------------------------------------------
    async def change(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        engagement_id, change_id = request.path_params["engagement"], request.path_params["change"]
        shown = await participation.change_to_cosign(self.services, current, engagement_id, change_id)
        return self.web.page(
            request, "change.html", change=shown, errors={}, values={}, key=secrets.token_hex(16)
        )

    async def cosign(self, request: Request) -> Response:
        return await self._answer_change(request, COSIGN_FIELDS, "cosign")

    async def decline(self, request: Request) -> Response:
        return await self._answer_change(request, DECLINE_FIELDS, "decline")

    async def _answer_change(self, request: Request, fields: frozenset[str], answer: str) -> Response:
        """Co-sign or decline a change as the signed-in person; the page again, saying why, if refused."""
        current = self.web.signed_in(request)
        form = await self.web.form(request, fields)
        engagement_id, change_id = request.path_params["engagement"], request.path_params["change"]
        shown = await participation.change_to_cosign(self.services, current, engagement_id, change_id)
        values = {"reason": str(form.get("reason", "")).strip()}
        key = str(form.get("key", ""))
        errors = {}
        if answer == "decline" and not values["reason"]:
            errors["reason"] = "Say why you decline the change."
        elif len(values["reason"]) > MAX_REASON:
            errors["reason"] = (
                f"Your reason is {len(values['reason']):,} characters long; keep it under {MAX_REASON:,}."
            )
        if not errors:
            update_id = f"web-{answer}-{shown.change_id}-{key}" if _KEY.fullmatch(key) else None
            try:
                if answer == "cosign":
                    await participation.cosign(
                        self.services, current, engagement_id, change_id, update_id=update_id
                    )
                else:
                    await participation.decline(
                        self.services,
                        current,
                        engagement_id,
                        change_id,
                        values["reason"],
                        update_id=update_id,
                    )
            except NotFound:
                raise
            except Exception as exc:
                said = sentence(exc, engagement_id)
                if said is None:
                    raise
                errors["reason" if answer == "decline" else "cosign"] = _capital(said)
        if errors:
            return self.web.page(
                request, "change.html", 400, change=shown, errors=errors, values=values,
                key=key if _KEY.fullmatch(key) else secrets.token_hex(16),
            )  # fmt: skip
        done = (
            "You co-signed the change. It takes effect once everyone it waits for has co-signed."
            if answer == "cosign"
            else "You declined the change: it will not take effect."
        )
        return self.web.page(request, "change.html", change=shown, errors={}, values={}, done=done)

    # -- my record -----------------------------------------------------------------------------------
    async def record(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        mine = await participation.my_record(self.services, current, request.path_params["engagement"])
        return self.web.page(request, "record.html", record=mine)

    # -- what is held about me -----------------------------------------------------------------------
    async def my_data(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        held = await participation.my_data(self.services, current, request.path_params["engagement"])
        return self.web.page(request, "my_data.html", access=held)

    async def my_data_file(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        engagement_id = request.path_params["engagement"]
        held = await participation.my_data(self.services, current, engagement_id)
        return Response(
            json.dumps(held.as_json(), indent=2, ensure_ascii=False) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="my-data-{engagement_id}.json"'},
        )


def _vote_errors(values: dict[str, str], reason_required: bool) -> dict[str, str]:
    errors = {}
    if values["choice"] not in CHOICES:
        errors["choice"] = "Choose approve, object or abstain."
    elif values["choice"] == "object" and reason_required and not values["reason"]:
        errors["reason"] = "Say why you object: the plan asks for a reason."
    if len(values["reason"]) > MAX_REASON:
        errors["reason"] = (
            f"Your reason is {len(values['reason']):,} characters long; keep it under {MAX_REASON:,}."
        )
    return errors


def _position(request: Request) -> int:
    raw = request.path_params["position"]
    if not raw.isdigit() or len(raw) > 18:
        raise participation.NotHere(participation.NOT_HERE)
    return int(raw)


def _entry(receipt: dict[str, Any]) -> bytes:
    return base64.b64decode(receipt["entry"])


def _capital(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith((".", "?", "!", ")")) else text + "."


def _see(path: str) -> Response:
    return RedirectResponse(path, status_code=303)
