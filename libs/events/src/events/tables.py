"""The outbox and inbox tables every service database carries, and their DDL for migrations."""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

NOTIFY_CHANNEL = "events_outbox"

metadata = MetaData()

outbox = Table(
    "outbox",
    metadata,
    # seq orders the relay's claims; the event id is the idempotency key downstream.
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("envelope", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
)
Index(
    "outbox_pending",
    outbox.c.available_at,
    outbox.c.seq,
    postgresql_where=outbox.c.published_at.is_(None),
)

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("event_id", Uuid, primary_key=True),
    Column("event_type", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("inbox_processed_at", inbox.c.processed_at)

# A statement-level trigger wakes the relay once per transaction that wrote to the outbox; the
# notification is delivered at commit, so a rolled-back transaction wakes no one.
_NOTIFY_FUNCTION = DDL(  # type: ignore[no-untyped-call]
    f"""
    CREATE OR REPLACE FUNCTION events_outbox_notify() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """
)
_NOTIFY_TRIGGER = DDL(  # type: ignore[no-untyped-call]
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
    "FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify()"
)
event.listen(outbox, "after_create", _NOTIFY_FUNCTION)
event.listen(outbox, "after_create", _NOTIFY_TRIGGER)


def create_bus_tables(connection: Connection) -> None:
    """Create the outbox (with its trigger) and the inbox: call it from a service's migration."""
    metadata.create_all(connection, checkfirst=True)


def drop_bus_tables(connection: Connection) -> None:
    metadata.drop_all(connection, checkfirst=True)
    connection.execute(text("DROP FUNCTION IF EXISTS events_outbox_notify()"))
