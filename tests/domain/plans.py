"""Plans for the domain tests: a small plan (short phases, short-lived authorisations) and the examples."""

from pathlib import Path

from domain.plan import Plan, plan_from_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = ("housing-tenant-governance.yaml", "mental-health-lived-experience.yaml")

SMALL_PLAN_YAML = """
title: Small test engagement
organisation: {name: Test Trust, sector: charity}
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
  - {id: d3, display_name: Deb Board, constituency: decision_maker, roles: [board]}
  - {id: u1, display_name: Uma User, constituency: service_user, roles: [user-rep]}
  - {id: u2, display_name: Ugo User, constituency: service_user, roles: [user-rep]}
  - {id: u3, display_name: Una User, constituency: service_user, roles: [user-rep]}
  - {id: c1, display_name: Cal Carer, constituency: carer, roles: [user-rep]}
  - {id: s1, display_name: Sam Staff, constituency: staff}
  - {id: u4, display_name: Ula Later, constituency: service_user, roles: [user-rep], cohort: wider}
  - {id: u5, display_name: Uri Later, constituency: service_user, roles: [user-rep], cohort: wider}
training:
  modules:
    - {id: sdm, title: Shared decision making, valid_for_days: 21}
    - {id: gov, title: Governance, valid_for_days: null}
  requirements:
    - {roles: [user-rep], modules: [sdm], gates: [pilot, widen]}
    - {roles: [board], modules: [gov], gates: [pilot]}
phases:
  - id: setup
    title: Set up
    objectives: [Agree the plan]
    min_dwell_days: 3
    escalate_after_days: 10
    gate: {deciding_roles: [sponsor, board], method: consent, quorum: {decision_maker: 1}}
  - id: train
    title: Training
    objectives: [Train everyone]
    activities:
      - {id: course, type: training, title: Course, sessions: 2, modules: [sdm, gov]}
    min_dwell_days: 5
    escalate_after_days: 20
    gate:
      deciding_roles: [board, user-rep]
      method: vote
      approvals_required: 2
      quorum: {decision_maker: 1, service_user: 1}
  - id: pilot
    title: Pilot with the initial group
    objectives: [Try it]
    activities:
      - {id: meetings, type: group_work, title: Meetings, sessions: 3}
      - {id: voices, type: focus_group, title: Focus group}
    min_dwell_days: 7
    escalate_after_days: 21
    gate:
      deciding_roles: [sponsor, board, user-rep]
      method: consent
      quorum: {decision_maker: 1, service_user: 2}
      evidence: {indicators_measured: [attendance], readiness_reassessed: true}
  - id: widen
    title: Widen
    cohort: wider
    objectives: [Bring more people in]
    activities:
      - {id: refresher, type: training, title: Course for newcomers, modules: [sdm]}
    min_dwell_days: 5
    escalate_after_days: 15
    gate:
      deciding_roles: [board, user-rep]
      method: vote
      approvals_required: 3
      quorum: {service_user: 2}
pace:
  check_in_every_days: 3
  comfort_threshold: 3.5
  comfort_window_days: 7
  min_check_ins: 2
evaluation:
  theory_of_change: Shared decisions make better services
  outcomes: [{id: voice, statement: People are heard}]
  indicators:
    - {key: attendance, description: Attendance, unit: percent, direction: up, target: 80, data_source: Registers}
    - {key: waits, description: Waiting time, unit: days, direction: down, baseline: 40, target: 20, data_source: System}
  milestones:
    - {id: mid, title: Midpoint, indicators: [attendance, waits], at_end_of_phase: pilot}
    - {id: dated, title: Dated check, indicators: [waits], due_on: 2025-01-26}
decision_areas:
  - {id: policy, title: Policy, current: consultation, target: co-production, holders: [board]}
  - {id: budget, title: Budget, current: informing, target: co-design}
recognition: {method: hourly_rate, pence_per_hour: 2000}
"""


def small_plan() -> Plan:
    return plan_from_yaml(SMALL_PLAN_YAML, "small.yaml")


def example_yaml(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def example_plan(name: str) -> Plan:
    return plan_from_yaml(example_yaml(name), name)
