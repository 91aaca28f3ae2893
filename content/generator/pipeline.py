"""Audio → chart: the public ``generate`` / ``write_song_folder`` and the result they share.

Order of work (each step is one module): decode (audio) → one STFT per signal (spectrum) →
beats from the mix (tempo; from the notes' 16th grid, tatum, when one five-fret stem is
all there is) and onsets of each five-fret part and the drums (onsets) → lead-in silence →
tempo map → onsets on the grid → sections (structure) → per part: lanes, chords, sustains
(lanes) → Hard/Medium/Easy (reduce) → star power (structure) → ``notes.chart`` (writer) +
song.ini.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from content.formats.scan import ALBUM_ART_NAMES, AUDIO_STEMS
from content.formats.songini import SongIni
from content.generator import lanes as lanes_
from content.generator.audio import MAX_SECONDS, Audio, open_source
from content.generator.drums import drum_tracks
from content.generator.errors import GeneratorError
from content.generator.lanes import Note
from content.generator.onsets import GridOnset, detect, notes, quantise
from content.generator.reduce import reduce_all
from content.generator.spectrum import HOP, Spectrum, analyse, low_band_rise
from content.generator.structure import (Section, drum_fills, preview_start, sections,
                                         star_power)
from content.generator.tags import Tags, read_song_ini, read_tags
from content.generator.tatum import accent_phases, stem_beats, tracked_at_three_halves
from content.generator.tempo import (BEATS_PER_BAR, TempoMap, align_to_onsets,
                                     build_tempo_map, downbeat_phase, meter, notes_level,
                                     track_beats)
from content.generator.writer import FretPart, chart_text, write_audio

LEAD_IN_S = 2.0  # silence before the first note (scan-chart smallLeadingSilence; convention)
END_MARGIN_S = 0.25  # no note this close to the audio's end, so the end event fits after it
_LEAD_IN_MARGIN_S = 0.05
MIN_BEATS = 8
MIN_NOTES = 8  # fewer onsets than this on the grid: nearly silent audio, not a song
SILENCE_RMS = 10 ** (-50 / 20)  # -50 dBFS: quieter than any mastered recording
CHARTER = "chmanager"
# Expert notes per second → song.ini diff_guitar, diff_bass … (0..6). Official Harmonix
# Expert guitar averages 4.7 notes/s on fast, heavy songs (chart-generation.md §5.3) → tier 4
# there.
_DIFF_TIERS = (1.5, 2.5, 3.5, 4.5, 5.5, 7.0)
_DRUM_NPS_SCALE = 1.5  # a drum part has more hits than a guitar part of the same difficulty

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class GeneratedSong:
    """A generated chart, ready to write.

    name / artist: song.ini and [Song] names. tempo: the tempo map (its ``seconds(tick)``
    gives chart time). bpm: the song's median tempo (``TempoMap.main_bpm``). parts:
    five-fret instrument (``"guitar"``, ``"rhythm"``, ``"bass"``, ``"keys"``, in chart order)
    → its ``FretPart``: guitar from the guitar stem or the full mix, the others from their
    stems (``audio.SourceAudio.parts``); empty for drum stems alone. drums: difficulty →
    drum notes (empty without a drum stem).
    sections, drum_star_power, drum_fills ((tick, length) pairs, shared by all
    difficulties). chart_text: ``notes.chart``.
    song_ini: ``song.ini`` text. audio_files: (source file, stem name) pairs to put in the
    folder. album_art: (``"jpg"`` or ``"png"``, image bytes) for ``album.*``, or None.
    lead_in_s: silence added before the audio (0 when the song starts late enough);
    every chart time is the source audio's time plus this. song_length_ms: audio length
    after padding. seconds: wall time ``generate`` took. beats_from_notes: the tempo map
    follows the notes of the one stem given (``tatum``), as for a lone guitar stem with no
    mix or drums to hold the beat; its bar lines can then sit an 8th or a 16th off where the
    part does not show the beat. note_counts: instrument → difficulty → notes, and
    drum_counts: difficulty → drum notes, as scan-chart counts them (five-fret chords once,
    every drum gem). held_in_song: the stems a full mix given as ``song.*`` already holds,
    charted but left out of ``audio_files`` (``audio.SourceAudio.held_in_song``).
    """

    name: str
    artist: str
    tempo: TempoMap
    bpm: float
    parts: dict[str, FretPart]
    drums: dict[str, list[Note]]
    sections: list[Section]
    drum_star_power: list[tuple[int, int]]
    drum_fills: list[tuple[int, int]]
    chart_text: str
    song_ini: str
    audio_files: tuple[tuple[Path, str], ...]
    album_art: tuple[str, bytes] | None
    lead_in_s: float
    song_length_ms: int
    seconds: float
    beats_from_notes: bool
    held_in_song: tuple[str, ...] = ()
    note_counts: dict[str, dict[str, int]] = field(init=False)
    drum_counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "note_counts", {
            instrument: {d: len(n) for d, n in part.tracks.items()}
            for instrument, part in self.parts.items()})
        object.__setattr__(self, "drum_counts", {d: sum(len(n.lanes) for n in notes)
                                                 for d, notes in self.drums.items()})

    @property
    def chart_bytes(self) -> bytes:
        return self.chart_text.encode("utf-8")

    @property
    def first_note_s(self) -> float:
        """Chart time (s) of the first note of any part, at least ``LEAD_IN_S``."""
        firsts = [part.tracks["Expert"][0].tick for part in self.parts.values()
                  if part.tracks["Expert"]]
        firsts += [self.drums["Expert"][0].tick] if self.drums.get("Expert") else []
        return self.tempo.seconds(min(firsts))

    def note_seconds(self, difficulty: str = "Expert", instrument: str = "guitar") -> np.ndarray:
        """Chart times (s) of the notes of one five-fret part's difficulty, chords once."""
        return np.array([self.tempo.seconds(n.tick)
                         for n in self.parts[instrument].tracks[difficulty]])


