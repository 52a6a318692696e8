"""Mutation run (``make mutate``): deliberately broken copies of the money- and
isolation-critical modules, each run against the tests of its feature only.

    python bench/mutate.py                 # every module below, one after the other
    python bench/mutate.py diff tenancy    # some of them

Each module is mutated by cosmic-ray in a copy of the working tree under
``.data/mutate/<name>/tree`` (cosmic-ray edits the file in place; the copy leaves the
checkout alone, and the sandbox and worker processes the tests start import the copy too).
A session (``.data/mutate/<name>.sqlite``) keeps each mutant's result, so an interrupted
run goes on where it stopped; ``--fresh`` starts over. A mutant is *killed* when its tests
fail (or time out); a survivor is printed with its diff, to be killed by a test or judged
equivalent (bench/README.md keeps the scores and the judgements).
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".data" / "mutate"

# module name -> (file, the tests of its feature)
MODULES: dict[str, tuple[str, list[str]]] = {
    "tenancy": (
        "app/lib/tenancy.py",
        [
            "tests/tenants/test_acting_tenant.py",
            "tests/tenants/test_tenant_isolation.py",
            "tests/tenants/test_tenant_errors.py",
            # may_see: the same rule for rows held in the API's cache.
            "tests/numbers/test_number_cache.py",
        ],
    ),
    "listener": (
        "app/numbers/listener.py",
        ["tests/numbers/test_number_cache.py", "tests/numbers/test_number_cache_alone.py"],
    ),
    "policy": (
        "app/operations/policy.py",
        ["tests/operations/test_operations_policy.py", "tests/operations/test_fault_matrix.py"],
    ),
    "diff": (
        "app/sync/diff.py",
        ["tests/sync/test_sync.py", "tests/sync/test_sync_missing.py"],
    ),
    "money": ("app/lib/money.py", ["tests/lib/test_money.py"]),
    "costs": (
        "app/costs/sql.py",
        ["tests/costs/test_costs.py", "tests/costs/test_costs_property.py"],
    ),
    "executor": (
        "app/operations/executor.py",
        [
            "tests/operations/test_fault_matrix.py",
            "tests/operations/test_worker_operations.py",
            "tests/operations/test_operations_orphaned_write.py",
            "tests/operations/test_fault_sequences.py",
        ],
    ),
}

# Operator swaps that only produce type errors or dead arithmetic in this code (bit shifts,
# powers and modulo of strings, datetimes and SQLAlchemy expressions): each would cost a
# full test run to learn nothing. Comparisons, boolean logic, numbers and the arithmetic
# swaps between + - * / stay.
EXCLUDED_OPERATORS = [
    r"core/ReplaceBinaryOperator_.*_(BitAnd|BitOr|BitXor|LShift|RShift|Pow|Mod|FloorDiv)$",
    r"core/ReplaceBinaryOperator_(BitAnd|BitXor|LShift|Pow|Mod|FloorDiv)_.*",
    r"core/ReplaceUnaryOperator_.*",
    r"core/VariableInserter",
    r"core/VariableReplacer",
]

# Seconds a mutant's tests may take before it counts as killed (an endless loop or wait).
TIMEOUT = 300


def copy_tree(target: Path) -> None:
    """The working tree as it is now (uncommitted changes included), without .data."""
    if target.exists():
        shutil.rmtree(target)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def config(module: str, tests: list[str]) -> str:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    excluded = ", ".join(f"'{pattern}'" for pattern in EXCLUDED_OPERATORS)
    return f"""[cosmic-ray]
module-path = "{module}"
timeout = {TIMEOUT}
excluded-modules = []
test-command = "{" ".join(command)}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = [{excluded}]
"""


def annotation_lines(path: Path) -> set[int]:
    """Lines holding only type annotations: ``from __future__ import annotations`` leaves
    them unevaluated, so a mutant there (``int | None`` to ``int - None``) changes nothing."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in filter(None, annotations):
            lines.update(range(annotation.lineno, (annotation.end_lineno or 0) + 1))
    return lines


def skip_annotations(session: Path, module: Path) -> None:
    """Mark the pending mutants inside annotations as skipped, like a filtered operator."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    lines = annotation_lines(module)
    with use_db(str(session), mode=WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            if all(mutation.start_pos[0] in lines for mutation in item.mutations):
                skipped = WorkResult(
                    output="in an annotation", worker_outcome=WorkerOutcome.SKIPPED
                )
                db.set_result(item.job_id, skipped)


def run(name: str, fresh: bool) -> tuple[int, int]:
    module, tests = MODULES[name]
    tree = WORK / name / "tree"
    session = WORK / f"{name}.sqlite"
    copy_tree(tree)
    (tree / "mutate.toml").write_text(config(module, tests))
    bin_dir = Path(sys.executable).parent
    if fresh or not session.exists():
        session.unlink(missing_ok=True)
        cosmic = [str(bin_dir / "cosmic-ray"), "init", "mutate.toml", str(session)]
        subprocess.run(cosmic, cwd=tree, check=True)
        operators = [str(bin_dir / "cr-filter-operators"), str(session), "mutate.toml"]
        subprocess.run(operators, cwd=tree, check=True)
        skip_annotations(session, tree / module)
    subprocess.run(
        [str(bin_dir / "cosmic-ray"), "exec", "mutate.toml", str(session)], cwd=tree, check=True
    )
    report = subprocess.run(
        [str(bin_dir / "cr-report"), "--show-output", str(session)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (WORK / f"{name}.report.txt").write_text(report)
    return score(session)


def score(session: Path) -> tuple[int, int]:
    """(killed, total) over the mutants that ran; a skipped one (filtered) is not counted."""
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT lower(test_outcome) FROM work_results"
            " WHERE lower(worker_outcome) IN ('normal', 'exception', 'abnormal')"
        ).fetchall()
    # An incompetent mutant (it does not even import) is one the tests could not miss.
    killed = sum(1 for (outcome,) in rows if outcome in ("killed", "incompetent"))
    return killed, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--fresh", action="store_true", help="start each module over")
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown modules: {', '.join(sorted(unknown))}")
    for name in args.modules or MODULES:
        killed, total = run(name, args.fresh)
        share = f"{killed / total:.0%}" if total else "-"
        print(
            f"{name}: {killed}/{total} mutants killed ({share}); survivors in "
            f".data/mutate/{name}.report.txt"
        )


if __name__ == "__main__":
    main()
