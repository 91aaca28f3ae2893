"""PostgreSQL search indexes: trigram (pg_trgm) for substring and similarity search, and a
full-text GIN index; SQLite uses a plain contains search and needs neither."""
from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS song_search_trgm ON content_song USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS song_search_fts ON content_song "
    "USING gin (to_tsvector('simple'::regconfig, search_text))",
]
BACKWARD = ["DROP INDEX IF EXISTS song_search_fts", "DROP INDEX IF EXISTS song_search_trgm"]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
