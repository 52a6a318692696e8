"""``python -m app.seven.sandbox --port PORT --api-key KEY``: the sandbox's documented command.

The sandbox lives in the top-level package ``sandbox`` (``python -m sandbox``), outside the
production package, so the service's image does not carry it. This command stays because
the service contract documents it as the way to run the sandbox alone; it only hands
its arguments to ``sandbox``'s CLI, so it works wherever ``sandbox`` is present (a checkout,
the Dockerfile's sandbox stage), not in the service's image.
"""

from sandbox.cli import main

if __name__ == "__main__":
    main()
