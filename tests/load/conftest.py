"""Fixtures for load tests: the workflow tests' time-skipping server, worker and writer log; and the
fault tests' real stack (dev server, worker process, PostgreSQL of their own) for the slow append."""

from tests.faults.conftest import fault_postgres, stack  # noqa: F401  (fixtures)
from tests.workflows.conftest import client, env, writer_log  # noqa: F401  (fixtures)
