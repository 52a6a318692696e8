"""``python -m app.seven.sandbox --port PORT --api-key KEY``."""

from app.seven.sandbox.cli import main

main()
