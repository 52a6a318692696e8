"""The closed vocabularies are written out once, as StrEnums (app.db.vocabulary).

Everywhere else in ``app/`` a value is named by its member, and SQL written by hand
renders it with ``app.db.vocabulary.sql``: renaming a value, or finding every place that
decides on one, is one search. The check reads the source. It fails on

* SQL text quoting a value (``state = 'active'``);
* a value of the vocabularies whose words mean nothing else in the service (a number's
  state, an operation's status, ...), wherever it stands;
* a value of the others, whose words are ordinary words too ("order", "tenant", "key"),
  where it decides on a column that holds one: compared with ``kind``, ``scope``,
  ``actor``..., given as such a keyword (``kind="sync"``) or to such a column's ``.in_()``.

Left alone: docstrings, the members' own definitions, dict keys (field names such as an
operation result's ``deleted``), and the sandbox, which imitates seven and names seven's
endpoints ("order", "update", "delete").
"""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

from app.db import vocabulary
from app.seven.types import PaymentInterval

APP = Path(__file__).resolve().parents[2] / "app"
SANDBOX = APP / "seven" / "sandbox"

# Values that are never anything else in app/: checked wherever they stand.
DISTINCT: list[type[StrEnum]] = [
    vocabulary.NumberState,
    vocabulary.OperationStatus,
    vocabulary.Handover,
    vocabulary.DriftKind,
    PaymentInterval,
]
# Values that are ordinary words too: checked where they decide something.
WORDS: list[type[StrEnum]] = [vocabulary.OperationKind, vocabulary.KeyScope, vocabulary.AuditActor]
COLUMNS = {"state", "status", "kind", "handover", "scope", "actor", "payment_interval"}

DISTINCT_VALUES = {member.value for enum in DISTINCT for member in enum}
ALL_VALUES = DISTINCT_VALUES | {member.value for enum in WORDS for member in enum}
QUOTED = re.compile("'(" + "|".join(sorted(ALL_VALUES)) + ")'")


def _exempt(node: ast.AST) -> list[ast.AST]:
    """The literals under ``node`` that may hold a value: its docstring, a StrEnum's
    member values, a dict's keys."""
    exempt: list[ast.AST] = []
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        first = node.body[0] if node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            exempt.append(first.value)
    if isinstance(node, ast.ClassDef) and any(
        isinstance(base, ast.Name) and base.id == "StrEnum" for base in node.bases
    ):
        exempt.extend(s.value for s in node.body if isinstance(s, ast.Assign))
    if isinstance(node, ast.Dict):
        exempt.extend(key for key in node.keys if key is not None)
    return exempt


def _column(node: ast.AST) -> bool:
    """Does ``node`` name one of the columns that hold a vocabulary (``operation.kind``)?"""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    return name in COLUMNS


def _decides(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """Is the literal compared with a column, given as its keyword, or passed to its
    ``.in_()``?"""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Tuple | ast.List | ast.Set):  # ("a", "b") as a whole
        node, parent = parent, parents.get(id(parent))
    if isinstance(parent, ast.Compare):
        return any(_column(operand) for operand in (parent.left, *parent.comparators))
    if isinstance(parent, ast.keyword):
        return parent.arg in COLUMNS
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute):
        return parent.func.attr in {"in_", "not_in"} and _column(parent.func.value)
    return False


def bare_vocabulary(source: str) -> list[tuple[int, str]]:
    """(line, literal) of each vocabulary value written out in ``source``."""
    parents: dict[int, ast.AST] = {}
    exempt: set[int] = set()
    literals: list[ast.Constant] = []
    for node in ast.walk(ast.parse(source)):
        parents.update((id(child), node) for child in ast.iter_child_nodes(node))
        exempt.update(id(literal) for literal in _exempt(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            literals.append(node)
    return sorted(
        (node.lineno, node.value)
        for node in literals
        if id(node) not in exempt
        and (
            QUOTED.search(node.value)
            or node.value in DISTINCT_VALUES
            or (node.value in ALL_VALUES and _decides(node, parents))
        )
    )


def test_no_vocabulary_value_is_written_out_in_app() -> None:
    found = [
        f"{path.relative_to(APP.parent)}:{line}: {literal!r}"
        for path in sorted(APP.rglob("*.py"))
        if SANDBOX not in path.parents
        for line, literal in bare_vocabulary(path.read_text())
    ]
    assert found == []


def test_the_check_finds_each_way_of_writing_a_value_out() -> None:
    source = '''
"""A docstring may say 'active' and order."""
from enum import StrEnum

class Colour(StrEnum):
    RED = "order"

SQL = "SELECT 1 FROM numbers WHERE state = 'deleting'"
FRAGMENT = f"kind IN {KINDS} AND status = 'queued'"
Interval = Literal["monthly", "annually"]
result = {"deleted": True, "tenant": tenant}
if operation.kind == "sync" or group_by == "tenant" or field in {"key", "message"}:
    pass
if scope in ("admin", "tenant"):
    pass
Operation(kind="delete", actor="cli", name="order")
stmt.where(Operation.kind.in_(("order",)), Pool.name.in_(["order"]))
handover = "clearing_failed"
tags = ["sync"]
'''
    found = bare_vocabulary(source)
    assert found == [
        (8, "SELECT 1 FROM numbers WHERE state = 'deleting'"),
        (9, " AND status = 'queued'"),
        (10, "annually"),
        (10, "monthly"),
        (12, "sync"),
        (14, "admin"),
        (14, "tenant"),
        (16, "cli"),
        (16, "delete"),
        (17, "order"),
        (18, "clearing_failed"),
    ]


def test_a_runs_statuses_are_the_operations_in_flight_and_finished_ones() -> None:
    # A sync run is an operation that never awaits approval: a status added to either
    # group belongs to runs too.
    statuses = (*vocabulary.IN_FLIGHT, *vocabulary.FINISHED)
    assert [status.value for status in vocabulary.RunStatus] == [s.value for s in statuses]
