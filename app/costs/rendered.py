"""A cost report as every answer writes it, encoded once: the JSON of its rows and of its
totals, and its CSV.

A closed month's report is stored so (``app.costs.rollups``) and ``GET /v1/costs`` hands
the stored bytes to the response as they are: a report by number is ~97,000 rows, and
building their 390,000 ``Decimal`` figures again on every answer cost more than 100 ms.
Only what shows the figures one by one (the CLI's table, the console) decodes them
(:func:`decoded`), back to the exact ``Decimal`` amounts they were written from.

Amounts stay ``Decimal`` in the model and the service; here each becomes the one money
string (``app.lib.money``), in the JSON, in the CSV and in the CLI's table alike.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import msgspec

from app.costs.model import Report, Row
from app.lib.money import Money, money


class CostRowOut(msgspec.Struct, gc=False):
    """A report row as the API names it."""

    key: str
    name: str | None
    numbers: int
    recurring: Money
    setup: Money
    usage: Money
    total: Money


class CostTotalsOut(msgspec.Struct):
    numbers: int
    recurring: Money
    setup: Money
    usage: Money
    total: Money


class Rendered:
    """A report as the answers write it: its rows' JSON (an array of :class:`CostRowOut`),
    its totals' JSON (:class:`CostTotalsOut`) and its CSV (UTF-8: the header, the rows,
    then the totals keyed ``total``). Stored bytes are handed out as they are; a report
    computed live encodes each part on first use, so a JSON answer does not pay for the
    CSV's 97,000 lines, nor a CSV answer for the JSON."""

    __slots__ = ("_csv", "_report", "_rows", "_totals")

    def __init__(
        self,
        report: Report | None,
        rows: bytes | None = None,
        totals: bytes | None = None,
        csv: bytes | None = None,
    ) -> None:
        self._report, self._rows, self._totals, self._csv = report, rows, totals, csv

    @property
    def rows(self) -> msgspec.Raw:
        if self._rows is None:
            self._rows = _encoder.encode([row_out(row) for row in self._decoded().rows])
        return msgspec.Raw(self._rows)

    @property
    def totals(self) -> msgspec.Raw:
        if self._totals is None:
            self._totals = _encoder.encode(totals_out(self._decoded().totals))
        return msgspec.Raw(self._totals)

    @property
    def csv(self) -> bytes:
        if self._csv is None:
            self._csv = report_csv(self._decoded()).encode()
        return self._csv

    def _decoded(self) -> Report:
        if self._report is None:
            if self._rows is None or self._totals is None:
                raise ValueError("a report read back as CSV alone has no rows to decode")
            self._report = _decode(self)
        return self._report


def row_cells(row: Row) -> tuple[str, str | None, int, str, str, str, str]:
    """A row's figures in :data:`CSV_COLUMNS` order, amounts as money strings."""
    return (
        row.key,
        row.name,
        row.numbers,
        money(row.recurring),
        money(row.setup),
        money(row.usage),
        money(row.total),
    )


def row_out(row: Row) -> CostRowOut:
    return CostRowOut(*row_cells(row))


def totals_out(row: Row) -> CostTotalsOut:
    return CostTotalsOut(*row_cells(row)[2:])


# The name beside the key, as people read a table; then the figures in the row's order.
CSV_COLUMNS = ("key", "name", *(f for f in Row.__struct_fields__ if f not in ("key", "name")))


def report_csv(report: Report) -> str:
    """The same rows as the JSON, then the totals as a last row keyed ``total``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(row_cells(row) for row in [*report.rows, report.totals])
    return out.getvalue()


_encoder = msgspec.json.Encoder()


def encoded_row(row: Row) -> bytes:
    """``row`` as an element of the rows' JSON array (``app.costs.splice``)."""
    return _encoder.encode(row_out(row))


def encoded_totals(row: Row) -> bytes:
    """``row`` as the totals' JSON."""
    return _encoder.encode(totals_out(row))


def render(report: Report) -> Rendered:
    """``report`` as the answers write it, each part encoded when first asked for."""
    return Rendered(report)


def stored(
    rows: bytes | None = None, totals: bytes | None = None, csv: bytes | None = None
) -> Rendered:
    """A report from the parts it was written as (``app.costs.rollups``): the rows' and
    totals' JSON, which can make the CSV too; or the CSV alone."""
    return Rendered(None, rows, totals, csv)


def decoded(rendered: Rendered) -> Report:
    """The report ``rendered`` was written from, figures as exact ``Decimal``s: decoded
    only when it was stored."""
    return rendered._decoded()


class _TotalsIn(msgspec.Struct, gc=False):
    numbers: int
    recurring: Decimal
    setup: Decimal
    usage: Decimal
    total: Decimal


# Read back by field name (the JSON's), money strings into ``Decimal``: exactly the
# amounts they were written from, which are rounded to cents.
_rows_decoder = msgspec.json.Decoder(list[Row])
_totals_decoder = msgspec.json.Decoder(_TotalsIn)


def _decode(rendered: Rendered) -> Report:
    t = _totals_decoder.decode(rendered.totals)
    totals = Row("total", t.numbers, t.recurring, t.setup, t.usage, t.total)
    return Report(_rows_decoder.decode(rendered.rows), totals)
