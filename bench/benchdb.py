"""Django set-up shared by the benchmarks: a database of their own, migrated and emptied."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def django_on(database_url: str, *, flush: bool = True) -> None:
    """Point Django at ``database_url`` (created if missing on PostgreSQL), set it up, migrate,
    and empty every table unless ``flush`` is false (a benchmark that reuses its data). The
    library storage is never the configured Nextcloud."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "chmanager.settings"
    os.environ.pop("NEXTCLOUD_URL", None)
    sys.path.insert(0, str(REPO))
    if database_url.startswith("postgres"):
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres",
                        database_url.rsplit("/", 1)[-1]], capture_output=True)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    if flush:
        call_command("flush", interactive=False, verbosity=0)


def sample_library(out: Path) -> Path:
    """The 246-song sample library (song.ini + notes.mid each, no audio) built into ``out``."""
    subprocess.run([sys.executable, str(SHARED / "tools" / "build_sample_library.py"), str(out)],
                   check=True, capture_output=True)
    return out
