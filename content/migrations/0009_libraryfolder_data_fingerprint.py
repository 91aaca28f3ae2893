from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('content', '0008_job_kind_upload'),
    ]

    operations = [
        migrations.AddField(
            model_name='libraryfolder',
            name='data_fingerprint',
            field=models.CharField(blank=True, default='', max_length=128),
        ),
    ]
