"""The pace policy: how often people check in on how comfortable they are, and when comfort holds a gate.

Change happens at a pace the organisation is comfortable with. Each person's latest check-in within the
last `comfort_window_days` counts once; a gate may open only when at least `min_check_ins` such
check-ins average at or above `comfort_threshold` on the comfort scale (1..5 unless the plan says
otherwise). `max_concurrent_phases` says how many phases may run at once.

*Everybody* should be comfortable, not the room on average: with `comfort_by: each_constituency` each
constituency's own average must reach the threshold (comfortable staff cannot hide uneasy tenants), and
with `minority_signal: true` one answer at the bottom of the scale holds the gate by itself. Both are
off unless the plan asks (plans written before them keep their meaning); `plan check` warns when they
are off.
"""

from typing import Annotated, Literal

from pydantic import Field

from domain.vocabulary import Count, DomainModel, PositiveDays


class ComfortScale(DomainModel):
    """The scale people answer "how comfortable are you with the pace?" on."""

    low: Annotated[int, Field(ge=-100, le=100)] = 1
    high: Annotated[int, Field(ge=-100, le=100)] = 5


class PacePolicy(DomainModel):
    check_in_every_days: PositiveDays = 14
    comfort_scale: ComfortScale = ComfortScale()
    comfort_threshold: float = 3.0
    comfort_window_days: PositiveDays = 28
    min_check_ins: Count = 1
    max_concurrent_phases: Count = 1
    comfort_by: Literal["everyone", "each_constituency"] = "everyone"
    minority_signal: bool = False
