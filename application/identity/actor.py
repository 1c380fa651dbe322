"""Who asks for a use case, and by which entrance.

Every use case that records something takes an ``Actor``: the person acting (their opaque id in the
engagement's plan) and the channel their request came through. An entrance makes it from what it
knows of the person (the command line from ``--as``; the web app, later, from the signed-in session),
never from a field of the request itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Channel = Literal["cli", "web", "script"]


@dataclass(frozen=True, slots=True)
class Actor:
    """The person acting, by id, and the entrance they came through."""

    person_id: str
    channel: Channel

    def __str__(self) -> str:
        return f"{self.person_id} ({self.channel})"
