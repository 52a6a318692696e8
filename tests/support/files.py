"""What a test checks about the file system around a process it ran."""

from __future__ import annotations

from pathlib import Path


def modes_above(*paths: Path, below: Path = Path("/")) -> dict[Path, int]:
    """The mode of every folder above each of ``paths`` (those that exist), up to ``below``."""
    return {
        folder: folder.stat().st_mode & 0o7777
        for path in paths
        for folder in path.parents
        if folder.exists() and folder.is_relative_to(below)
    }
