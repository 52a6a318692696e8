"""The upstream: seven's phone-number API (client, payload types, errors, signing).

Nothing in here imports the service; the service imports from here.
"""

from app.seven import errors
from app.seven.client import DEFAULT_BASE_URL, SevenClient, parse_retry_after
from app.seven.errors import *  # noqa: F403 (the errors' own __all__ is the list)

__all__ = ["DEFAULT_BASE_URL", "SevenClient", "parse_retry_after", *errors.__all__]
