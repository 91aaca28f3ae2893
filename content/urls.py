from django.urls import path

from content.views import editing, files, health, library, metrics, uploads

urlpatterns = [
    path("", library.dashboard, name="dashboard"),
    path("songs/", library.song_list, name="song_list"),
    path("songs/<int:pk>/", library.song_detail, name="song_detail"),
    path("songs/<int:pk>/edit/", editing.song_edit, name="song_edit"),
    path("songs/<int:pk>/files/<path:name>", files.song_file, name="song_file"),
    path("upload/", uploads.upload, name="upload"),
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
]

# File browser and Backgrounds / Colors / Highways (issue 4, content/views/nextcloud.py).
from content.views import nextcloud as nextcloud_views  # noqa: E402

urlpatterns += [
    path("files/", nextcloud_views.browse, name="files_browse"),
    path("files/raw", nextcloud_views.raw, name="files_raw"),
    path("files/upload", nextcloud_views.upload, name="files_upload"),
    path("files/mkdir", nextcloud_views.mkdir, name="files_mkdir"),
    path("files/delete", nextcloud_views.delete, name="files_delete"),
    path("files/import", nextcloud_views.import_folder, name="files_import"),
    path("files/<slug:kind>/", nextcloud_views.assets, name="files_assets"),
]

# Chart generator and jobs (issue 5; content/views/generator.py, content/views/jobs.py).
from content.views import generator as generator_views  # noqa: E402
from content.views import jobs as job_views  # noqa: E402

urlpatterns += [
    path("generate/", generator_views.generator, name="generator"),
    path("jobs/", job_views.job_list, name="job_list"),
    path("jobs/<int:pk>/", job_views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/status", job_views.job_status, name="job_status"),
    path("jobs/<int:pk>/cancel", job_views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry", job_views.job_retry, name="job_retry"),
    path("jobs/sync", job_views.sync_start, name="sync_start"),
]
