"""Who may change how an engagement runs, and who must co-sign a change that weakens it.

One person should not be able to hollow out what the engagement exists for. Under a plan's ``changes``
policy:

- ``amend``, ``widen`` and ``pause`` say who may amend the plan, widen the cohort and pause or resume
  the engagement; ``request_pause`` who may ask the facilitators for a pause. Each is a list of
  constituencies (``facilitator``, ``service_user``, ...) or role ids from the plan, or ``anyone``.
- ``cosign`` is a small gate of its own: how many people of each constituency must co-sign an amendment
  that weakens a gate or the pace policy (a lower quorum, fewer approvals, a shorter dwell, a rule
  switched off, a training requirement dropped, ...) and an override of a pace hold, before it takes
  effect. A co-signer is never the person who proposed the change, and at least one co-signer comes from
  another constituency than the proposer's. An override then lifts the hold for the gate's next round
  only: if that round is held or rejected, the comfort check applies again.

A plan without ``changes`` keeps the rules plans had before it existed (anyone in the engagement may
amend, only facilitators pause, one facilitator's override lasts for the rest of the phase), so running
engagements keep their meaning; ``plan check`` warns about such plans, and ``--strict`` refuses them.
"""

from typing import Literal

from pydantic import Field, PositiveInt

from domain.vocabulary import Constituency, DomainModel, Identifier

ANYONE = "anyone"

# What a change policy governs, in the words a refusal uses ("only ... may amend the plan").
Power = Literal["amend", "widen", "pause", "request_pause"]


class ChangePolicy(DomainModel):
    """Who may change the engagement, and the co-signers a weakening change needs."""

    amend: tuple[Identifier, ...] = Field(default=("facilitator",), min_length=1)
    widen: tuple[Identifier, ...] = Field(default=("facilitator",), min_length=1)
    pause: tuple[Identifier, ...] = Field(default=("facilitator",), min_length=1)
    request_pause: tuple[Identifier, ...] = Field(default=(ANYONE,), min_length=1)
    cosign: dict[Constituency, PositiveInt] = Field(
        default_factory=lambda: {"decision_maker": 1, "service_user": 1}
    )

    def allows(self, power: Power, constituency: str, roles: tuple[str, ...]) -> bool:
        """Whether someone of ``constituency`` holding ``roles`` may use ``power``."""
        allowed = getattr(self, power)
        return ANYONE in allowed or constituency in allowed or any(role in allowed for role in roles)