def generate(source: Path, *, name: str | None = None, artist: str | None = None,
             progress: Progress | None = None, max_seconds: float = MAX_SECONDS
             ) -> GeneratedSong:
    """Generate a chart (five-fret parts and drums, Expert … Easy) from ``source``.

    source: an audio file (ogg, opus, mp3, wav, flac) or a folder of Clone Hero stems
    (``song.ogg``, ``guitar.ogg``, ``bass.ogg``, ``drums.ogg`` …). Guitar follows the
    ``guitar`` stem, else the full mix; each ``rhythm``, ``bass`` and ``keys`` stem gets its
    own five-fret part, and drum stems a drum chart. A lone stem (a folder of one part's
    stems, or one file named like one: ``bass.ogg``, ``drums.ogg``) gives that part only: a
    guitar chart of a bass line or of drum hits would be no guitar part
    (``audio.SourceAudio.parts``). A silent stem beside others is left out.
    name / artist: override the song folder's own song.ini (``tags.read_song_ini``; the
    folder of stems, or the folder of a stem-named file), then the file's tags (mutagen);
    fall back to the folder's or the file's name, split at " - " when it reads "Artist -
    Title". Album, genre, year and track come into song.ini from the same places in the same
    order; the album art is the song folder's ``album.jpg`` / ``album.png``, else the cover
    picture in the tags.
    progress: called as ``progress(step, total, message)`` before each step (``step`` counts
    from 0 to ``total``, which is reported last with "done").
    max_seconds: the longest audio file charted (s; default ``audio.MAX_SECONDS``, an hour).
    Raises GeneratorError for unusable input (not audio, empty, < 10 s or > ``max_seconds``,
    silent, no beat or notes).
    """
    started = time.perf_counter()
    steps = _Steps(progress, 8)
    steps("decoding audio")
    source = Path(source)
    src = open_source(source, max_seconds=max_seconds)
    charted_audio = {**src.parts, **({"drums": src.drums} if src.drums else {})}
    audible = {k: a for k, a in charted_audio.items() if not _silent(a)}
    if not audible:
        # Onset detection normalises its envelope, so it would chart the noise floor.
        raise GeneratorError(next(iter(charted_audio.values())).path,
                             "the audio is silent (below -50 dBFS RMS)")
    steps("analysing the spectrum")
    mix = analyse(src.mix)
    # A part that is the mix itself (a full mix, a lone stem) shares its spectrum.
    spectra = {k: mix if a is src.mix else analyse(a) for k, a in audible.items()}
    steps("tracking beats and onsets")
    beats = track_beats(mix)
    found = {k: detect(spec, focus=k == "guitar" and src.guitar_from_mix)
             for k, spec in spectra.items()}
    # The lead part's onsets (guitar, else the first five-fret part, else the drums) are what
    # the beats are checked against: all of them, a full mix's drum hits too.
    raw = next(iter(found.values()))
    onsets = {k: notes(o) for k, o in found.items()}
    if len(beats) < MIN_BEATS:
        raise GeneratorError(source, "no steady beat was found in the audio")
    if not raw:
        raise GeneratorError(source, "no note onsets were found in the audio")
    onset_s = np.array([o.seconds for o in raw])
    beats = notes_level(beats, onset_s)
    strengths = np.array([o.strength for o in raw])
    beats_from_notes = src.lone_stem
    if beats_from_notes:
        # A lone stem: no drums hold the tracker's phase, the notes' grid does.
        beats = stem_beats(beats, onset_s, strengths, end_s=src.mix.seconds)
    elif tracked_at_three_halves(beats, onset_s):
        # A slow shuffle, tracked at 3/2 of its tempo: the notes' grid has the beat, and the
        # kick and bass tell which of its steps.
        beats = stem_beats(beats, onset_s, strengths, end_s=src.mix.seconds,
                           choose=accent_phases(low_band_rise(mix), mix.frame_seconds))
    beats = align_to_onsets(beats, onset_s)
    # A lone stem's accents follow its riffs, not the bar: on the 54 rendered fixture guitar
    # stems 4 of the 6 given bars of three were 4/4 songs (none of their mixes was).
    per_bar = BEATS_PER_BAR if beats_from_notes else meter(mix, beats)
    downbeat = downbeat_phase(mix, beats, per_bar)
    first = min(o[0].seconds for o in onsets.values() if o)
    pad_frames = _lead_in_frames(first, beats, downbeat, per_bar, mix.sr)
    pad_s = pad_frames * HOP / mix.sr
    if pad_frames:
        delayed = mix.delayed(pad_frames)
        spectra = {k: delayed if spec is mix else spec.delayed(pad_frames)
                   for k, spec in spectra.items()}
        mix = delayed
        beats = beats + pad_s
        onsets = {k: [replace(o, seconds=o.seconds + pad_s) for o in part]
                  for k, part in onsets.items()}
    steps("building the tempo map")
    tempo = build_tempo_map(beats, downbeat, per_bar)
    audio_end_s = src.mix.seconds + pad_s
    charted = (LEAD_IN_S, audio_end_s - END_MARGIN_S)
    grids = {k: [o for o in quantise(found, tempo) if charted[0] <= o.seconds <= charted[1]]
             for k, found in onsets.items()}
    placed = max(len(grid) for grid in grids.values())
    if placed < MIN_NOTES:
        # Near-silent audio still yields a stray onset or two; a chart of them is no song.
        raise GeneratorError(source, f"only {placed} note onsets fit the tempo map (at least "
                                     f"{MIN_NOTES} are needed): the audio is nearly silent or "
                                     "has no clear attacks")
    end_tick = _end_tick(max(grid[-1].tick for grid in grids.values() if grid), tempo,
                         audio_end_s)
    kit, kit_grid = spectra.pop("drums", None), grids.pop("drums", [])
    steps("finding sections")
    song_sections = sections(mix, tempo, end_tick)
    starts = [s.tick for s in song_sections]
    steps("placing notes")
    experts = {k: _expert(k, audible[k], spectra[k], grid, starts, tempo, pad_frames,
                          audio_end_s)
               for k, grid in grids.items() if len(grid) >= MIN_NOTES}
    steps("reducing difficulties")
    parts = {}
    for instrument, expert in experts.items():
        tracks = reduce_all(expert, starts, tempo)
        parts[instrument] = FretPart(tracks, star_power(tracks, tempo))
    drums = {} if kit is None else drum_tracks(kit, kit_grid, tempo.bar_ticks)
    drum_phrases = star_power(drums, tempo) if drums else []
    fills = drum_fills(drums, starts, tempo, drum_phrases)
    steps("writing the chart")
    folder = _song_folder(source)
    tags = read_tags(src.tag_file)
    if folder:
        tags = read_song_ini(folder).or_else(tags)
    title, performer = _names(tags, source, folder, name, artist)
    end_tick = max(end_tick, *(n.tick + n.length for e in experts.values() for n in e),
                   *(n.tick for n in drums.get("Expert", [])))
    chart = chart_text(name=title, artist=performer, tempo=tempo, sections=song_sections,
                       end_tick=end_tick, parts=parts,
                       drums=drums, drum_star_power=drum_phrases, drum_fills=fills)
    length_ms = int(round(audio_end_s * 1000))
    ini = SongIni.from_mapping({
        "name": title, "artist": performer,
        **{key: value for key, value in (("album", tags.album), ("genre", tags.genre),
                                         ("year", tags.year), ("album_track", tags.album_track))
           if value is not None},
        "charter": CHARTER, "song_length": length_ms,
        "preview_start_time": int(round(tempo.seconds(preview_start(song_sections)) * 1000)),
        **{f"diff_{k}": _difficulty_tier(e, tempo) for k, e in experts.items()},
        **({"diff_drums": _difficulty_tier(drums["Expert"], tempo, _DRUM_NPS_SCALE)}
           if drums else {}),
    }).to_bytes().decode("utf-8")
    steps("done")
    return GeneratedSong(title, performer, tempo, tempo.main_bpm(end_tick), parts, drums,
                         song_sections, drum_phrases, fills, chart, ini, src.files,
                         _album_art(folder, tags), pad_s, length_ms, time.perf_counter() - started,
                         beats_from_notes, src.held_in_song)


