"""Shared test set-up: where the read-only fixtures live (../shared/fixtures beside the repo)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = (REPO / ".." / "shared" / "fixtures").resolve()

if not FIXTURES.is_dir():
    raise pytest.UsageError(
        f"test fixtures not found at {FIXTURES}: the shared/ folder must sit beside the repo root"
    )


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The read-only fixture folder (charts, onyx songs, hostile archives)."""
    return FIXTURES
