"""Forms: the song.ini editor (known keys in groups, plus the other keys as rows) and uploads.

The editor works on raw song.ini text, not on the database columns: it shows what the file
says, and reports as changes only the keys the user actually changed, so untouched lines
(odd spellings, trailing comments, ``-1`` placeholders) are never rewritten.
"""
from __future__ import annotations

from pathlib import PurePath

from django import forms

from content.formats.scan import ALBUM_ART_NAMES, AUDIO_STEMS, MAX_INI_BYTES
from content.formats.songini import (KNOWN_KEYS, VALID_MULTIPLIER_NOTES, SongIni, is_valid_key,
                                     parse_bool)
from content.library.editing import GAMEPLAY_KEYS
from content.models import DIFF_KEYS

# (title, keys, note shown under the title)
FIELD_GROUPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Song info", ("name", "artist", "album", "genre", "sub_genre", "year", "rating",
                   "loading_phrase"), ""),
    ("Credits and sorting", ("charter", "icon", "playlist", "sub_playlist", "album_track",
                             "playlist_track", "version", "tags"), ""),
    ("Timing (milliseconds)", ("song_length", "preview_start_time", "preview_end_time", "delay",
                               "video_start_time", "video_end_time"),
     "delay shifts the chart against the audio; Clone Hero advises against it."),
    ("Difficulties", DIFF_KEYS, "0 to 6 as shown in game; -1 means the part has no chart."),
    ("Gameplay modifiers", GAMEPLAY_KEYS,
     "These change how the chart plays (and its chart hash): HOPO threshold, star power "
     "notes, sustain cut-off, chord snapping, drum lanes. Change them only on purpose."),
    ("Flags and resources", ("modchart", "lyrics", "explicit_lyrics", "end_events", "video_loop",
                             "background", "video", "cover"), ""),
)
EDITABLE_KEYS = frozenset(key for _, keys, _ in FIELD_GROUPS for key in keys)
# Integer keys where a negative value is meaningful besides diff_*'s -1.
_NEGATIVE_OK = {"delay", "video_start_time"}
_BOOL_CHOICES = [("", "Not set"), ("True", "True"), ("False", "False")]
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".sng")


def _key_type(key: str) -> str:
    known = KNOWN_KEYS.get(key)
    return known.type if known else "str"


class SongIniForm(forms.Form):
    """The known song.ini keys of ``FIELD_GROUPS``, one field each, initialised from ``ini``.

    Every field is optional; emptying one deletes the key. After ``is_valid()``,
    ``changes()`` gives ``{key: raw value or None}`` for the keys whose value changed.
    """

    def __init__(self, *args, ini: SongIni, **kwargs):
        self.ini = ini
        self.original = {key: ini.get(key) for key in EDITABLE_KEYS}
        initial = {}
        for key, raw in self.original.items():
            if raw is None:
                continue
            if _key_type(key) == "bool" and parse_bool(raw) is not None:
                initial[key] = "True" if parse_bool(raw) else "False"
            else:
                initial[key] = raw
        super().__init__(*args, initial=initial, **kwargs)
        for _, keys, _ in FIELD_GROUPS:
            for key in keys:
                self.fields[key] = self._field(key)

    def _field(self, key: str) -> forms.Field:
        kind = _key_type(key)
        raw = self.original[key]
        if kind == "bool":
            choices = list(_BOOL_CHOICES)
            if raw is not None and parse_bool(raw) is None:
                choices.append((raw, f"{raw} (as written)"))
            field = forms.ChoiceField(choices=choices, required=False)
        elif kind in ("int", "float"):
            field = forms.CharField(required=False, max_length=32, widget=forms.TextInput(
                attrs={"inputmode": "numeric", "class": "num"}))
        else:
            field = forms.CharField(required=False, max_length=1024)
        field.label = key
        if key in GAMEPLAY_KEYS:
            field.widget.attrs["data-gameplay"] = "1"
        return field

    def clean(self):
        data = super().clean()
        for key, value in list(data.items()):
            if value in ("", None) or value == self.original[key]:
                continue  # emptied, or left as the file has it (even if odd: not our edit)
            if "\n" in value or "\r" in value:
                self.add_error(key, f"{key}: a song.ini value must be on one line.")
            elif _key_type(key) in ("int", "float"):
                error = _int_error(key, value)
                if error:
                    self.add_error(key, error)
        return data

    def changes(self) -> dict[str, str | None]:
        """``{key: new raw value, or None to delete}`` for each key the user changed."""
        result: dict[str, str | None] = {}
        for key, value in self.cleaned_data.items():
            before = self.original[key]
            value = value or None
            if _key_type(key) == "bool" and value in ("True", "False") and before is not None:
                if parse_bool(before) == (value == "True"):
                    continue  # same truth, other spelling (1, true): keep the file's bytes
            if value != before:
                result[key] = value
        return result

    def groups(self):
        """``[(title, note, [bound fields])]`` in display order, for the template."""
        return [(title, note, [self[key] for key in keys]) for title, keys, note in FIELD_GROUPS]


