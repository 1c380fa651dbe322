"""The plan the load test runs a hundred times: every kind of step an engagement has, in four weeks.

Three phases: a consent gate for the decision makers; a training phase whose vote needs a trained
service-user representative and a decision maker, with an indicator measured as evidence; and a phase
with the wider group (the cohort is widened, the newcomer trained) decided by consent. Check-ins every
week, a comfort threshold the pace policy holds a phase for, a milestone at the end of the second phase,
and recognition for the time people give. The small test plan (tests/domain/plans.py) takes seven
simulated weeks and about 70 inputs per engagement; this one takes four weeks and about half the inputs,
which keeps a hundred engagements through their whole plan within the time ``make test`` can give.
"""

from __future__ import annotations

from domain.plan import Plan, plan_from_yaml

LOAD_PLAN_YAML = """
title: Load test engagement
organisation: {name: Load Test Trust, sector: charity}
starts_on: 2025-01-06
ends_on: 2025-06-30
roles:
  - {id: sponsor, title: Sponsor}
  - {id: board, title: Board member}
  - {id: user-rep, title: Service user representative}
  - {id: facilitator, title: Facilitator}
people:
  - {id: f1, display_name: Fay Facilitator, constituency: facilitator, roles: [facilitator]}
  - {id: d1, display_name: Dee Sponsor, constituency: decision_maker, roles: [sponsor]}
  - {id: d2, display_name: Dan Board, constituency: decision_maker, roles: [board]}
  - {id: u1, display_name: Uma User, constituency: service_user, roles: [user-rep]}
  - {id: c1, display_name: Cal Carer, constituency: carer, roles: [user-rep]}
  - {id: u2, display_name: Ula Later, constituency: service_user, roles: [user-rep], cohort: wider}
training:
  modules:
    - {id: sdm, title: Shared decision making, valid_for_days: 90}
  requirements:
    - {roles: [user-rep], modules: [sdm], gates: [train, widen]}
phases:
  - id: setup
    title: Set up
    objectives: [Agree the plan]
    min_dwell_days: 3
    escalate_after_days: 14
    gate: {deciding_roles: [sponsor, board], method: consent, quorum: {decision_maker: 1}}
  - id: train
    title: Training
    objectives: [Train the representatives]
    activities:
      - {id: course, type: training, title: Course, modules: [sdm]}
    min_dwell_days: 5
    escalate_after_days: 14
    gate:
      deciding_roles: [board, user-rep]
      method: vote
      approvals_required: 2
      quorum: {decision_maker: 1, service_user: 1}
      evidence: {indicators_measured: [attendance]}
  - id: widen
    title: Widen
    cohort: wider
    objectives: [Bring more people in]
    min_dwell_days: 3
    escalate_after_days: 14
    gate: {deciding_roles: [sponsor, user-rep], method: consent, quorum: {service_user: 1}}
pace:
  check_in_every_days: 7
  comfort_threshold: 3.5
  comfort_window_days: 14
  min_check_ins: 2
evaluation:
  theory_of_change: Shared decisions make better services
  outcomes: [{id: voice, statement: People are heard}]
  indicators:
    - {key: attendance, description: Attendance, unit: percent, direction: up, baseline: 40, target: 80, data_source: Registers}
  milestones:
    - {id: trained, title: Representatives trained, indicators: [attendance], at_end_of_phase: train}
recognition: {method: hourly_rate, pence_per_hour: 2000}
"""


def load_plan() -> Plan:
    return plan_from_yaml(LOAD_PLAN_YAML, "load-plan.yaml")
