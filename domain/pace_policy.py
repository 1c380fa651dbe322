"""The pace policy: how often people check in on how comfortable they are, and when comfort holds a gate.

Change happens at a pace the organisation is comfortable with. Each person's latest check-in within the
last `comfort_window_days` counts once; a gate may open only when at least `min_check_ins` such
check-ins average at or above `comfort_threshold` on the comfort scale (1..5 unless the plan says
otherwise). `max_concurrent_phases` says how many phases may run at once.
"""

from pydantic import PositiveInt

from domain.vocabulary import DomainModel


class ComfortScale(DomainModel):
    """The scale people answer "how comfortable are you with the pace?" on."""

    low: int = 1
    high: int = 5


class PacePolicy(DomainModel):
    check_in_every_days: PositiveInt = 14
    comfort_scale: ComfortScale = ComfortScale()
    comfort_threshold: float = 3.0
    comfort_window_days: PositiveInt = 28
    min_check_ins: PositiveInt = 1
    max_concurrent_phases: PositiveInt = 1
