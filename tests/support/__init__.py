"""Test helpers shared by every suite (sandbox process, databases, workers)."""
