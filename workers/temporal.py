"""Connecting to Temporal the same way everywhere: the pydantic data converter on every client."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from .database import NoStackError
from .settings import Settings

DATA_CONVERTER = pydantic_data_converter


def temporal_address(settings: Settings) -> str:
    """``COPRODUCE_TEMPORAL_ADDRESS``, else the running embedded stack's dev server."""
    if settings.temporal_address:
        return settings.temporal_address
    from .stack import running_stack  # the stack imports this module

    stack = running_stack(settings)
    if stack is None:
        raise NoStackError(
            "no coproduce stack is running and COPRODUCE_TEMPORAL_ADDRESS is not set; "
            "start one with `coproduce up --detach`"
        )
    return stack.temporal_address


async def connect(settings: Settings) -> Client:
    """A client for the configured (or embedded) Temporal, with the pydantic data converter."""
    return await Client.connect(
        temporal_address(settings), namespace=settings.temporal_namespace, data_converter=DATA_CONVERTER
    )