def _int_error(key: str, value: str) -> str | None:
    try:
        number = int(value)
    except ValueError:
        return f"{key}: enter a whole number, e.g. 0 or 120000."
    if key.startswith("diff_"):
        if number < -1:
            return f"{key}: use 0 to 6, or -1 for a part without a chart."
    elif key == "multiplier_note":
        if number not in VALID_MULTIPLIER_NOTES:
            return f"{key}: must be 116 (Rock Band), 103 (Guitar Hero) or 0."
    elif number < 0 and key not in _NEGATIVE_OK:
        return f"{key}: cannot be negative."
    return None


class ExtraKeyForm(forms.Form):
    """One song.ini key that has no field of its own."""

    key = forms.CharField(required=False, max_length=128)
    value = forms.CharField(required=False, max_length=4096)

    def clean(self):
        data = super().clean()
        key, value = data.get("key", ""), data.get("value", "")
        if self.cleaned_data.get("DELETE") or (not key and not value):
            return data
        if not key:
            self.add_error("key", f"The key for the value {value[:40]!r} is empty.")
        elif not is_valid_key(key):
            self.add_error("key", f"{key!r}: a key cannot contain '=' or a line break, or "
                                  "start with '[', ';' or '#'.")
        elif key.lower() in EDITABLE_KEYS:
            self.add_error("key", f"{key}: this key has its own field above.")
        if "\n" in value or "\r" in value:
            self.add_error("value", f"{key or 'value'}: a song.ini value must be on one line.")
        return data


class BaseExtraKeyFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            key = form.cleaned_data.get("key", "")
            if not key or form.cleaned_data.get("DELETE"):
                continue
            if key.lower() in seen:
                raise forms.ValidationError(f"The key {key} appears twice; keep one row.")
            seen.add(key.lower())

    def changes(self, ini: SongIni) -> dict[str, str | None]:
        """``{key: value or None}`` turning the file's other keys into the submitted rows."""
        before = {key.lower(): (key, value) for key, value in extra_items(ini)}
        after = {}
        for form in self.forms:
            key = form.cleaned_data.get("key", "")
            if key and not form.cleaned_data.get("DELETE"):
                after[key.lower()] = (key, form.cleaned_data.get("value", ""))
        result: dict[str, str | None] = {}
        for low, (key, _) in before.items():
            if low not in after:
                result[key] = None
        for low, (key, value) in after.items():
            if low not in before or before[low][1] != value:
                result[key] = value
        return result


ExtraKeyFormSet = forms.formset_factory(ExtraKeyForm, formset=BaseExtraKeyFormSet, extra=0,
                                        can_delete=True, max_num=500, validate_max=True)


def extra_items(ini: SongIni) -> list[tuple[str, str]]:
    """The song.ini pairs without a field of their own, in file order."""
    return [(key, value) for key, value in ini.items() if key.lower() not in EDITABLE_KEYS]


