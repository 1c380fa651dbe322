"""Replay recorded histories with today's code: a change that would break running engagements fails here.

The histories under ``histories/`` were recorded by ``python -m tests.workflows.record_histories`` from
real runs (a whole small engagement, ten weeks of the housing plan, and the runs of an engagement
joined by continue-as-new), and are named after their workflow ids. Histories recorded by older code
are kept in subfolders named after the change that followed them (``before-timers-never-cancelled/``,
``before-append-as-activity/``): runs they stand for may still be open, so they must replay too. If this fails after a change to the workflow, the change is not safe for engagements
that are already running: put it behind ``workflow.patched(...)`` (see docs/workflow.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workers.codec import data_converter
from workflows.engagement import EngagementWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").rglob("*.json"))  # subfolders: older code


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 12


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    workflow_id = path.name.split(".")[0]  # replay-small.json, replay-continued.run2.json, ...
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    replayer = Replayer(workflows=[EngagementWorkflow], data_converter=data_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
