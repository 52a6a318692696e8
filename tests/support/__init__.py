"""Test helpers shared by every suite, one module per concern: servers and databases (db,
sandbox, worker, api), rows and tenants (tenancy, costs), operations, polling, the CLI."""
