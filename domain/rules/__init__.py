"""Rules the workflow, the CLI and the auditor share: pure functions of the state (and `now`).

- `eligibility`: who is on a gate's roster and may vote at a given time (trained, authorised, unexpired).
- `quorum`: whether a gate's decision is met, overall and per constituency, with four eyes.
- `pace`: whether a phase may advance now (dwell, comfort, evidence, cohort) and what it waits for.
- `indicators`: progress of each indicator from baseline toward target, respecting direction.
- `ladder`: where each decision area sits on the ladder of co-production.
- `recognition`: the recognition owed to each person for their time.
- `schedule`: what falls due next (check-ins, milestones, escalations, expiries), for timers.
"""
