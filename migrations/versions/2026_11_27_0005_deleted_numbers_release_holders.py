"""a number that becomes deleted is released by its holder

Revision ID: 0005_deleted_numbers_release
Revises: 0004_fee_versions_per_statement
Create Date: 2026-11-27 19:25:00

A number leaves the account through the worker (an immediate delete), the sync (seven no
longer lists it, or its period-end expiry passed) or by hand. Whichever writes
``state = 'deleted'``, the tenant's allocation interval must end then, or the tenant would
go on "holding" a number nobody has. One row trigger on that transition does it for every
path; its WHEN clause keeps it off every other update (the sync's bulk updates included).
No cool-down: nobody can be given a deleted number.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_deleted_numbers_release"
down_revision: str | None = "0004_fee_versions_per_statement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION numbers_release_deleted() RETURNS trigger
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
    )
    op.execute(
        """
        CREATE TRIGGER numbers_release_deleted
        BEFORE UPDATE OF state ON numbers
        FOR EACH ROW
        WHEN (NEW.state = 'deleted' AND OLD.state IS DISTINCT FROM 'deleted')
        EXECUTE FUNCTION numbers_release_deleted()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER numbers_release_deleted ON numbers")
    op.execute("DROP FUNCTION numbers_release_deleted()")
