"""An append-only, hash-chained event log on PostgreSQL. Generic: it knows streams, not engagements.

Start here:

- ``migrate(url)`` creates the schema and roles (``eventlog.migrate``);
- ``EventLog.open(url)`` appends (``append``) and reads (``read_stream``, ``read_all``);
- ``grant_scope`` limits a database login to the streams of some scopes (``assign_scope``);
- ``CatchUpSubscription`` feeds a projection every event exactly once;
- ``verify_database`` / ``verify_jsonl`` recompute the hash chain and Merkle root and compare them with
  signed checkpoints (``checkpoint_database`` makes one);
- ``merkle`` holds RFC 6962 proofs, ``checkpoint`` the C2SP signed notes, ``canonical`` RFC 8785 JSON.
"""

from .canonical import CanonicalJSONError, canonical_json
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    WitnessSigner,
    WitnessVerifier,
    cosign,
    cosignatures,
    open_checkpoint,
    sign_checkpoint,
)
from .errors import ConcurrencyError, DuplicateEventError, EventLogError, IntegrityError
from .events import AppendResult, NewEvent, RecordedEvent
from .migrate import AUDITOR_ROLE, OWNER_ROLE, SCOPED_AUDITOR_ROLE, WRITER_ROLE, MigrationError, migrate
from .scopes import ScopeError, assign_scope, grant_scope, reader_scopes, revoke_scope, unscoped_streams
from .store import NOTIFY_CHANNEL, EventLog, encode_batch
from .subscription import CatchUpSubscription
from .upcasting import UpcasterRegistry
from .verify import (
    VerifyReport,
    checkpoint_database,
    export_jsonl,
    verify_database,
    verify_entries,
    verify_jsonl,
)

__all__ = [
    "AUDITOR_ROLE",
    "NOTIFY_CHANNEL",
    "OWNER_ROLE",
    "SCOPED_AUDITOR_ROLE",
    "WRITER_ROLE",
    "AppendResult",
    "CanonicalJSONError",
    "CatchUpSubscription",
    "Checkpoint",
    "CheckpointError",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventLog",
    "EventLogError",
    "IntegrityError",
    "MigrationError",
    "NewEvent",
    "RecordedEvent",
    "ScopeError",
    "Signer",
    "UpcasterRegistry",
    "Verifier",
    "VerifyReport",
    "WitnessSigner",
    "WitnessVerifier",
    "assign_scope",
    "canonical_json",
    "checkpoint_database",
    "cosign",
    "cosignatures",
    "encode_batch",
    "export_jsonl",
    "grant_scope",
    "migrate",
    "open_checkpoint",
    "reader_scopes",
    "revoke_scope",
    "sign_checkpoint",
    "unscoped_streams",
    "verify_database",
    "verify_entries",
    "verify_jsonl",
]