def song_ini_forms(ini: SongIni, data=None) -> tuple[SongIniForm, BaseExtraKeyFormSet]:
    """The editor's form and extra-keys formset, bound to ``data`` when given."""
    form = SongIniForm(data, ini=ini)
    extras = ExtraKeyFormSet(data, prefix="extra", initial=[
        {"key": key, "value": value} for key, value in extra_items(ini)])
    return form, extras


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field taking several files; cleans to a list of uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            if not data:
                return super().clean(None, initial)  # "required" error
            return [self._clean_file(item, initial) for item in data]
        return [self._clean_file(data, initial)]

    def _clean_file(self, upload, initial):
        """One upload cleaned; its errors (e.g. Django's "The submitted file is empty.") are
        prefixed with its name, as several files share the field."""
        try:
            return super().clean(upload, initial)
        except forms.ValidationError as error:
            name = getattr(upload, "name", None)
            if not name:
                raise
            raise forms.ValidationError([f"{name}: {message}" for message in error.messages],
                                        code=getattr(error, "code", None)) from error


def with_suffixes(files: list, suffixes: tuple[str, ...], what: str) -> None:
    """Raise a ValidationError naming the first of ``files`` whose extension is not one of
    ``suffixes`` (``what`` says what was expected, e.g. "an archive or .sng file")."""
    for upload in files:
        if PurePath(upload.name).suffix.lower() not in suffixes:
            raise forms.ValidationError(
                f"{upload.name}: not {what} (accepted: {', '.join(suffixes)}).")


class UploadForm(forms.Form):
    """One or more archives (.zip, .7z, .rar) or .sng files (their sizes are limited while they
    stream in, chmanager.upload_limits). (The field is not called ``files``:
    that name is the form's own attribute holding request.FILES.)"""

    archives = MultipleFileField(
        label="Archives", error_messages={"required": "Choose at least one archive or .sng file."},
        widget=MultipleFileInput(attrs={"multiple": True, "accept": ",".join(ARCHIVE_SUFFIXES)}))

    def clean_archives(self):
        files = self.cleaned_data["archives"]
        with_suffixes(files, ARCHIVE_SUFFIXES, "an archive or .sng file")
        return files


# The generator's audio extensions (content.generator.audio.AUDIO_EXTENSIONS), copied because
# importing the generator costs seconds of numpy/librosa start-up in the web process;
# tests/web/test_generator_page.py checks that they match.
AUDIO_EXTENSIONS = (".ogg", ".opus", ".mp3", ".wav", ".flac")


# Files a song folder's stems come with that name it and show it (``pipeline.generate``).
FOLDER_EXTRAS = ("song.ini", *ALBUM_ART_NAMES)


