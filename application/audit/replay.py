"""Replay the whole event log into every engagement's timeline, streaming, in flat memory.

``replay_timelines(url)`` reads ``eventlog.audit_events`` once, ordered by (stream id, stream version),
in pages (keyset pagination on those columns, which PostgreSQL answers from the log's unique index on
them: no sort, nothing materialised), all inside one read-only snapshot. It decodes each event from its
hashed bytes, runs ``history.timeline`` over each stream as the rows arrive, and yields
``(engagement id, TimelineEntry)`` pairs: an engagement's entries in order, engagements one after the
other. Only one batch of rows and one engagement's state are held at a time, so memory does not grow
with the log.

Decoding takes the content from the canonical bytes (``entry``), never from the query columns, as
every read of the log does. The envelope's fixed shape (RFC 8785: keys sorted, no whitespace) lets
the payload be handed to the domain's JSON validator as it lies in the bytes, without building a
dictionary first; an envelope of any other shape is parsed whole instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import chain, groupby
from operator import itemgetter
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
from psycopg import sql

from application.privacy.register import forgotten_stream
from application.privacy.sealing import PREFIX, open_sealed
from domain.events import event_from_json, event_from_record
from eventlog import RecordedEvent

from .history import DecodedEvent, TimelineEntry, timeline

# One page of the log in (stream id, stream version) order, after a given key: keyset pagination,
# which PostgreSQL answers by walking the unique index on those columns (no sort, nothing materialised).
REPLAY_QUERY = (
    "SELECT stream_id, stream_version, position, recorded_at, entry FROM eventlog.audit_events "
    "WHERE (stream_id, stream_version) > (%s, %s) ORDER BY stream_id, stream_version LIMIT %s"
)

_raw_decode = json.JSONDecoder().raw_decode
_HEAD = '{"event_id":"'  # then 36 characters of uuid
_METADATA = '","metadata":'
_OCCURRED = ',"occurred_at":"'
_PAYLOAD = '","payload":'
_VERSION = ',"schema_version":'
_TYPE = '"type":"'


class RecordedRow(NamedTuple):
    """What the timeline reads of a stored event besides its domain event (see ``history.timeline``)."""

    position: int
    stream_version: int
    recorded_at: datetime
    type: str
    actor: str | None


def decode_entry(entry: bytes) -> tuple[str, int, dict[str, Any], str | dict[str, Any]]:
    """``(type, schema_version, metadata, payload)`` of an event's canonical bytes.

    ``payload`` is the payload's JSON text, cut from the bytes, when the envelope has the shape
    ``NewEvent.envelope`` writes; otherwise (any other shape) the whole entry is parsed and ``payload``
    is a dictionary. Cutting is safe: the metadata object is parsed to find where it ends, and the
    last ``,"schema_version":`` and ``"type":"`` in the bytes can only be the envelope's own keys after
    the payload, because all that follows them is two strings, and a quote inside a JSON string is
    always escaped.
    """
    text = entry.decode()
    if text.startswith(_HEAD) and text.startswith(_METADATA, 49):
        try:
            metadata, end = _raw_decode(text, 62)
            if text.startswith(_OCCURRED, end):
                quote = text.index('"', end + 16)
                version_at = text.rfind(_VERSION)
                type_at = text.rfind(_TYPE)
                if (
                    text.startswith(_PAYLOAD, quote)
                    and type(metadata) is dict
                    and quote < version_at < type_at
                    and text.endswith('"}')
                ):
                    event_type = text[type_at + 8 : -2]
                    version = text[version_at + 18 : text.index(",", version_at + 18)]
                    if "\\" not in event_type and version.isdigit():
                        return event_type, int(version), metadata, text[quote + 12 : version_at]
        except ValueError:
            pass  # not the usual shape after all: parse it whole below
    doc = json.loads(text)
    return doc["type"], doc["schema_version"], doc.get("metadata") or {}, doc["payload"]


SEALED = '"' + PREFIX
FORGOTTEN_PREFIX = forgotten_stream("")


def decode_rows(rows: Iterable[tuple[Any, ...]]) -> Iterator[DecodedEvent]:
    """Rows of ``REPLAY_QUERY`` (one stream's) as ``DecodedEvent`` items for ``history.timeline``."""
    for _, stream_version, position, recorded_at, entry in rows:
        event_type, schema_version, metadata, payload = decode_entry(entry)
        if isinstance(payload, str) and SEALED in payload:  # personal text: shown as withheld
            payload = open_sealed(event_type, json.loads(payload), UUID(int=0), None)
        if isinstance(payload, str):
            event = event_from_json(event_type, schema_version, payload)
        else:
            event = event_from_record(event_type, schema_version, payload)
        stored = RecordedRow(position, stream_version, recorded_at, event_type, metadata.get("actor"))
        # The timeline reads only RecordedRow's fields of the record; a full RecordedEvent would cost a
        # second parse of every payload (it holds the payload as a dictionary) for nothing.
        yield DecodedEvent(cast(RecordedEvent, stored), event)


def read_pages(conn: psycopg.Connection[Any], batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every row of ``REPLAY_QUERY``, a page at a time, on ``conn`` (in the caller's transaction)."""
    key: tuple[str, int] = ("", 0)  # before every stream: ids are never empty, versions start at 1
    while True:
        rows = conn.cursor(binary=True).execute(REPLAY_QUERY, (*key, batch_size)).fetchall()
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        key = rows[-1][0], rows[-1][1]


def replay_timelines(
    conninfo: str, *, role: str | None = None, batch_size: int = 5000
) -> Iterator[tuple[str, TimelineEntry]]:
    """Every engagement's timeline, from one consistent snapshot of the log, as it is read.

    Yields ``(engagement id, entry)``. ``role`` is taken after connecting (e.g. the read-only auditor
    role). An event the domain cannot read (``RecordError``) or its rules refuse (``DomainError``)
    raises, as it would replaying that engagement alone; close the generator early to stop reading.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        with conn.transaction():  # one snapshot for every page
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rows = chain.from_iterable(read_pages(conn, batch_size))
            for stream_id, stream_rows in groupby(rows, key=itemgetter(0)):
                if stream_id.startswith(FORGOTTEN_PREFIX):
                    continue  # who was forgotten: not an engagement's own events
                for entry in timeline(decode_rows(stream_rows)):
                    yield stream_id, entry
