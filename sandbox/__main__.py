"""``python -m sandbox --port PORT --api-key KEY``."""

from sandbox.cli import main

main()
