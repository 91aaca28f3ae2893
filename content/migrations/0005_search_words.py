"""The distinct words of the library, with a trigram index on PostgreSQL, for the typo
fallback of song search."""
from django.db import migrations, models


def trigram_index_and_words(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX IF NOT EXISTS searchword_trgm ON content_searchword "
                              "USING gin (word gin_trgm_ops)")
        # Fill it for the songs already in the library; later syncs keep it current. (A
        # migration keeps its own copy of searchwords.py's statement: app code may change.)
        schema_editor.execute(
            "INSERT INTO content_searchword (word) SELECT DISTINCT left(w, 200) FROM content_song, "
            "regexp_split_to_table(search_text, '[^[:alnum:]]+') AS w "
            "WHERE removed_at IS NULL AND length(w) >= 3")


class Migration(migrations.Migration):
    dependencies = [("content", "0004_job")]
    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[("word", models.CharField(max_length=200, primary_key=True, serialize=False))],
        ),
        migrations.RunPython(trigram_index_and_words, migrations.RunPython.noop),
    ]
