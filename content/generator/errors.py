"""The one exception the chart generator raises for bad input."""
from __future__ import annotations

from pathlib import Path


class GeneratorError(Exception):
    """The input cannot be turned into a chart: not audio, empty, too short, no audio in a folder.

    ``path`` names the offending file or folder; the message is a sentence for people that
    names it too.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
