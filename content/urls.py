from django.urls import path

from content.views import editing, files, health, library, uploads

urlpatterns = [
    path("", library.dashboard, name="dashboard"),
    path("songs/", library.song_list, name="song_list"),
    path("songs/<int:pk>/", library.song_detail, name="song_detail"),
    path("songs/<int:pk>/edit/", editing.song_edit, name="song_edit"),
    path("songs/<int:pk>/files/<path:name>", files.song_file, name="song_file"),
    path("upload/", uploads.upload, name="upload"),
    path("health", health.health, name="health"),
]
