"""Whether a number fits a pool: the rule both an order into a pool (app.operations) and
putting a number into one (app.pools) answer to, so it lives below both."""

from __future__ import annotations

from app.db.models import Number, Pool
from app.lib.errors import InvalidInput


def check_fits(pool: Pool, digits: str, country: str | None, number: Number | None = None) -> None:
    """Raise ``pool_constraints_not_met`` unless a number of ``country`` fits ``pool``.

    Its features are checked only with its mirror row (``number``): seven tells a number's
    features once it is ordered, so an order into a pool is held to the country alone
    (``order_if_empty`` picks candidates from seven's search, which lists them).
    """
    problems = []
    if pool.country and country != pool.country:
        problems.append(f"it is in {country}, the pool takes only {pool.country}")
    if number is not None:
        missing = [name for name in pool.features if not getattr(number, f"feature_{name}")]
        if missing:
            problems.append(f"it lacks the pool's features {missing}")
    if problems:
        raise InvalidInput(
            f"number {digits} does not fit the pool: {'; '.join(problems)}",
            code="pool_constraints_not_met",
            details={"problems": problems},
        )