class GeneratorForm(forms.Form):
    """One audio file, or several stems named like Clone Hero's (guitar.ogg, drums.ogg,
    song.ogg ...) with, optionally, the song folder's song.ini and album art
    (``FOLDER_EXTRAS``) (sizes limited as they stream in, chmanager.upload_limits); optional
    name and artist."""

    audio = MultipleFileField(
        label="Audio", error_messages={"required": "Choose an audio file, or several stems."},
        widget=MultipleFileInput(attrs={"multiple": True, "accept": ",".join(
            (*AUDIO_EXTENSIONS, *sorted({PurePath(n).suffix for n in FOLDER_EXTRAS})))}))
    name = forms.CharField(required=False, max_length=200,
                           help_text="Leave empty to take it from the song.ini or the file's "
                                     "tags, else from its name (“Artist - Title.mp3” gives "
                                     "both). Needed for stems without a song.ini: guitar.ogg, "
                                     "song.ogg … are named after their part.")
    artist = forms.CharField(required=False, max_length=200,
                             help_text="Leave empty to take it from the song.ini or the file's "
                                       "tags, else from an “Artist - Title” file name.")

    def clean_audio(self):
        files = self.cleaned_data["audio"]
        audio = [f for f in files if not _is_folder_extra(f)]
        with_suffixes(audio, AUDIO_EXTENSIONS, "an audio file the generator takes, a song.ini "
                                               "or album art")
        if not audio:
            raise forms.ValidationError(
                f"{', '.join(f.name for f in files)}: no audio; add the song's audio or stems.")
        if len(files) > 1:
            seen: dict[str, str] = {}
            for upload in files:
                name, extra = PurePath(upload.name).name.lower(), _is_folder_extra(upload)
                if name == "song.ini" and upload.size > MAX_INI_BYTES:
                    raise forms.ValidationError(
                        f"{upload.name}: {upload.size} bytes, too large to be a song.ini (at "
                        f"most {MAX_INI_BYTES})")
                if not extra and PurePath(name).stem not in AUDIO_STEMS:
                    raise forms.ValidationError(
                        f"{upload.name}: several files must be stems named like Clone Hero's "
                        f"({', '.join(AUDIO_STEMS[:6])} …), e.g. guitar.ogg and song.ogg, "
                        "with the song folder's song.ini and album art if you like.")
                kind = ("album art" if name in ALBUM_ART_NAMES else name if extra
                        else PurePath(name).stem)
                if kind in seen:
                    raise forms.ValidationError(
                        f"{seen[kind]} and {upload.name} are the same "
                        f"{'file' if extra else 'stem'}; upload one of them.")
                seen[kind] = upload.name
        return files

    def clean(self):
        data = super().clean()
        files = data.get("audio") or []
        # Stem files are named after their part: without a name the song would be "guitar"
        # or the upload folder's name, by "Unknown Artist".
        if files and not data.get("name") and not _song_ini_name(files) and all(
                PurePath(f.name).stem.lower() in AUDIO_STEMS for f in files
                if not _is_folder_extra(f)):
            self.add_error("name", f"{', '.join(f.name for f in files)}: stems are named after "
                                   "their part, not the song; give the song's name (or its "
                                   "song.ini).")
        return data


def _is_folder_extra(upload) -> bool:
    """Whether ``upload`` is a song folder's song.ini or album art (``FOLDER_EXTRAS``)."""
    return PurePath(upload.name).name.lower() in FOLDER_EXTRAS


def _song_ini_name(files: list) -> str | None:
    """The ``name`` in the uploaded song.ini among ``files``, if any."""
    for upload in files:
        if PurePath(upload.name).name.lower() == "song.ini":
            upload.seek(0)
            name = SongIni.from_bytes(upload.read(), source_name=upload.name).get_str("name")
            upload.seek(0)
            return name
    return None


class SongFilterForm(forms.Form):
    """The song list's search box, filters and sort (a GET form; bad values are ignored)."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    instrument = forms.ChoiceField(required=False, choices=[("", "Any instrument")])
    difficulty = forms.ChoiceField(required=False, choices=[("", "Any difficulty")])
    issues = forms.ChoiceField(required=False, label="Issues", choices=[
        ("", "Issues: any"), ("yes", "With issues"), ("no", "Without issues")])
    genre = forms.CharField(required=False, max_length=255)
    year_from = forms.IntegerField(required=False, min_value=0, max_value=9999, label="From year")
    year_to = forms.IntegerField(required=False, min_value=0, max_value=9999, label="To year")
    sort = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args, **kwargs):
        from content.library.selectors import DIFFICULTIES, INSTRUMENTS, SORTS

        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices += list(INSTRUMENTS.items())
        self.fields["difficulty"].choices += [(d, d.title()) for d in DIFFICULTIES]
        self.fields["sort"].choices = [(key, label) for key, (label, _) in SORTS.items()]

    def search_kwargs(self) -> dict:
        """Keyword arguments for ``song_search`` from the valid fields (invalid ones dropped)."""
        self.is_valid()  # leaves only the valid fields in cleaned_data
        data = self.cleaned_data
        q = data.get("q") or ""
        sort = data.get("sort") or ("relevance" if q.strip() else "artist")
        issues = data.get("issues")
        return {
            "q": q,
            "instrument": data.get("instrument") or None,
            "difficulty": data.get("difficulty") or None,
            "has_issues": {"yes": True, "no": False}.get(issues),
            "genre": data.get("genre") or None,
            "year_from": data.get("year_from"),
            "year_to": data.get("year_to"),
            "sort": sort,
        }
