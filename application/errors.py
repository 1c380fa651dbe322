"""Errors a use case reports to the person who asked, each as one sentence saying what to do.

Every entrance (the command line, the web app, scripts) shows ``sentence(exc)`` and records nothing
more: a ``UserError`` says it itself, and the errors of the servers beneath (Temporal refusing an
update, PostgreSQL not answering) are put into words here, once, for every entrance alike. An error
this module cannot explain is a bug, and ``sentence`` returns None so that it shows as one.
"""

from __future__ import annotations

import psycopg
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import PlanError
from eventlog import MigrationError

from .privacy.master_keys import MasterKeyError
from .privacy.register import RegisterError


class UserError(Exception):
    """A mistake the person who asked can put right; the message says what was wrong and what to do."""


class NotFound(UserError):
    """What was asked for does not exist (an engagement, a person); the message says where to look."""


def sentence(exc: BaseException, engagement_id: str | None = None) -> str | None:
    """The one sentence for an error we know how to explain (None: a bug, let it show)."""
    if isinstance(exc, UserError | PlanError | RegisterError | MasterKeyError | MigrationError):
        return str(exc)
    if isinstance(exc, WorkflowUpdateFailedError):
        cause = exc.cause  # the workflow refuses input with an ApplicationError whose message is the sentence
        return cause.message if isinstance(cause, ApplicationError) else str(cause)
    if isinstance(exc, WorkflowAlreadyStartedError):
        return f"an engagement with id '{exc.workflow_id}' exists already; choose another id with --id"
    if isinstance(exc, RPCError):
        if "already completed" in exc.message or "aborted by closing workflow" in exc.message:
            which = f"engagement '{engagement_id}'" if engagement_id else "the engagement"
            return f"{which} has completed; nothing more can be recorded (`coproduce audit timeline` shows its record)"
        if exc.status == RPCStatusCode.NOT_FOUND and engagement_id:
            return f"there is no engagement '{engagement_id}'; `coproduce engagement list` shows them"
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return "Temporal does not answer; is the stack running (`coproduce up --detach`)?"
        return f"Temporal refused the request: {exc.message}"
    if isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        return f"cannot connect to PostgreSQL ({first}); check COPRODUCE_DATABASE_URL or run `coproduce up`"
    if isinstance(exc, RuntimeError) and "Failed client connect" in str(exc):
        return "cannot reach Temporal; is the stack running (`coproduce up --detach`), or COPRODUCE_TEMPORAL_ADDRESS right?"
    return None
