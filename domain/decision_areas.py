"""Decision areas: classes of decision and where each sits on the ladder of co-production.

A decision area (e.g. "repairs policy", "service budget", "recruitment of staff") has the rung it is on
today and the rung the engagement aims for; `holders` are the roles that decide it now.
"""

from domain.vocabulary import DomainModel, Identifier, Rung, ShortText


class DecisionArea(DomainModel):
    id: Identifier
    title: ShortText
    current: Rung
    target: Rung
    holders: tuple[Identifier, ...] = ()
