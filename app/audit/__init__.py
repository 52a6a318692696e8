"""The audit trail. Importing the package registers the operations listener (capture)."""

from app.audit import capture as capture
