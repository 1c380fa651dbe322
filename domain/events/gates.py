"""Events about gates: opened (with a snapshot of who may decide and how), votes, decisions.

`gate_opened` snapshots the roster (everyone holding a deciding role then, with their constituency and
the modules they need) and the policy (method, approvals, quorum per constituency, four eyes, reason
rule), so an auditor can re-evaluate the decision later even if the plan was amended since.
"""

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from domain.events.base import Event, PersonId
from domain.personal import PersonalData
from domain.phases import DecisionMethod
from domain.vocabulary import Constituency, DomainModel, Identifier, LongText

VoteChoice = Literal["approve", "object", "abstain"]
GateOutcome = Literal["passed", "held", "rejected"]


class GatePolicy(DomainModel):
    deciding_roles: tuple[Identifier, ...]
    method: DecisionMethod
    approvals_required: PositiveInt | None = None
    quorum: dict[Constituency, PositiveInt] = Field(default_factory=dict)
    reason_required: bool = True
    four_eyes: bool = True
    assurance: Literal["any", "passkey_or_assisted"] = "any"


class RosterEntry(DomainModel):
    person_id: PersonId
    constituency: Constituency
    roles: tuple[Identifier, ...]
    required_modules: tuple[Identifier, ...] = ()


class GateOpened(Event):
    """A gate opens for decision. `round` counts openings of this phase's gate (a held gate reopens)."""

    type: Literal["gate_opened"] = "gate_opened"
    phase_id: Identifier
    round: PositiveInt
    requested_by: PersonId
    policy: GatePolicy
    roster: tuple[RosterEntry, ...]


class VoteCast(Event):
    """Someone on the roster approved, objected to or abstained on the open round of a gate."""

    type: Literal["vote_cast"] = "vote_cast"
    phase_id: Identifier
    round: PositiveInt
    person_id: PersonId
    choice: VoteChoice
    reason: Annotated[LongText | None, PersonalData(owner="person_id")] = None


class GateDecided(Event):
    """The gate's outcome. `passed` needs the quorum met; `held`/`rejected` keep the phase open."""

    type: Literal["gate_decided"] = "gate_decided"
    phase_id: Identifier
    round: PositiveInt
    outcome: GateOutcome
    decided_by: PersonId | None = None
    reason: Annotated[LongText | None, PersonalData(owner="decided_by")] = None
