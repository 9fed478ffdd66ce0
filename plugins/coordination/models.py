"""The coordination plugin's table: what this node knows about each peer office's link.

Outbox messages and inbox receipts are the engine's own tables; this row per peer adds what
a status page needs and a message row cannot hold: the last successful and failed contact,
the link-level retry time shared by all messages to that peer, the peer's clock offset, and
the refused requests that claimed to come from it.  Written by the delivery worker and the
inbox endpoint; read by ``simpul coordination status`` and the status page.

The table is the plugin's: declared on its own metadata and created by its own Alembic
history (``plugin_migrations`` hook), never by the engine's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from simpul.engine import UTCDateTime


class Base(DeclarativeBase):
    """The coordination plugin's own tables (migrated by its own history, ``migrations/``)."""


class PeerContact(Base):
    __tablename__ = "coordination_peers"

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: outgoing: the last batch the peer accepted, and the last that failed (link or refusal).
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: link failures since the last success; drives the link-level backoff.
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0)
    #: no new connection to the peer before this time (all its messages wait for the link).
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: seconds the peer's clock is ahead of ours, learnt from its answers.
    clock_offset: Mapped[float] = mapped_column(Float, default=0.0)
    messages_sent: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    bytes_sent: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    #: incoming: the last authenticated request from the peer.
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    messages_received: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    #: requests in the peer's name that were refused (bad signature, stale or replayed).
    refused: Mapped[int] = mapped_column(Integer, default=0)
    last_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_refusal: Mapped[str | None] = mapped_column(Text, nullable=True)


class PeerSummary(Base):
    """Per peer office, the outbox and inbox counted as they change: kept by triggers on the
    engine's ``outbox_messages`` and ``inbox_receipts`` (migration
    ``scale2_0002_coord_summaries``), so in the very transaction that writes a
    message, marks it sent or discarded, or records a receipt -- whoever writes it, the
    engine's worker or this plugin.  The status page reads these rows, not the sent history.

    ``sent`` counts every message acknowledged, those pruned since included."""

    __tablename__ = "coordination_peer_summaries"

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    waiting: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0, server_default="0")
    discarded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0, server_default="0")
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
