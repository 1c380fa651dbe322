"""Who asks for a use case, how they came, and how we know it is them.

Every use case that records something takes an ``Actor``: who is acting (an operator's name on the
command line; the signed-in person's id on the web), the entrance their request came through, how they
were authenticated, and, when they enter an input for someone else (a facilitator entering a tenant's
vote with the tenant present), why. An entrance makes it from what it knows of the person (the command
line from its configured operator, the web app from the signed-in session), never from a field of the
request itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Channel = Literal["cli", "web"]
Authentication = Literal["sign_in_link", "one_time_code", "passkey", "operator"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, through which entrance, how we know, and why for someone else (assisted)."""

    person_id: str
    channel: Channel
    authentication: Authentication = "operator"
    assisted_reason: str | None = None

    def __str__(self) -> str:
        return f"{self.person_id} ({self.channel})"
