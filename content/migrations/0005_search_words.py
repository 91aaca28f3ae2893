"""The distinct words of the library, with a trigram index on PostgreSQL, for the typo
fallback of song search."""
from django.db import migrations, models


def trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX IF NOT EXISTS searchword_trgm ON content_searchword "
                              "USING gin (word gin_trgm_ops)")


class Migration(migrations.Migration):
    dependencies = [("content", "0004_job")]
    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[("word", models.CharField(max_length=200, primary_key=True, serialize=False))],
        ),
        migrations.RunPython(trigram_index, migrations.RunPython.noop),
    ]
