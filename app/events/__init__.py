"""Events for other services: the outbox every change of state writes to (``emit``), the
events API, and (later slices) webhook endpoints and their delivery."""
