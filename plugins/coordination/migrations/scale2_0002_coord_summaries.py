"""coordination: per-peer summaries of the outbox and inbox, kept in the writing transaction

The status page used to count the whole outbox on every load (at a regency, every message
ever sent).  ``coordination_peer_summaries`` holds one row per peer office: messages waiting,
sent (acknowledged, pruned ones included), discarded, the last sent, and the receipts from
it.  Triggers on ``outbox_messages`` (insert, status change, delete) and on ``inbox_receipts``
(insert) keep the rows in the same transaction as the write, whichever code writes.

Runs on a database already holding outbox rows and receipts: the summaries are counted from
them here, once.

Revision ID: scale2_0002_coord_summaries
Revises: coordination_0001_peers
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "scale2_0002_coord_summaries"
down_revision = "coordination_0001_peers"
branch_labels = None
depends_on = None

TABLE = "coordination_peer_summaries"

BACKFILL = [
    f"""INSERT INTO {TABLE} (office_code, waiting, sent, discarded, last_sent_at, received)
    SELECT destination_office,
           SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END),
           SUM(CASE WHEN status = 'discarded' THEN 1 ELSE 0 END),
           MAX(CASE WHEN status = 'sent' THEN sent_at END), 0
    FROM outbox_messages GROUP BY destination_office""",
    f"""INSERT INTO {TABLE} (office_code, waiting, sent, discarded, received)
    SELECT DISTINCT source_office, 0, 0, 0, 0 FROM inbox_receipts
    WHERE source_office NOT IN (SELECT office_code FROM {TABLE})""",
    f"""UPDATE {TABLE} SET
      received = (SELECT COUNT(*) FROM inbox_receipts r WHERE r.source_office = {TABLE}.office_code),
      last_received_at = (SELECT MAX(received_at) FROM inbox_receipts r WHERE r.source_office = {TABLE}.office_code)""",
]


SQLITE_UP = [
    f"""CREATE TRIGGER coordination_outbox_insert AFTER INSERT ON outbox_messages BEGIN
    INSERT OR IGNORE INTO {TABLE} (office_code, waiting, sent, discarded, received)
      VALUES (new.destination_office, 0, 0, 0, 0);
    UPDATE {TABLE} SET waiting = waiting + (new.status = 'pending'), sent = sent + (new.status = 'sent'),
      discarded = discarded + (new.status = 'discarded'),
      last_sent_at = CASE WHEN new.status = 'sent' AND (last_sent_at IS NULL OR new.sent_at > last_sent_at)
                          THEN new.sent_at ELSE last_sent_at END
    WHERE office_code = new.destination_office;
    END""",
    f"""CREATE TRIGGER coordination_outbox_status AFTER UPDATE OF status ON outbox_messages
    WHEN old.status IS NOT new.status BEGIN
    INSERT OR IGNORE INTO {TABLE} (office_code, waiting, sent, discarded, received)
      VALUES (new.destination_office, 0, 0, 0, 0);
    UPDATE {TABLE} SET
      waiting = waiting + (new.status = 'pending') - (old.status = 'pending'),
      sent = sent + (new.status = 'sent') - (old.status = 'sent'),
      discarded = discarded + (new.status = 'discarded') - (old.status = 'discarded'),
      last_sent_at = CASE WHEN new.status = 'sent' AND (last_sent_at IS NULL OR new.sent_at > last_sent_at)
                          THEN new.sent_at ELSE last_sent_at END
    WHERE office_code = new.destination_office;
    END""",
    # a pruned sent row stays counted as sent
    f"""CREATE TRIGGER coordination_outbox_delete AFTER DELETE ON outbox_messages BEGIN
    UPDATE {TABLE} SET waiting = waiting - (old.status = 'pending'), discarded = discarded - (old.status = 'discarded')
    WHERE office_code = old.destination_office;
    END""",
    f"""CREATE TRIGGER coordination_receipt_insert AFTER INSERT ON inbox_receipts BEGIN
    INSERT OR IGNORE INTO {TABLE} (office_code, waiting, sent, discarded, received)
      VALUES (new.source_office, 0, 0, 0, 0);
    UPDATE {TABLE} SET received = received + 1,
      last_received_at = CASE WHEN last_received_at IS NULL OR new.received_at > last_received_at
                              THEN new.received_at ELSE last_received_at END
    WHERE office_code = new.source_office;
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS coordination_receipt_insert",
    "DROP TRIGGER IF EXISTS coordination_outbox_delete",
    "DROP TRIGGER IF EXISTS coordination_outbox_status",
    "DROP TRIGGER IF EXISTS coordination_outbox_insert",
]

POSTGRES_UP = [
    f"""CREATE FUNCTION coordination_outbox_summary() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE {TABLE} SET waiting = waiting - (OLD.status = 'pending')::int,
          discarded = discarded - (OLD.status = 'discarded')::int,
          sent = sent - (CASE WHEN TG_OP = 'UPDATE' THEN (OLD.status = 'sent')::int ELSE 0 END)
        WHERE office_code = OLD.destination_office;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {TABLE} AS s (office_code, waiting, sent, discarded, last_sent_at, received)
        VALUES (NEW.destination_office, (NEW.status = 'pending')::int, (NEW.status = 'sent')::int,
                (NEW.status = 'discarded')::int, CASE WHEN NEW.status = 'sent' THEN NEW.sent_at END, 0)
        ON CONFLICT (office_code) DO UPDATE SET waiting = s.waiting + EXCLUDED.waiting,
          sent = s.sent + EXCLUDED.sent, discarded = s.discarded + EXCLUDED.discarded,
          last_sent_at = GREATEST(s.last_sent_at, EXCLUDED.last_sent_at);
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER coordination_outbox_insert AFTER INSERT OR DELETE ON outbox_messages
    FOR EACH ROW EXECUTE FUNCTION coordination_outbox_summary()""",
    """CREATE TRIGGER coordination_outbox_status AFTER UPDATE OF status ON outbox_messages
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION coordination_outbox_summary()""",
    f"""CREATE FUNCTION coordination_receipt_summary() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO {TABLE} AS s (office_code, waiting, sent, discarded, received, last_received_at)
      VALUES (NEW.source_office, 0, 0, 0, 1, NEW.received_at)
      ON CONFLICT (office_code) DO UPDATE SET received = s.received + 1,
        last_received_at = GREATEST(s.last_received_at, EXCLUDED.last_received_at);
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER coordination_receipt_insert AFTER INSERT ON inbox_receipts
    FOR EACH ROW EXECUTE FUNCTION coordination_receipt_summary()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS coordination_receipt_insert ON inbox_receipts",
    "DROP TRIGGER IF EXISTS coordination_outbox_status ON outbox_messages",
    "DROP TRIGGER IF EXISTS coordination_outbox_insert ON outbox_messages",
    "DROP FUNCTION IF EXISTS coordination_receipt_summary()",
    "DROP FUNCTION IF EXISTS coordination_outbox_summary()",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    if sa.inspect(op.get_bind()).has_table(TABLE):
        # a database whose plugin history was stamped back by hand: the summaries are only
        # counts of the outbox, so they are counted again
        for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
            op.execute(statement)
        op.drop_table(TABLE)
    counter = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        TABLE,
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("waiting", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent", counter, server_default="0", nullable=False),
        sa.Column("discarded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_sent_at", UTCDateTime(), nullable=True),
        sa.Column("received", counter, server_default="0", nullable=False),
        sa.Column("last_received_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("office_code"),
    )
    # counted first, then kept: the upgrade runs while no step writes (the node is stopped)
    for statement in BACKFILL:
        op.execute(statement)
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table(TABLE)
