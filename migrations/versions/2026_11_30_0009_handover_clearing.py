"""what a holder set at seven goes with the holder; pools rest numbers a week by default

Revision ID: 0009_handover_clearing
Revises: 0008_numbers_missing
Create Date: 2026-11-30 13:00:00

A released number kept its holder's forwarding and name at seven, so the next holder's
inbound SMS (one-time codes) still went to the previous one. A release now
queues an ``update`` that clears them, and the number is nobody's to take until it has
succeeded (app/pools/handover.py):

* ``numbers.handover``: ``clearing``, ``clearing_failed`` or ``uncleared`` while a
  previous holder's settings may still be at seven, NULL when nothing of one is left;
  ``numbers.handover_operation_id``: the latest clearing.
* ``allocations.available_at`` is now NULL after a release until the clearing succeeded
  (the cool-down runs from then); no schema change.
* The trigger of 0005 also marks a number that leaves the account while held
  ``uncleared``: should seven list it again, it must be cleared before anyone gets it.

Existing data:

* Numbers already released whose mirror still shows a name or forwarding (the leak
  itself) get a queued clearing, exactly as a release now writes it; the worker's
  reconciler enqueues queued operations it finds without a job, so they run once the new
  worker starts. One with an operation pending is marked ``uncleared`` instead (an admin
  clears it: ``POST /v1/allocations/{number}/clearing``). Deleted numbers that were ever
  held are ``uncleared``, as the trigger would have marked them.
* Pools: the default cool-down becomes 7 days, and existing pools at 0 get 7. Until now
  0 was the default, so a stored 0 cannot be told from "never chose"; 0 hands the next
  tenant the number while the previous one's one-time codes still arrive. A pool that
  really wants 0 sets it again (``PATCH /v1/pools/{id}``). Pools with a cool-down keep it.

Downgrading drops the columns, restores the trigger of 0005 and the default 0 (pools
keep 7: which were 0 is not known any more), and makes released intervals still waiting
for their clearing available at their release, as the older code would have.
"""

# The SQL is assembled from this file's own constants, never from input.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_handover_clearing"
down_revision: str | None = "0008_numbers_missing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HANDOVER_STATES = "('clearing', 'clearing_failed', 'uncleared')"
# What app/pools/handover.py sends: every setting a holder can make at seven, emptied.
_CLEARED = '{"friendly_name": "", "sms_forward": [], "email_forward": [], "slack_forward": []}'

_RELEASE_DELETED_0005 = """
CREATE OR REPLACE FUNCTION numbers_release_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- greatest(): an interval opened at a later clock (tests set one) still ends
    -- at or after its start.
    UPDATE allocations
       SET released_at = greatest(now(), allocated_at),
           available_at = greatest(now(), allocated_at)
     WHERE number = NEW.number AND released_at IS NULL;
    NEW.tenant_id := NULL;
    RETURN NEW;
END
$$
"""

_RELEASE_DELETED = """
CREATE OR REPLACE FUNCTION numbers_release_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- greatest(): an interval opened at a later clock (tests set one) still ends
    -- at or after its start.
    UPDATE allocations
       SET released_at = greatest(now(), allocated_at),
           available_at = greatest(now(), allocated_at)
     WHERE number = NEW.number AND released_at IS NULL;
    -- Nothing is left at seven to clear now; should seven list the number again, what
    -- the holder set may come back with it.
    IF FOUND OR OLD.tenant_id IS NOT NULL OR OLD.handover IS NOT NULL THEN
        NEW.handover := 'uncleared';
    END IF;
    NEW.tenant_id := NULL;
    RETURN NEW;
END
$$
"""

# Live, nobody holds it now, somebody did, and seven (as last seen) still has a name or
# forwarding on it.
_LEFT_BEHIND = """
n.state IN ('active', 'deleting', 'missing') AND n.tenant_id IS NULL
AND EXISTS (SELECT 1 FROM allocations a WHERE a.number = n.number)
AND (n.friendly_name <> ''
     OR jsonb_path_exists(n.forward_sms_mo, '$.sms.number[*]')
     OR jsonb_path_exists(n.forward_sms_mo, '$.email.address[*]')
     OR coalesce(n.forward_sms_mo #>> '{slack,uri}', '') <> ''
     OR jsonb_path_exists(n.forward_sms_mo, '$.*.enabled ? (@ == true)'))
"""

_QUEUE_CLEARINGS = f"""
WITH left_behind AS (
    SELECT n.number,
           (SELECT a.tenant_id FROM allocations a WHERE a.number = n.number
             ORDER BY a.allocated_at DESC LIMIT 1) AS tenant_id
    FROM numbers n
    WHERE {_LEFT_BEHIND} AND n.pending_operation_id IS NULL
), queued AS (
    INSERT INTO operations (id, kind, status, number, params, tenant_id, request_id)
    SELECT gen_random_uuid(), 'update', 'queued', number, '{_CLEARED}'::jsonb, tenant_id,
           'migration:0009_handover_clearing'
    FROM left_behind
    RETURNING id, number
)
UPDATE numbers n
   SET pending_operation_id = q.id, handover = 'clearing', handover_operation_id = q.id
  FROM queued q
 WHERE n.number = q.number
"""


def upgrade() -> None:
    op.add_column("numbers", sa.Column("handover", sa.Text(), nullable=True))
    op.add_column("numbers", sa.Column("handover_operation_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_numbers_handover_operation_id_operations"),
        "numbers",
        "operations",
        ["handover_operation_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_numbers_handover"), "numbers", f"handover IN {_HANDOVER_STATES}"
    )
    op.execute(_RELEASE_DELETED)

    op.alter_column("pools", "cooldown_days", server_default=sa.text("7"))
    op.execute("UPDATE pools SET cooldown_days = 7 WHERE cooldown_days = 0")

    op.execute(_QUEUE_CLEARINGS)
    # Those with an operation pending could not get one.
    op.execute(
        f"UPDATE numbers n SET handover = 'uncleared' WHERE {_LEFT_BEHIND} AND n.handover IS NULL"
    )
    op.execute(
        "UPDATE numbers n SET handover = 'uncleared' WHERE n.state = 'deleted'"
        " AND EXISTS (SELECT 1 FROM allocations a WHERE a.number = n.number)"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE allocations SET available_at = released_at"
        " WHERE released_at IS NOT NULL AND available_at IS NULL"
    )
    op.alter_column("pools", "cooldown_days", server_default=sa.text("0"))
    op.execute(_RELEASE_DELETED_0005)
    op.drop_constraint(op.f("ck_numbers_handover"), "numbers", type_="check")
    op.drop_constraint(
        op.f("fk_numbers_handover_operation_id_operations"), "numbers", type_="foreignkey"
    )
    op.drop_column("numbers", "handover_operation_id")
    op.drop_column("numbers", "handover")
