"""The notice tests run engagements on the time-skipping server, with the workflow tests' fixtures."""

from tests.workflows.conftest import env, writer_log  # noqa: F401
