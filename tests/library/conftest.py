"""A real library on disk for the library-service tests: songs built from the onyx fixtures by
../shared/tools/build_sample_library.py (song.ini + a human-charted notes.mid each)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from content.storage.local import LocalStorage

from ..conftest import FIXTURES

TOOL = FIXTURES.parent / "tools" / "build_sample_library.py"


@pytest.fixture(scope="session")
def sample_library(tmp_path_factory) -> Path:
    """12 real songs without audio, built once per test session (read-only: copy it)."""
    out = tmp_path_factory.mktemp("sample") / "library"
    subprocess.run([sys.executable, str(TOOL), str(out), "--limit", "12"], check=True,
                   capture_output=True)
    return out


@pytest.fixture
def library(tmp_path, sample_library, settings) -> LocalStorage:
    """A writable library root holding the sample songs under Songs/, set as LIBRARY_ROOT."""
    root = tmp_path / "library"
    shutil.copytree(sample_library, root / "Songs")
    settings.LIBRARY_ROOT = root
    settings.SCRATCH_ROOT = tmp_path / "scratch"
    return LocalStorage(root)
