"""Fixtures for load tests: the workflow tests' time-skipping server, worker and writer log."""

from tests.workflows.conftest import client, env, writer_log  # noqa: F401  (fixtures)