def _silent(audio: Audio) -> bool:
    return float(np.sqrt(np.mean(np.square(audio.samples)))) < SILENCE_RMS


def _expert(part: str, audio: Audio, spec: Spectrum, grid: list[GridOnset], starts: list[int],
            tempo: TempoMap, pad_frames: int, end_s: float) -> list[Note]:
    """Expert notes of the five-fret ``part`` ("guitar", "bass" …): lanes from the pitch
    contour of ``audio`` (padded by ``pad_frames`` of the lead-in) in the instrument's range,
    sustains from ``spec``, lanes kept per section."""
    audio = audio.delayed(pad_frames * HOP) if pad_frames else audio
    lowest = lanes_.GUITAR_LOWEST if part in ("guitar", "rhythm") else lanes_.LOWEST
    tones = lanes_.tones(audio, grid, lowest=lowest)
    groups = [int(np.searchsorted(starts, o.tick, side="right")) for o in grid]
    return lanes_.expert_notes(grid, tones, lanes_.assign_lanes(tones, groups), spec, tempo,
                               end_s)


def write_song_folder(generated: GeneratedSong, out_dir: Path) -> Path:
    """Write ``notes.chart``, ``song.ini``, the (padded) audio and the album art into
    ``out_dir``.

    Creates ``out_dir`` if needed. Raises FileExistsError if it already holds a chart
    (a second ``notes.*`` would make the folder ambiguous), GeneratorError if ffmpeg fails.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = [p.name for p in out_dir.glob("notes.*")]
    if existing:
        raise FileExistsError(f"{out_dir} already holds {', '.join(existing)}")
    for path, stem in generated.audio_files:
        write_audio(path, stem, out_dir, generated.lead_in_s)
    (out_dir / "notes.chart").write_bytes(generated.chart_bytes)
    (out_dir / "song.ini").write_text(generated.song_ini, encoding="utf-8", newline="")
    if generated.album_art:
        kind, image = generated.album_art
        (out_dir / f"album.{kind}").write_bytes(image)
    return out_dir


class _Steps:
    def __init__(self, callback: Progress | None, total: int) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, message: str) -> None:
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total, message)
        self.done += 1


def _lead_in_frames(first_onset: float, beats: np.ndarray, downbeat: int, per_bar: int,
                    sr: int) -> int:
    """Frames of silence to put before the audio so the first note comes ≥ ``LEAD_IN_S``.

    When padding is needed it is stretched so the first tracked downbeat lands a whole
    number of bars of ``per_bar`` beats (at the song's first tempo) after 0 s, so the
    lead-in has the song's tempo rather than an odd one.
    """
    need = LEAD_IN_S + _LEAD_IN_MARGIN_S - first_onset
    if need <= 0:
        return 0
    period = float(np.median(np.diff(beats[: 2 * per_bar + 1])))
    first_downbeat = beats[downbeat]
    bars = int(np.ceil((need + first_downbeat) / (period * per_bar)))
    pad_s = bars * period * per_bar - first_downbeat
    return int(np.ceil(pad_s * sr / HOP))


def _end_tick(last_tick: int, tempo: TempoMap, audio_end_s: float) -> int:
    """The ``end`` event: the bar line after the last note, but not past the audio's end
    (scan-chart's ``badEndEvent``: an end before the last note or after the song)."""
    bar = tempo.bar_ticks
    return max(last_tick, min((last_tick // bar + 1) * bar, int(tempo.ticks(audio_end_s))))


def _song_folder(source: Path) -> Path | None:
    """The song folder ``source`` stands for: itself when it is a folder of stems, its folder
    when it is a file named like a stem (``guitar.ogg`` is named after its part, not the
    song), else None (a song file stands for itself)."""
    if source.is_dir():
        return source
    return source.parent if source.stem.lower() in AUDIO_STEMS else None


def _names(tags: Tags, source: Path, folder: Path | None, name: str | None,
           artist: str | None) -> tuple[str, str]:
    """(title, artist): the arguments, else the tags (the song ``folder``'s song.ini's, then
    the audio's), else the name of that folder or of the file ``source``, read as "Artist -
    Title" when it has that form (how song files and folders are named)."""
    fallback = folder.name if folder else source.stem
    named_artist, dash, named_title = fallback.partition(" - ")
    if not dash or not named_title:
        named_artist, named_title = "", fallback
    return (name or tags.title or named_title), (artist or tags.artist or named_artist
                                                 or "Unknown Artist")


def _album_art(folder: Path | None, tags: Tags) -> tuple[str, bytes] | None:
    """The song ``folder``'s own album art (``ALBUM_ART_NAMES``, any case), else the tags'
    cover."""
    if folder:
        for image in sorted(folder.iterdir()):
            name = image.name.lower()
            if name in ALBUM_ART_NAMES and image.is_file():
                return ("png" if name.endswith(".png") else "jpg"), image.read_bytes()
    return tags.cover


def _difficulty_tier(expert: list[Note], tempo: TempoMap, scale: float = 1.0) -> int:
    span = tempo.seconds(expert[-1].tick) - tempo.seconds(expert[0].tick)
    nps = len(expert) / max(span, 1.0) / scale
    return sum(nps >= t for t in _DIFF_TIERS)
