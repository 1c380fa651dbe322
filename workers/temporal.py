"""Connecting to Temporal the same way everywhere: the pydantic data converter and the payload encryption
codec (``workers.codec``) on every client."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from .codec import data_converter
from .database import NoStackError
from .running import running_stack
from .settings import Settings


def temporal_address(settings: Settings) -> str:
    """``COPRODUCE_TEMPORAL_ADDRESS``, else the running embedded stack's dev server."""
    if settings.temporal_address:
        return settings.temporal_address

    stack = running_stack(settings)
    if stack is None:
        raise NoStackError(
            "no coproduce stack is running and COPRODUCE_TEMPORAL_ADDRESS is not set; "
            "start one with `coproduce up --detach`"
        )
    return stack.temporal_address


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as configured: mTLS with a client certificate, TLS with a private CA, plain TLS, or none.
    An API key (Temporal Cloud) always goes over TLS."""

    def read(path: Path | None, what: str) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise NoStackError(f"cannot read the Temporal {what} {path} ({exc.strerror})") from None

    ca = read(settings.temporal_tls_ca, "CA certificate (COPRODUCE_TEMPORAL_TLS_CA)")
    cert = read(settings.temporal_tls_cert, "client certificate (COPRODUCE_TEMPORAL_TLS_CERT)")
    key = read(settings.temporal_tls_key, "client key (COPRODUCE_TEMPORAL_TLS_KEY)")
    if (cert is None) != (key is None):
        raise NoStackError("mTLS needs both COPRODUCE_TEMPORAL_TLS_CERT and COPRODUCE_TEMPORAL_TLS_KEY")
    if ca or cert:
        return TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(
    settings: Settings, runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """A client for the configured (or embedded) Temporal, with the pydantic data converter and payload encryption, TLS or an
    API key when configured, and the given runtime (its metrics) and interceptors (tracing)."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        temporal_address(settings),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls_config(settings),
        api_key=api_key,
        runtime=runtime,
        interceptors=interceptors,
    )
