"""every write to numbers announces itself on the numbers_changed channel

Revision ID: 0006_numbers_change_notices
Revises: 0005_deleted_numbers_release
Create Date: 2026-11-27 21:05:00

Each API process keeps the mirror's numbers in memory (app.numbers.cache) and drops
them when PostgreSQL says they changed: after every INSERT, UPDATE or DELETE statement
on ``numbers`` that touched rows, NOTIFYs on ``numbers_changed`` name the numbers
(comma-separated, up to 400 a notice), and one ``*`` ("forget everything") stands for
them when a statement touched more than 5,000 rows or TRUNCATE emptied the table. The
triggers fire for every writer (API, worker, sync, CLI, psql), so no code path has to
remember to invalidate. NOTIFY is delivered only on commit, so a listener never hears
of a change it could not yet read.

Statement level, with transition tables, so the sync's 100,000-row insert costs one
notice, not 100,000 (the ``LIMIT 5001`` stops counting the transition table early).
PostgreSQL allows one event per trigger with transition tables, hence three triggers
over one function; an UPDATE names the rows as they were (``OLD TABLE``), which are
the numbers a reader may have cached.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_numbers_change_notices"
down_revision: str | None = "0005_deleted_numbers_release"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = {
    "numbers_notify_insert": "INSERT ON numbers REFERENCING NEW TABLE AS changed_numbers",
    "numbers_notify_update": "UPDATE ON numbers REFERENCING OLD TABLE AS changed_numbers",
    "numbers_notify_delete": "DELETE ON numbers REFERENCING OLD TABLE AS changed_numbers",
}


def upgrade() -> None:
    # Notices of at most 400 numbers (of up to 15 digits and a comma: below NOTIFY's
    # 8000-byte payload limit; the length check covers longer oddities), at most 5,000
    # numbers named per statement (the sync's 1 % re-sync is 1,000).
    op.execute(
        """
        CREATE FUNCTION notify_numbers_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            changed integer;
            payload text;
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                PERFORM pg_notify('numbers_changed', '*');
                RETURN NULL;
            END IF;
            SELECT count(*) INTO changed
              FROM (SELECT 1 FROM changed_numbers LIMIT 5001) AS first_rows;
            IF changed > 5000 THEN
                PERFORM pg_notify('numbers_changed', '*');
                RETURN NULL;
            END IF;
            -- No rows (an UPDATE that matched nothing, as in an unchanged re-sync): no loop.
            FOR payload IN
                SELECT string_agg(number, ',')
                  FROM (SELECT number, (row_number() OVER () - 1) / 400 AS chunk
                          FROM changed_numbers) AS numbered
                 GROUP BY chunk
            LOOP
                IF octet_length(payload) > 7900 THEN
                    payload := '*';
                END IF;
                PERFORM pg_notify('numbers_changed', payload);
            END LOOP;
            RETURN NULL;
        END $$
        """
    )
    for name, event in _TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event}"
            " FOR EACH STATEMENT EXECUTE FUNCTION notify_numbers_changed()"
        )
    op.execute(
        "CREATE TRIGGER numbers_notify_truncate AFTER TRUNCATE ON numbers"
        " FOR EACH STATEMENT EXECUTE FUNCTION notify_numbers_changed()"
    )


def downgrade() -> None:
    for name in [*_TRIGGERS, "numbers_notify_truncate"]:
        op.execute(f"DROP TRIGGER {name} ON numbers")
    op.execute("DROP FUNCTION notify_numbers_changed()")
