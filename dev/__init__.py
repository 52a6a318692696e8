"""Tools for developing the service, not part of it (its image holds none of this).

``python -m dev.server`` (``make run``) starts the whole service on one machine;
:mod:`dev.embedded` starts PostgreSQL and Redis for it and for the tests where none is given.
The sandbox imitating seven is the top-level package ``sandbox``.
"""
