"""Settings, from the environment (``COPRODUCE_*``), never from editing code.

| variable | meaning | default |
|---|---|---|
| ``COPRODUCE_DATABASE_URL`` | PostgreSQL for the event log (an administrator's URL for ``db migrate``) | the embedded server |
| ``COPRODUCE_TEMPORAL_ADDRESS`` | Temporal frontend, host:port | the running embedded stack |
| ``COPRODUCE_TEMPORAL_NAMESPACE`` | Temporal namespace | ``default`` |
| ``COPRODUCE_TASK_QUEUE`` | task queue the workers poll | ``coproduce`` |
| ``COPRODUCE_STATE_DIR`` | where the embedded servers, keys and checkpoints live | ``~/.local/state/coproduce`` |
| ``COPRODUCE_STACK_PORTS`` | ports of a new embedded stack (``coproduce up``): ``usual`` (7233, 8233 and 8089 when free) or ``any`` (free ones, e.g. for tests beside a user's stack) | ``usual`` |
| ``COPRODUCE_LOG_FORMAT`` | ``auto`` (readable on a terminal, JSON otherwise), ``console`` or ``json`` | ``auto`` |
| ``COPRODUCE_LOG_LEVEL`` | ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` | ``INFO`` |
| ``COPRODUCE_LOG_ORIGIN`` | the origin line of signed checkpoints: names this log | ``coproduce/eventlog`` |
| ``COPRODUCE_TEMPORAL_API_KEY`` | an API key for Temporal Cloud (implies TLS) | none |
| ``COPRODUCE_TEMPORAL_TLS`` | connect to Temporal over TLS (the system's CAs unless a CA file is given) | ``false`` |
| ``COPRODUCE_TEMPORAL_TLS_CA`` / ``_TLS_CERT`` / ``_TLS_KEY`` | PEM files: the server's CA; the client certificate and key for mTLS | none |
| ``COPRODUCE_METRICS_BIND`` | ``host:port`` where a worker serves Prometheus metrics (SDK and coproduce's own) | none (off) |
| ``COPRODUCE_OTLP_ENDPOINT`` | where to send OpenTelemetry traces (OTLP over HTTP, e.g. ``http://collector:4318/v1/traces``) | none (off) |
| ``COPRODUCE_SECRETS_DIR`` | a folder of secret files named after the variables (``coproduce_database_url``, ...) | none |
| ``COPRODUCE_CHECKPOINT_KEY`` | the checkpoint signing key (``PRIVATE+KEY+...``), from a secret store | the key file in the state directory |
| ``COPRODUCE_MASTER_KEY`` | base64 of 32 random bytes: wraps the people register's data keys (``workers/keys.py``) | the key file in the state directory |
| ``COPRODUCE_PREVIOUS_MASTER_KEYS`` | earlier master keys (base64, comma-separated, newest first): open data keys wrapped before a rotation (``coproduce keys rotate-master``) | the key file ``master-previous.keys`` in the state directory, if any |
| ``COPRODUCE_CODEC_TOKEN`` | the bearer token the codec server asks for (at least 32 characters) | the key file ``codec-server.token`` in the state directory, made on first use |
| ``COPRODUCE_PAYLOAD_KEYS`` | ``id=base64`` entries, comma-separated, the first encrypts: Temporal payload encryption | the key file in the state directory |
| ``COPRODUCE_WEB_TRUSTED_PROXIES`` | the reverse proxies whose ``X-Forwarded-For``/``-Proto`` the web app believes: IP addresses or networks, comma-separated | none (forwarded headers ignored) |
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "coproduce"


class Settings(BaseSettings):
    """Everything a coproduce process needs to know about where it runs."""

    # Secrets may come as files too (a container's /run/secrets): set COPRODUCE_SECRETS_DIR and name
    # each file after its variable, e.g. /run/secrets/coproduce_database_url.
    model_config = SettingsConfigDict(
        env_prefix="COPRODUCE_", extra="ignore", secrets_dir=os.environ.get("COPRODUCE_SECRETS_DIR")
    )

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset means the embedded server"
    )
    temporal_address: str | None = Field(
        default=None, description="host:port; unset means the embedded stack"
    )
    temporal_namespace: str = "default"
    task_queue: str = "coproduce"
    state_dir: Path = Field(default_factory=_default_state_dir)
    stack_ports: Literal["usual", "any"] = Field(
        default="usual",
        description="a new stack's ports: the usual ones when free, or any free ones (tests); then kept",
    )
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_origin: str = "coproduce/eventlog"
    checkpoint_key: SecretStr | None = Field(default=None, description="checkpoint signing key string")
    writer_key: SecretStr | None = Field(default=None, description="the key this process signs events with")
    trusted_writer_keys: str | None = Field(
        default=None, description="public keys of other writers whose events are trusted, comma separated"
    )
    master_key: SecretStr | None = None
    previous_master_keys: SecretStr | None = Field(
        default=None,
        description="earlier master keys, base64, comma separated: open keys wrapped before a rotation",
    )
    codec_token: SecretStr | None = Field(default=None, description="the codec server's bearer token")
    payload_keys: SecretStr | None = None
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_ca: Path | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    metrics_bind: str | None = None
    otlp_endpoint: str | None = None
    web_url: str | None = Field(
        default=None,
        description="the web app's public address, e.g. https://votes.example.org (links in mail)",
    )
    web_bind: str = Field(default="127.0.0.1:8000", description="host:port `coproduce web` listens on")
    web_trusted_proxies: str | None = Field(
        default=None,
        description="proxies whose X-Forwarded-For/-Proto the web app believes: addresses or networks, comma separated",
    )
    smtp_url: str | None = Field(
        default=None, description="smtp://, smtp+starttls:// or smtps:// mail server"
    )
    mail_from: str = Field(
        default="coproduce <coproduce@localhost>", description="the sender of coproduce's mail"
    )
    operator: str | None = Field(
        default=None, description="who the command line acts as (an operator's id); default: the OS user"
    )

    @property
    def embedded_postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def master_key_file(self) -> Path:
        return self.state_dir / "keys" / "master.key"

    @property
    def previous_master_keys_file(self) -> Path:
        return self.state_dir / "keys" / "master-previous.keys"

    @property
    def codec_token_file(self) -> Path:
        return self.state_dir / "keys" / "codec-server.token"

    @property
    def checkpoint_key_file(self) -> Path:
        return self.state_dir / "keys" / "checkpoint-signer.key"

    @property
    def writer_key_file(self) -> Path:
        return self.state_dir / "keys" / "event-writer.key"
