"""Calendar feeds on the web: the page where a signed-in person makes their private calendar address, and
the feed itself, which calendar apps fetch without cookies (``application.calendar_feeds``).

The address is shown once, on the answer to the button that makes it (the server keeps only its hash);
that page and the feed send no referrer. The feed takes no session, sets no cookie, and may be cached
privately for a while; an address that is unknown or revoked gets one sentence and 404, nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from application import calendar_feeds

if TYPE_CHECKING:
    from .app import WebApp

FEED_MAX_AGE = 15 * 60  # seconds a calendar app (or a proxy of the reader's own) may keep a feed
MAKE_FIELDS: frozenset[str] = frozenset()  # the button sends the CSRF token and nothing else


class CalendarPages:
    """The calendar page and the feed, rendered by ``web``."""

    def __init__(self, web: WebApp) -> None:
        self.web = web
        self.services = web.services

    async def page(self, request: Request) -> Response:
        current = self.web.signed_in(request)
        assert current.account_id is not None
        state = await calendar_feeds.feed_state(self.services, current.account_id)
        return self.web.page(request, "calendar.html", feed=state, made=None)

    async def make(self, request: Request) -> Response:
        """A new address (the old one stops working), shown this once."""
        current = self.web.signed_in(request)
        await self.web.form(request, MAKE_FIELDS)
        assert current.account_id is not None
        made = await calendar_feeds.new_address(self.services, current.account_id)
        state = await calendar_feeds.feed_state(self.services, current.account_id)
        response = self.web.page(request, "calendar.html", feed=state, made=made)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def feed(self, request: Request) -> Response:
        body = await calendar_feeds.feed(self.services, request.path_params["token"], datetime.now(UTC))
        if body is None:
            return PlainTextResponse(
                calendar_feeds.NO_FEED,
                status_code=404,
                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            )
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={
                "Cache-Control": f"private, max-age={FEED_MAX_AGE}",
                "Referrer-Policy": "no-referrer",
                "Content-Disposition": 'inline; filename="coproduce.ics"',
            },
        )
