"""What the benchmarks share: the PostgreSQL and Redis they run against, and the admin key."""

from __future__ import annotations

import os
import secrets

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Made per run: ADMIN_API_KEY refuses any key written in the repository.
ADMIN_KEY = "sn_admin_" + secrets.token_urlsafe(32)


def redis_url(database: int) -> str:
    """``BENCH_REDIS_URL``, or the local Redis's ``database`` (the benchmark's own)."""
    return os.environ.get("BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{database}")
