"""People and roles in a plan.

A person has an opaque id, a display name and optional contact details (personal data: they go to the
people register, and the plan the workflow and the log get carries the id in place of the name), a
constituency (service user, carer, staff, existing decision maker, partner, facilitator), roles that say
which decisions they take part in, and the cohort they belong to (the initial group, or the wider group
that joins when the plan widens).
"""

from typing import Annotated

from domain.personal import PersonalData
from domain.vocabulary import Cohort, Constituency, Description, DomainModel, Identifier, ShortText


class Role(DomainModel):
    """A role people hold in the engagement, e.g. `tenant-board-member` or `executive-sponsor`."""

    id: Identifier
    title: ShortText
    description: Description = ""


class Person(DomainModel):
    """Someone taking part. Refer to them everywhere else by `id` only."""

    id: Identifier
    display_name: Annotated[ShortText, PersonalData(owner="id")]
    contact: Annotated[ShortText | None, PersonalData(owner="id")] = None  # e.g. an email or phone number
    constituency: Constituency
    roles: tuple[Identifier, ...] = ()
    cohort: Cohort = "initial"
