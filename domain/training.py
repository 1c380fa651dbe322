"""Training modules, who needs them for which decisions, and how long the authorisation they give lasts.

New decision makers (service users, carers) and existing ones (board members, managers) alike are
trained before they decide: a requirement says that people holding some roles need some modules to
decide some gates (all gates when `gates` is left out). Completing a module leads to an authorisation
that expires after the module's `valid_for_days` (never, when that is left out).
"""

from datetime import datetime, timedelta
from functools import cached_property

from pydantic import Field

from domain.vocabulary import Description, DomainModel, Identifier, PositiveDays, ShortText


class TrainingModule(DomainModel):
    """A module such as "Shared decision making" or "Governance responsibilities for new board members"."""

    id: Identifier
    title: ShortText
    description: Description = ""
    valid_for_days: PositiveDays | None = 365


class TrainingRequirement(DomainModel):
    """People holding any of `roles` need every one of `modules` to decide `gates` (phase ids; all if None)."""

    roles: tuple[Identifier, ...] = Field(min_length=1)
    modules: tuple[Identifier, ...] = Field(min_length=1)
    gates: tuple[Identifier, ...] | None = None


class TrainingPolicy(DomainModel):
    """The modules on offer and the requirements that use them."""

    modules: tuple[TrainingModule, ...] = ()
    requirements: tuple[TrainingRequirement, ...] = ()
    # This many days before an authorisation expires, its holder is reminded to renew it (once per
    # authorisation). Left out, nobody is reminded before it lapses.
    renewal_notice_days: PositiveDays | None = None

    def modules_required(self, phase_id: str, roles: tuple[str, ...]) -> tuple[str, ...]:
        """The modules someone with `roles` needs to decide the gate of `phase_id`, sorted."""
        key = (phase_id, roles)
        found = self._required.get(key)
        if found is None:
            needed = {
                module
                for requirement in self.requirements
                if (requirement.gates is None or phase_id in requirement.gates)
                and any(role in requirement.roles for role in roles)
                for module in requirement.modules
            }
            found = self._required[key] = tuple(sorted(needed))
        return found

    @cached_property
    def _required(self) -> dict[tuple[str, tuple[str, ...]], tuple[str, ...]]:
        """Memo for `modules_required` (the policy is immutable, so answers never change)."""
        return {}


def authorisation_expires_at(module: TrainingModule, granted_at: datetime) -> datetime | None:
    """When an authorisation for `module` granted at `granted_at` lapses (None: it never does)."""
    if module.valid_for_days is None:
        return None
    return granted_at + timedelta(days=module.valid_for_days)
