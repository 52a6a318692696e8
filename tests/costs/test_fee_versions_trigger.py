"""The fee history kept by the triggers on ``numbers`` (migrations 0003 and 0004).

Inserts are recorded once per statement (the first sync inserts 100,000 rows at once),
updates once per row; these tests pin what each must record.
"""

from __future__ import annotations

from decimal import Decimal

from tests.support.db import connected

_INSERT_MANY = """
INSERT INTO numbers (number, country, payment_interval, fee_setup, fee_basic_charge,
                     fee_sms_mo, fee_voice_mo, state)
SELECT n, 'DE', 'monthly', NULL, CASE WHEN i % 2 = 0 THEN NULL ELSE 2.5 END, 0.1, NULL,
       CASE WHEN i % 2 = 0 THEN 'ordering' ELSE 'active' END
FROM (SELECT i, (4915100000000 + i)::text AS n FROM generate_series(1, 6) i) s
"""


async def test_a_many_row_insert_records_one_version_per_number_with_fees(
    database_url: str,
) -> None:
    async with connected(database_url) as conn:
        await conn.execute(_INSERT_MANY)
        versions = await conn.fetch(
            "SELECT number, payment_interval, fee_setup, fee_basic_charge, fee_sms_mo,"
            " fee_voice_mo, valid_from > now() - interval '1 minute' AS recent"
            " FROM number_fee_versions ORDER BY number"
        )
        # Numbers still being ordered (no fees yet) get none; missing fees count as 0.
        assert [tuple(v) for v in versions] == [
            (f"491510000000{i}", "monthly", 0, Decimal("2.5"), Decimal("0.1"), 0, True)
            for i in (1, 3, 5)
        ]

        # An ordered number's fees arriving is its first version; a name change is none.
        await conn.execute("UPDATE numbers SET fee_basic_charge = 3 WHERE number = '4915100000002'")
        await conn.execute("UPDATE numbers SET friendly_name = 'x'")
        count = await conn.fetchval("SELECT count(*) FROM number_fee_versions")
        assert count == 4
