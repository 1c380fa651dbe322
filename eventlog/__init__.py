"""An append-only, hash-chained event log on PostgreSQL. Generic: it knows streams, not engagements.

Start here:

- ``migrate(url)`` creates the schema and roles (``eventlog.migrate``);
- ``EventLog.open(url)`` appends (``append``) and reads (``read_stream``, ``read_all``);
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
from .migrate import AUDITOR_ROLE, OWNER_ROLE, WRITER_ROLE, MigrationError, migrate
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
    "Signer",
    "UpcasterRegistry",
    "Verifier",
    "VerifyReport",
    "WitnessSigner",
    "WitnessVerifier",
    "canonical_json",
    "checkpoint_database",
    "cosign",
    "cosignatures",
    "encode_batch",
    "export_jsonl",
    "migrate",
    "open_checkpoint",
    "sign_checkpoint",
    "verify_database",
    "verify_entries",
    "verify_jsonl",
]
