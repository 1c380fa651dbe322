"""The web app: server-rendered pages for the people an engagement exists for, on a phone or anywhere.

A thin entrance, like the command line: each handler reads the request, calls one use case of the
application layer, and renders a template. Who is acting always comes from the signed-in session,
never from a form field. Everything works with JavaScript off; the one script (``static/passkeys.js``)
only adds passkeys, which need it.

What every response gets (``_secured``): a Content-Security-Policy with no inline script, no framing
and forms posting only here; ``nosniff``; a referrer policy (none at all on pages whose address holds
a sign-in token); a permissions policy; HSTS behind TLS. Every form carries the session's CSRF token,
checked on every POST. The session cookie is HttpOnly and SameSite=Lax, ``__Host-`` and Secure behind
TLS; its value is a random id whose hash names a server-side session.

``/healthz`` is for load balancers and probes, outside all of that: no session, no cookie, nothing about
anyone; ``ok`` while the event log's database answers, one sentence and 503 while it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import Any

import jinja2
import psycopg
import structlog
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from application import html
from application.errors import UserError
from application.identity import passkeys, sign_in
from application.identity.sign_in import Session, SignInRefused, TooManyAttempts
from application.notices import register as notice_register
from application.participation import NotHere
from application.services import Services

from .calendar import CalendarPages
from .facilitation import FacilitatorPages
from .participation import Pages

Handler = Callable[[Request], Awaitable[Response]]
MAX_FORM_BYTES = 64 * 1024  # a form bigger than this is refused before it is read
HEALTH_TIMEOUT = 3  # seconds a health check waits for the database before saying it is not answering
log = structlog.get_logger(__name__)


class WebApp:
    """The routes, bound to the application's services."""

    def __init__(self, services: Services, *, secure: bool) -> None:
        self.services = services
        self.secure = secure
        self.cookie = "__Host-session" if secure else "coproduce_session"
        self.templates = html.environment().overlay(
            loader=jinja2.ChoiceLoader(
                [
                    jinja2.PackageLoader("coproduce.web", "templates"),
                    jinja2.PackageLoader("application.html", "templates"),
                ]
            )
        )

    # -- rendering ---------------------------------------------------------------------------------
    def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        current: Session | None = request.state.session
        body = self.templates.get_template(template).render(
            session=current, csrf_token=current.csrf_token if current else "", request_path=request.url.path,
            **context,
        )  # fmt: skip
        return HTMLResponse(body, status_code=status_code)

    # -- the session and CSRF ----------------------------------------------------------------------
    async def with_session(self, request: Request, handler: Handler) -> Response:
        current = await sign_in.session(self.services, request.cookies.get(self.cookie))
        request.state.session = current
        response = await handler(request)
        now = request.state.session
        if now.new:
            response.set_cookie(
                self.cookie, now.token, httponly=True, samesite="lax", secure=self.secure, path="/",
                max_age=int(sign_in.SESSION_LIFETIME.total_seconds()),
            )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    async def form(self, request: Request, fields: frozenset[str] | None = None) -> FormData:
        """The posted form, once its CSRF token matches the session's (403 otherwise). With ``fields``,
        a form carrying any other field (``person_id``, say: who acts comes from the session, never
        from the form) is refused (400), not quietly ignored."""
        await _read_body(request)
        try:
            form = await request.form(max_part_size=MAX_FORM_BYTES)
        except Exception:  # a multipart body that does not parse, or a part beyond the limit
            raise HTTPException(400, _UNREADABLE) from None
        sent = str(form.get("csrf_token", ""))
        if not sent or not hmac.compare_digest(sent, request.state.session.csrf_token):
            raise HTTPException(403, _CSRF_REFUSED)
        if fields is not None:
            extra = sorted(set(form.keys()) - fields - {"csrf_token"})
            if extra:
                raise HTTPException(
                    400,
                    f"This form carries {', '.join(extra[:3])}, which this page does not send. "
                    "Go back, reload the page and send it again.",
                )
        return form

    async def json_body(self, request: Request) -> dict[str, Any]:
        """A script's JSON body, once its CSRF header matches the session's (403 otherwise)."""
        sent = request.headers.get("x-csrf-token", "")
        if not sent or not hmac.compare_digest(sent, request.state.session.csrf_token):
            raise HTTPException(403, _CSRF_REFUSED)
        body = await _read_body(request)
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            raise HTTPException(400, "The request is not JSON.") from None
        return value if isinstance(value, dict) else {}

    def signed_in(self, request: Request) -> Session:
        current: Session = request.state.session
        if not current.signed_in:
            raise _SignInFirst(request.url.path)
        return current

    # -- pages -------------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        target = "/me" if request.state.session.signed_in else "/sign-in"
        return RedirectResponse(target, status_code=303)

    async def sign_in_page(self, request: Request) -> Response:
        return self.page(
            request, "sign_in.html", next=_local(request.query_params.get("next")), errors={}, values={}
        )

    async def sign_in_code(self, request: Request) -> Response:
        form = await self.form(request)
        target = _local(str(form.get("next", "")))
        code = str(form.get("code", "")).strip()
        if not code:
            errors = {"code": "Enter the code from your card or letter, like K7QD-MX4P-9WTR."}
            return self.page(request, "sign_in.html", 400, next=target, errors=errors, values={})
        try:
            request.state.session = await sign_in.sign_in_with_code(
                self.services, request.state.session, code, _address(request)
            )
        except SignInRefused as exc:
            status = 429 if isinstance(exc, TooManyAttempts) else 400
            return self.page(
                request, "sign_in.html", status, next=target, errors={"code": str(exc)}, values={"code": code}
            )
        return RedirectResponse(target or "/me", status_code=303)

    async def sign_in_email(self, request: Request) -> Response:
        form = await self.form(request)
        email = str(form.get("email", "")).strip()
        try:
            await sign_in.request_link(self.services, email, _address(request))
        except TooManyAttempts as exc:
            return self.page(
                request, "sign_in.html", 429, next="", errors={"email": str(exc)}, values={"email": email}
            )
        except UserError as exc:
            return self.page(
                request, "sign_in.html", 400, next="", errors={"email": str(exc)}, values={"email": email}
            )
        return self.page(request, "check_email.html")

    async def link_page(self, request: Request) -> Response:
        """A sign-in link, opened: a button to press. Nothing is used up by looking (mail scanners do)."""
        token = request.path_params["token"]
        usable = await sign_in.link_is_usable(self.services, token)
        then = _local(request.query_params.get("next"))
        response = self.page(
            request, "link.html", 200 if usable else 410, token=token, usable=usable, next=then
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def link_sign_in(self, request: Request) -> Response:
        form = await self.form(request, fields=frozenset({"next"}))
        token = request.path_params["token"]
        try:
            request.state.session = await sign_in.sign_in_with_link(
                self.services, request.state.session, token, _address(request)
            )
        except SignInRefused:
            response = self.page(request, "link.html", 410, token=token, usable=False)
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
        # An address without the token: the page a notice was about (a local path only), else "Your page".
        return RedirectResponse(_local(str(form.get("next", ""))) or "/me", status_code=303)

    # -- notices: the one-click "stop these emails" link every notice carries (RFC 8058) ---------------
    async def stop_page(self, request: Request) -> Response:
        """A stop link, opened: say what it stops and offer the button. Looking changes nothing."""
        found = await notice_register.stop_target(self.services, request.path_params["token"])
        response = self.page(request, "stop.html", 200 if found else 404, found=found, done=False)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def stop(self, request: Request) -> Response:
        """Stop the emails. A mail program's one-click POST (``List-Unsubscribe=One-Click``) carries no
        session or CSRF token: the unguessable token in the address is what allows it."""
        await _read_body(request)
        found = await notice_register.stop(self.services, request.path_params["token"])
        response = self.page(request, "stop.html", 200 if found else 404, found=found, done=found is not None)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def how(self, current: Session) -> str:
        """How the person signed in, in words."""
        return _HOW[current.authentication or ""]

    async def sign_out(self, request: Request) -> Response:
        form = await self.form(request)
        everywhere = form.get("everywhere") == "yes"
        await sign_in.sign_out(self.services, request.state.session, everywhere=everywhere)
        request.state.session = await sign_in.session(self.services, None)
        return self.page(request, "signed_out.html", everywhere=everywhere)

    # -- passkeys (need JavaScript: the page offers them only when it runs) ---------------------------
    async def passkey_sign_in_options(self, request: Request) -> Response:
        await self.json_body(request)
        return Response(
            await passkeys.authentication_options(self.services, request.state.session),
            media_type="application/json",
        )

    async def passkey_sign_in(self, request: Request) -> Response:
        body = await self.json_body(request)
        try:
            request.state.session = await passkeys.sign_in_with_passkey(
                self.services, request.state.session, body.get("credential") or {}, _address(request)
            )
        except SignInRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"next": _local(str(body.get("next", ""))) or "/me"})

    async def passkey_options(self, request: Request) -> Response:
        await self.json_body(request)
        current = self.signed_in(request)
        places = await sign_in.memberships(self.services, current)
        label = next((p.name for p in places if p.name), None) or "coproduce"
        return Response(
            await passkeys.registration_options(self.services, current, label), media_type="application/json"
        )

    async def passkey_register(self, request: Request) -> Response:
        body = await self.json_body(request)
        try:
            await passkeys.register(self.services, self.signed_in(request), body.get("credential") or {})
        except SignInRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    # -- health, for load balancers and probes --------------------------------------------------------
    async def health(self, request: Request) -> Response:
        """200 ``ok`` when the event log's database answers ``SELECT 1`` on a connection of its own
        (so a pool that still holds old connections cannot hide an outage), else 503 in one sentence."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                conn = await psycopg.AsyncConnection.connect(
                    self.services.database_url(), autocommit=True, connect_timeout=HEALTH_TIMEOUT
                )
                async with conn:
                    await conn.execute("SELECT 1")
        except Exception as exc:  # unreachable, refused, timed out, no database set up: all the same here
            log.warning("health check: the database did not answer", error=type(exc).__name__)
            return PlainTextResponse(_DATABASE_DOWN, status_code=503, headers={"Cache-Control": "no-store"})
        return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})

    # -- errors ------------------------------------------------------------------------------------
    async def error(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, _SignInFirst):
            return RedirectResponse(f"/sign-in?next={exc.path}", status_code=303)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) and status != 404 else None
        if isinstance(exc, NotHere):
            status, detail = 404, str(exc)
        if not hasattr(request.state, "session"):
            request.state.session = None
        return self.page(
            request, "error.html", status, status=status, message=detail or _ERRORS.get(status, _ERRORS[500])
        )


class _SignInFirst(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


_TOO_LARGE = (
    "What you sent is too long to take (a reason or note must stay under 5,000 characters). "
    "Shorten it and send it again."
)
_DATABASE_DOWN = "The database is not answering, so this server cannot show or record anything now."
_UNREADABLE = "What was sent could not be read as a form. Go back, reload the page and send it again."
_CSRF_REFUSED = (
    "This form has expired or did not come from this site. Go back, reload the page and send it again."
)
_ERRORS = {
    404: "There is no page at this address. Check it, or go to your page.",
    405: "That cannot be done at this address.",
    500: "Something went wrong on our side. Nothing you sent was recorded; try again in a few minutes.",
}
_HOW = {
    "sign_in_link": "a sign-in link sent to your email",
    "one_time_code": "a one-time code",
    "passkey": "a passkey on your device",
    "": "",
}


async def _read_body(request: Request) -> bytes:
    """The request's body, read up to ``MAX_FORM_BYTES`` whatever its Content-Length says (or whether it
    says anything: a chunked body is counted as it comes); beyond it, 413 before it is parsed."""
    declared = request.headers.get("content-length") or "0"
    if not declared.isdigit():
        raise HTTPException(400, _UNREADABLE)
    if int(declared) > MAX_FORM_BYTES:
        raise HTTPException(413, _TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, _TOO_LARGE)
    request._body = bytes(body)  # what Starlette's request.form() and request.body() read from now on
    return request._body


def _local(target: str | None) -> str:
    """``target`` when it is a path on this site, else '' (no open redirect through ``next=``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    if any(ch in target for ch in "\r\n\t") or ":" in target.split("?", 1)[0]:
        return ""
    return target


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _secured(secure: bool) -> Callable[[Any], Any]:
    """ASGI middleware adding the security headers to every response."""
    headers = [
        (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
        (b"x-content-type-options", b"nosniff"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]  # fmt: skip
    if secure:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    def wrap(app: Any) -> Any:
        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    existing = {name.lower() for name, _ in message.get("headers", [])}
                    extra = list(headers)
                    if b"referrer-policy" not in existing:
                        extra.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)

            await app(scope, receive, sending if scope["type"] == "http" else send)

        return asgi

    return wrap


def create_app(services: Services, *, secure: bool | None = None) -> Any:
    """The web app (ASGI) for ``services``; ``secure`` (default: the web address is https) marks
    cookies Secure and ``__Host-`` and sends HSTS."""
    is_secure = services.web_url.startswith("https://") if secure is None else secure
    web = WebApp(services, secure=is_secure)
    pages = Pages(web)
    facilitator = FacilitatorPages(web)
    calendar = CalendarPages(web)

    def session(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            return await web.with_session(request, handler)

        return run

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await services.open()
        try:
            yield
        finally:
            await services.close()

    routes = [
        Route("/healthz", web.health),  # no session: probes carry no cookie and must not make sessions
        Route("/", session(web.home)),
        Route("/sign-in", session(web.sign_in_page)),
        Route("/sign-in/code", session(web.sign_in_code), methods=["POST"]),
        Route("/sign-in/email", session(web.sign_in_email), methods=["POST"]),
        Route("/sign-in/link/{token}", session(web.link_page)),
        Route("/sign-in/link/{token}", session(web.link_sign_in), methods=["POST"]),
        Route("/sign-in/passkey/options", session(web.passkey_sign_in_options), methods=["POST"]),
        Route("/sign-in/passkey", session(web.passkey_sign_in), methods=["POST"]),
        Route("/notices/stop/{token}", session(web.stop_page)),
        Route("/notices/stop/{token}", session(web.stop), methods=["POST"]),
        Route("/me", session(pages.waiting)),
        Route("/engagements/{engagement}/gates/{phase}", session(pages.gate)),
        Route("/engagements/{engagement}/gates/{phase}/check", session(pages.check), methods=["POST"]),
        Route("/engagements/{engagement}/gates/{phase}/vote", session(pages.vote), methods=["POST"]),
        Route("/engagements/{engagement}/votes/{position}", session(pages.receipt)),
        Route("/engagements/{engagement}/votes/{position}/receipt.json", session(pages.receipt_file)),
        Route("/engagements/{engagement}/check-in", session(pages.check_in)),
        Route("/engagements/{engagement}/check-in", session(pages.record_check_in), methods=["POST"]),
        Route("/engagements/{engagement}/record", session(pages.record)),
        Route("/engagements/{engagement}/my-data", session(pages.my_data)),
        Route("/engagements/{engagement}/my-data.json", session(pages.my_data_file)),
        Route("/engagements/{engagement}/changes/{change}", session(pages.change)),
        Route("/engagements/{engagement}/changes/{change}/cosign", session(pages.cosign), methods=["POST"]),
        Route("/engagements/{engagement}/changes/{change}/decline", session(pages.decline), methods=["POST"]),
        Route("/portfolio", session(facilitator.portfolio)),
        Route("/portfolio/{engagement}", session(facilitator.engagement)),
        Route("/portfolio/{engagement}/invite", session(facilitator.invite), methods=["POST"]),
        Route("/portfolio/{engagement}/check-in", session(facilitator.check_in), methods=["POST"]),
        Route("/portfolio/{engagement}/session", session(facilitator.session), methods=["POST"]),
        Route("/portfolio/{engagement}/pause", session(facilitator.pause), methods=["POST"]),
        Route("/portfolio/{engagement}/resume", session(facilitator.resume), methods=["POST"]),
        Route("/calendar", session(calendar.page)),
        Route("/calendar", session(calendar.make), methods=["POST"]),
        Route("/calendar/{token}.ics", calendar.feed),  # no session: calendar apps carry no cookie
        Route("/passkeys/options", session(web.passkey_options), methods=["POST"]),
        Route("/passkeys", session(web.passkey_register), methods=["POST"]),
        Route("/sign-out", session(web.sign_out), methods=["POST"]),
        Route("/static/coproduce.css", _stylesheet),  # the house stylesheet, shared with the report
        Mount(
            "/static", StaticFiles(directory=str(files("coproduce.web").joinpath("static"))), name="static"
        ),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: web.error,
            Exception: web.error,
            _SignInFirst: web.error,
            NotHere: web.error,
        },
        lifespan=lifespan,
    )
    return _secured(is_secure)(app)


async def _stylesheet(request: Request) -> Response:
    return Response(html.stylesheet(), media_type="text/css")
