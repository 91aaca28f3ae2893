"""Quality and speed benchmark of the audio → chart generator (one command; not a test).

    .venv/bin/python bench/bench_generator.py [--library DIR] [--limit N] [--no-cold]
                                              [--no-render] [--held-out [K]] [--hiss DB]

1. Builds the rendered sample library with ``../shared/tools/build_sample_library.py DIR
   --audio --stems`` (cached: existing renders are kept) from the fixture songs with a guitar
   part (``guitar_songs``) among the first N (``--limit 0``: all 54). Every note onset in
   that audio sits exactly on a human chart note (chart-generation.md §3.4 explains why
   rendered charts are the trustworthy offline ground truth). With ``--held-out K`` it
   renders instead every 4th song with a guitar part after the first N, from the K-th (0-3,
   default 0; 12 songs for N = 48 and K = 0, 11 for K = 2): songs no setting was tuned on.
   Once a set has guided a change, the next K gives a fresh one.
2. For every song with a PART GUITAR track (≥ 20 Expert notes) it generates a chart three
   ways: from the full mix ``song.ogg`` ("mix"), from ``guitar.ogg`` alone ("stem"), and
   from a Clone Hero stems folder ("stems"): ``guitar.ogg``, ``drums.ogg``, ``bass.ogg``,
   ``keys.ogg`` as rendered, and as ``song.ogg`` the backing track, everything not in another
   stem, which is the vocals (tempo from all of them together, notes from the guitar, a drum
   chart from the drums, bass and keys parts from their stems).
3. Reports per song and mode, with mir_eval (§2.1): onset F-measure of the generated Expert
   notes vs the human Expert guitar notes at ±50 ms and ±25 ms, median signed offset (ms,
   positive = generated late), beat F-measure (±70 ms, first 5 s trimmed) of the generated
   tempo map vs the beat lines of the song's own tempo map (``beat_lines``: restarting at
   each time signature) over the whole audio, with its diagnosis (tempo
   ratio to the human map, share of beats on the human beat / its off-beat / a 16th), bar
   F (the same of the bar lines, ``bar_lines``) and the beats per bar written (``TS``),
   contour agreement (share of consecutive matched notes whose lane moves the same way as
   the human chart's), per difficulty notes/s, chord share, forbidden chords (must be 0)
   and minimum spacing (ms), analyse_chart issues of the must-pass types (plus 1 if
   re-parsed note counts differ from the generator's), drum-chart onset F@50 vs the human
   Expert drums and bass / keys onset F@50 vs the human Expert bass / keys (stems mode),
   section F (in the summary): mir_eval onset F at ±3 s of the generated section starts vs
   the human chart's practice sections (``[prc_…]`` / ``[section …]`` events), and label
   F: mir_eval pairwise F of which sections are named as the same part (``label_f``),
   and seconds per song warm (same process; wall and this
   process's CPU time, which stays meaningful when other work shares the 2 cores) and cold
   (fresh process, mix mode).

With ``--hiss DB`` every input (the mix, the stem, each stem of the folder) first gets pink noise
``DB`` dB below its own playing level, as an amp's hiss, a room or a separated stem's bleed
would add: the renders are digitally silent between notes, which real recordings never are.

Goals on the guitar stem: onset F ≥ 0.90 at ±50 ms and ≥ 0.80 at ±25 ms, |median offset|
≤ 10 ms, beat F ≥ 0.95; the mix is reported only.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mido  # noqa: E402
import mir_eval  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from content.formats.analysis import analyse_chart  # noqa: E402
from content.generator import GeneratedSong, GeneratorError, generate  # noqa: E402
from tests.synthaudio import hiss  # noqa: E402

TOOL = REPO.parent / "shared" / "tools" / "build_sample_library.py"
FIXTURES = REPO.parent / "shared" / "fixtures"
DEFAULT_LIBRARY = Path(tempfile.gettempdir()) / "chmanager-bench-library"
# The issue's list, plus: drum star power must come with fills to activate it.
MUST_PASS = {"noNotes", "noExpert", "noSections", "noStarPower", "isDefaultBPM",
             "smallLeadingSilence", "brokenNote", "babySustain", "difficultyNotReduced",
             "noDrumActivationLanes", "emptyStarPower"}
EXPERT_GEMS = range(96, 101)  # green … orange (formats.md §1.4)
OTHER_PARTS = {"PART BASS": "bass", "PART KEYS": "keys"}  # five-fret parts the renders stem
GOALS = {"f50": 0.90, "f25": 0.80, "offset": 10.0, "beat": 0.95}
DIFFICULTIES = ("Expert", "Hard", "Medium", "Easy")


@dataclass
class Human:
    """The human chart: Expert guitar note times (s, chords once), their ticks and lowest
    lanes, Expert drum hit times (s), ``parts``: "bass" / "keys" → Expert note times (s,
    chords once) of ``PART BASS`` / ``PART KEYS`` (empty without the part), the beat lines
    of its tempo map (s, see ``beat_lines``), and the ticks of its quarter notes counted from
    each bar line (``beat_lines(..., unit=1)``) with the MIDI ticks per quarter note;
    ``sections``: the starts (s) of its practice sections (``EVENTS`` ``[prc_…]`` or
    ``[section …]``, empty without them) and ``section_kinds`` the part each is
    (``section_kind``); ``tempo_ticks`` and ``tempo_seconds``: the tempo changes' ticks and
    times (s), from which ``seconds`` converts any tick; ``bars``: its bar lines (s,
    ``bar_lines``)."""

    onsets: np.ndarray
    onset_ticks: np.ndarray
    lanes: np.ndarray
    drums: np.ndarray
    parts: dict[str, np.ndarray]
    beats: np.ndarray
    quarters: np.ndarray
    ticks_per_quarter: int
    sections: np.ndarray
    section_kinds: list[str]
    tempo_ticks: np.ndarray
    tempo_seconds: np.ndarray
    bars: np.ndarray

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Times (s) of ``ticks`` on the chart's tempo map (the last tempo runs on)."""
        return _tick_seconds(self.tempo_ticks, self.tempo_seconds, ticks)


def _tick_seconds(tempo_ticks: np.ndarray, tempo_seconds: np.ndarray,
                  ticks: np.ndarray) -> np.ndarray:
    """Piecewise-linear tick → s through the tempo changes; the last segment runs on."""
    i = np.searchsorted(tempo_ticks, ticks, side="right") - 1
    rate = np.diff(tempo_seconds) / np.diff(tempo_ticks)
    return tempo_seconds[i] + (ticks - tempo_ticks[i]) * rate[np.minimum(i, len(rate) - 1)]


def beat_lines(signatures: list[tuple[int, int, int]], end: int, tpb: int,
               unit: float | None = None) -> list[int]:
    """Ticks of the beat lines a tempo map draws up to tick ``end``: from each time
    signature ``(tick, numerator, denominator)`` on, bars of ``numerator`` notes of
    1/``denominator``, and in each bar a line every ``unit`` quarter notes from its bar
    line (default: one per 1/``denominator`` note, so a 7/8 bar has 7 lines).

    The default is how YARG draws a chart's beat lines: restarting at every time
    signature, one per denominator note (YARC-Official/YARG.Core
    ``YARG.Core/Chart/Sync/SyncTrack.cs``, ``beatlineTickRate = Resolution * 4 /
    Denominator``). Counting quarter notes from tick 0 instead puts every later beat an 8th
    off after one odd bar (a 3/8 or 7/8)."""
    lines = []
    for bar_start, bar_stop, denominator in _bars(signatures, end, tpb):
        step = tpb * (unit if unit is not None else 4 / denominator)
        lines += [int(t) for t in np.arange(bar_start, bar_stop, step)]
    return lines


def bar_lines(signatures: list[tuple[int, int, int]], end: int, tpb: int) -> list[int]:
    """Ticks of the bar lines up to tick ``end`` (see ``beat_lines``)."""
    return [int(start) for start, _, _ in _bars(signatures, end, tpb)]


def _bars(signatures: list[tuple[int, int, int]], end: int, tpb: int
          ) -> list[tuple[float, float, int]]:
    """(start tick, end tick, denominator) of every bar up to tick ``end``: from each time
    signature ``(tick, numerator, denominator)`` on, bars of ``numerator`` 1/``denominator``
    notes, the last one cut at the next signature."""
    bars = []
    for i, (start, numerator, denominator) in enumerate(signatures):
        stop = signatures[i + 1][0] if i + 1 < len(signatures) else end
        length = numerator * 4 * tpb / denominator
        bars += [(t, min(t + length, stop), denominator) for t in np.arange(start, stop, length)]
    return bars


def read_human(path: Path) -> Human:
    mid = mido.MidiFile(path, clip=True)
    tpb = mid.ticks_per_beat
    tempos: dict[int, int] = {}
    signatures: dict[int, tuple[int, int]] = {}
    end, notes, drums, sections = 0, {}, set(), {}
    others: dict[str, set[int]] = {part: set() for part in OTHER_PARTS.values()}
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            end = max(end, tick)
            if msg.type == "set_tempo":
                tempos.setdefault(tick, msg.tempo)
            elif msg.type == "time_signature":
                signatures.setdefault(tick, (msg.numerator, msg.denominator))
            elif msg.type == "text" and msg.text.startswith(("[prc_", "[section ")):
                sections.setdefault(tick, section_kind(msg.text))
            elif msg.type == "note_on" and msg.velocity and msg.note in EXPERT_GEMS:
                if track.name == "PART GUITAR":
                    notes[tick] = min(notes.get(tick, 9), msg.note - 96)
                elif track.name == "PART DRUMS":
                    drums.add(tick)
                elif track.name in OTHER_PARTS:
                    others[OTHER_PARTS[track.name]].add(tick)
    changes = sorted(tempos.items()) if 0 in tempos else [(0, 500_000), *sorted(tempos.items())]
    # One more point a quarter note past the last change carries its rate.
    ticks = [t for t, _ in changes] + [changes[-1][0] + tpb]
    starts = [0.0]
    for (t0, us), t1 in zip(changes, ticks[1:]):
        starts.append(starts[-1] + (t1 - t0) * us / 1e6 / tpb)
    signatures.setdefault(0, (4, 4))  # a MIDI file without one is 4/4
    meter = [(t, n, d) for t, (n, d) in sorted(signatures.items())]
    keys = np.array(sorted(notes))
    tempo_ticks, tempo_seconds = np.array(ticks), np.array(starts)

    def seconds(at: list[int] | np.ndarray) -> np.ndarray:
        return _tick_seconds(tempo_ticks, tempo_seconds, np.array(at))

    return Human(seconds(keys), keys, np.array([notes[t] for t in keys]),
                 seconds(sorted(drums)), {k: seconds(sorted(v)) for k, v in others.items()},
                 seconds(beat_lines(meter, end, tpb)),
                 np.array(beat_lines(meter, end, tpb, unit=1)), tpb, seconds(sorted(sections)),
                 [sections[t] for t in sorted(sections)], tempo_ticks, tempo_seconds,
                 seconds(bar_lines(meter, end, tpb)))


def section_kind(text: str) -> str:
    """The part a human practice section is, without its number or letter: ``[prc_verse_1a]``
    and ``[section Verse 2]`` → ``verse``, ``[prc_gtr_solo_b]`` → ``gtr_solo``."""
    kind = re.sub(r"^\[(prc_|section )|\]$", "", text).lower()
    return re.sub(r"([_ ]?\d+[a-z]?|_[a-z])$", "", kind)


def label_f(human: Human, starts: np.ndarray, names: list[str], end_s: float) -> float:
    """mir_eval pairwise F (0.5 s frames) of how the generated sections (``starts``, s, and
    ``names``) group into parts against the human ones (``section_kinds``): generated
    sections are one part where their names are without the number (Chorus 1, Chorus 2A);
    each Section N and the Bridge stand alone. nan with fewer than 2 human sections."""
    def intervals(times: np.ndarray) -> np.ndarray:
        bounds = np.concatenate([[0.0], np.clip(times[1:], 0.0, end_s), [end_s]])
        return np.stack([bounds[:-1], bounds[1:]], axis=1)
    inside = human.sections < end_s
    if inside.sum() < 2:
        return float("nan")
    ours = [name if name.startswith("Section ") else re.sub(r" \d+[A-Z]?$", "", name)
            for name in names]
    kinds = [k for k, i in zip(human.section_kinds, inside, strict=True) if i]
    return mir_eval.segment.pairwise(intervals(human.sections[inside]), kinds,
                                     intervals(starts), ours, frame_size=0.5)[2]


def forbidden(difficulty: str, lanes: tuple[int, ...]) -> bool:
    """Chord/lane rules of chart-generation.md §5.2 as scan-chart checks them."""
    if difficulty == "Hard":
        return len(lanes) > 2 or lanes == (0, 4)
    if difficulty == "Medium":
        return len(lanes) > 2 or 4 in lanes or lanes == (0, 3)
    if difficulty == "Easy":
        return len(lanes) > 1 or max(lanes) > 2
    return len(lanes) > 3


def evaluate(song: GeneratedSong, human: Human) -> dict[str, float]:
    est = song.note_seconds("Expert") - song.lead_in_s
    f50 = mir_eval.onset.f_measure(human.onsets, est, window=0.05)[0]
    f25 = mir_eval.onset.f_measure(human.onsets, est, window=0.025)[0]
    pairs = mir_eval.util.match_events(human.onsets, est, 0.05)
    offsets = [est[j] - human.onsets[i] for i, j in pairs]
    offset = float(np.median(offsets)) * 1000 if offsets else float("nan")
    # The tempo map's beats over the whole audio, like the human map's (its `end` is the
    # audio's end): stopping at the last Expert note would count every later human beat missed.
    end_tick = int(song.tempo.ticks(song.song_length_ms / 1000))
    beats = np.array([song.tempo.seconds(t) for t in range(0, end_tick, 192)]) - song.lead_in_s
    beats = beats[beats >= 0]
    beat_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(human.beats),
                                     mir_eval.beat.trim_beats(beats))
    bars = np.array([song.tempo.seconds(t) for t in range(0, end_tick, song.tempo.bar_ticks)])
    bars -= song.lead_in_s
    bar_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(human.bars),
                                    mir_eval.beat.trim_beats(bars[bars >= 0]))
    guitar = song.parts["guitar"].tracks
    est_lanes = [guitar["Expert"][j].lanes[0] for _, j in sorted(pairs, key=lambda p: p[1])]
    ref_lanes = [human.lanes[i] for i, _ in sorted(pairs, key=lambda p: p[1])]
    moves = [(np.sign(e1 - e0), np.sign(r1 - r0)) for e0, e1, r0, r1 in
             zip(est_lanes, est_lanes[1:], ref_lanes, ref_lanes[1:])]
    contour = float(np.mean([a == b for a, b in moves])) if moves else float("nan")
    starts = np.array([song.tempo.seconds(s.tick) for s in song.sections]) - song.lead_in_s
    section_f = (mir_eval.onset.f_measure(human.sections, starts, window=3.0)[0]
                 if len(human.sections) else float("nan"))
    labels = label_f(human, starts, [s.name for s in song.sections],
                     song.song_length_ms / 1000 - song.lead_in_s)
    out = {"f50": f50, "f25": f25, "offset": offset, "beat": beat_f, "bar": bar_f,
           "meter": song.tempo.beats_per_bar, "contour": contour,
           "sections": section_f, "labels": labels, "secs": song.seconds,
           **beat_diagnosis(beats, human.beats)}
    played = {"drums": [song.tempo.seconds(n.tick) for n in song.drums.get("Expert", [])],
              **{k: song.note_seconds("Expert", k) for k in human.parts if k in song.parts}}
    for part, ref in {"drums": human.drums, **human.parts}.items():
        hits = np.array(played.get(part, [])) - song.lead_in_s
        out[part] = (mir_eval.onset.f_measure(ref, hits, 0.05)[0] if len(hits) and len(ref)
                     else float("nan"))
    ini = dict(line.split(" = ", 1) for line in song.song_ini.splitlines()[1:] if " = " in line)
    summary = analyse_chart(song.chart_bytes, kind="chart", ini=ini)
    out["issues"] = sum(1 for i in summary.issues if i.type in MUST_PASS)
    # Re-parsed note counts must equal what the generator says it wrote (one more "issue").
    for instrument, counts in (*song.note_counts.items(), ("drums", song.drum_counts)):
        parsed = {t.difficulty: t.note_count for t in summary.tracks if t.instrument == instrument}
        out["issues"] += parsed != {d.lower(): n for d, n in counts.items()}
    for diff, notes in guitar.items():
        times = [song.tempo.seconds(n.tick) for n in notes]
        span = max(times[-1] - times[0], 1e-9) if len(times) > 1 else 1.0
        out[f"{diff}.nps"] = len(notes) / span
        out[f"{diff}.chords"] = sum(len(n.lanes) > 1 for n in notes) / max(1, len(notes))
        out[f"{diff}.forbidden"] = sum(forbidden(diff, n.lanes) for part in song.parts.values()
                                       for n in part.tracks[diff])
        out[f"{diff}.gap_ms"] = min(np.diff(times)) * 1000 if len(times) > 1 else float("nan")
    return out


def beat_diagnosis(est: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Why beat F is what it is: ``tempo`` = median ratio of the generated tempo to the human
    one at the same time (2 = double tempo, 0.5 = half, 1.33 = dotted 8th), and the shares
    of generated beats (inside the human map) on the human beat (``on``, within ⅛ beat), on
    its off-beat 8th (``half``) and on a 16th between (``quarter``)."""
    inside = est[(est >= ref[0]) & (est < ref[-1])]
    if len(inside) < 2:
        return {"tempo": float("nan"), "on": float("nan"), "half": float("nan"),
                "quarter": float("nan")}
    ref_period = np.interp(inside[:-1], ref[:-1], np.diff(ref))
    position = np.interp(inside, ref, np.arange(len(ref))) % 1
    eighth = np.rint(position * 4).astype(int) % 4
    return {"tempo": float(np.median(ref_period / np.diff(inside))),
            "on": float(np.mean(eighth == 0)), "half": float(np.mean(eighth == 2)),
            "quarter": float(np.mean(eighth % 2 == 1))}


def fixture_manifest() -> dict:
    """The shared fixtures' ``onyx/manifest.json``."""
    return json.loads((FIXTURES / "onyx" / "manifest.json").read_text())


def guitar_songs(songs: list[dict]) -> list[dict]:
    """The manifest entries with a guitar part (> 100 note-ons in PART GUITAR, all
    difficulties)."""
    return [song for song in songs
            if any(t["name"] == "PART GUITAR" and t["note_ons"] > 100
                   for t in song["midi"]["tracks"])]


def guitar_fixtures(limit: int, held_out: int | None, into: Path) -> Path:
    """A fixtures folder (``into``) for the tool, listing only songs with a guitar part (the
    others would be rendered for nothing): those among the first ``limit`` songs (0 = all),
    or with ``held_out`` K every 4th after the first ``limit``, from the K-th. The song
    folders are links to the shared fixtures."""
    manifest = fixture_manifest()
    songs = manifest["songs"]
    if held_out is None:
        chosen = guitar_songs(songs[:limit or None])
    else:
        chosen = guitar_songs(songs[limit:])[held_out::4]
    for song in chosen:
        link = into / "onyx" / song["path"]
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(FIXTURES / "onyx" / song["path"])
    (into / "onyx" / "manifest.json").write_text(json.dumps({**manifest, "songs": chosen}))
    return into


def place(source: Path, target: Path, hiss_db: float | None) -> Path:
    """A link ``target`` to the audio file ``source``; with ``hiss_db``, instead a FLAC copy
    (``target`` with the suffix .flac; libsndfile's Vorbis encoder crashed on whole songs) with
    pink noise (``tests.synthaudio.hiss``) ``hiss_db`` dB below its playing level (the RMS of
    its samples above -60 dBFS). Returns the file written."""
    if hiss_db is None:
        os.symlink(source, target)
        return target
    samples, sr = soundfile.read(source, dtype="float32", always_2d=True)
    playing = samples[np.abs(samples) > 1e-3]
    level = float(np.sqrt(np.mean(playing ** 2))) if playing.size else 0.0
    noise = level * 10 ** (-hiss_db / 20) * hiss(len(samples))
    target = target.with_suffix(".flac")
    soundfile.write(target, samples + noise[:, np.newaxis], sr)
    return target


def cold_seconds(source: Path) -> float:
    """Wall time of a fresh interpreter importing the generator and generating once."""
    code = ("import sys, time; t = time.perf_counter(); sys.path.insert(0, sys.argv[1]); "
            "from content.generator import generate; generate(sys.argv[2]); "
            "print(time.perf_counter() - t)")
    proc = subprocess.run([sys.executable, "-c", code, str(REPO), str(source)],
                          capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, default=DEFAULT_LIBRARY,
                    help=f"where the rendered library is cached (default {DEFAULT_LIBRARY})")
    ap.add_argument("--limit", type=int, default=41,
                    help="render the songs with a guitar part among the first N fixture "
                         "songs (0 = all 54 of the 246; ~25 s per song); the first 41 hold 8")
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-process timings")
    ap.add_argument("--no-render", action="store_true",
                    help="use the songs already in --library as they are")
    ap.add_argument("--hiss", type=float, metavar="DB",
                    help="add pink noise (an amp's hiss, a room, a separated stem's bleed) DB "
                         "below each input's playing level, e.g. 27")
    ap.add_argument("--held-out", type=int, nargs="?", const=0, choices=range(4),
                    metavar="K",
                    help="render every 4th song with a guitar part after the first --limit "
                         "songs, from the K-th (default 0), instead (use another --library "
                         "than the tuning set's)")
    args = ap.parse_args()

    if not args.no_render:
        print(f"building the rendered library in {args.library} …", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            fixtures = guitar_fixtures(args.limit, args.held_out, Path(tmp))
            subprocess.run([sys.executable, str(TOOL), str(args.library), "--audio", "--stems",
                            "--fixtures", str(fixtures)], check=True, stdout=subprocess.DEVNULL)

    rows: list[tuple[str, str, dict[str, float]]] = []
    warmed = False
    for folder in sorted(p.parent for p in args.library.glob("*/*/notes.mid")):
        if not (folder / "guitar.ogg").exists():
            continue
        human = read_human(folder / "notes.mid")
        if len(human.onsets) < 20:
            continue
        title = folder.name[:28]
        with tempfile.TemporaryDirectory() as tmp:
            both = Path(tmp)
            both.joinpath("stems").mkdir()
            for stem, name in (("guitar", "guitar"), ("drums", "drums"), ("bass", "bass"),
                               ("keys", "keys"), ("vocals", "song")):
                if (folder / f"{stem}.ogg").exists():
                    place(folder / f"{stem}.ogg", both / "stems" / f"{name}.ogg", args.hiss)
            mix, stem = (place(folder / f"{name}.ogg", both / f"{name}.ogg", args.hiss)
                         for name in ("song", "guitar"))
            for mode, source in (("mix", mix), ("stem", stem), ("stems", both / "stems")):
                try:
                    if not warmed:  # pay numba's JIT and the imports once: timings are warm
                        generate(source)
                        warmed = True
                    cpu = time.process_time()
                    song = generate(source)
                    cpu = time.process_time() - cpu
                except GeneratorError as exc:
                    print(f"  {title}: {mode}: {exc.reason}", flush=True)
                    continue
                metrics = evaluate(song, human)
                metrics["cpu"] = cpu
                if mode == "mix" and not args.no_cold:
                    metrics["cold"] = cold_seconds(source)
                rows.append((title, mode, metrics))
                print_row(title, mode, metrics)
    print_summary(rows)
    return 0


HEADER = (f"{'song':28s} {'mode':5s} {'F@50':>5s} {'F@25':>5s} {'off':>6s} {'beatF':>5s} "
          f"{'barF':>5s} {'TS':>2s} "
          f"{'tempo':>5s} {'on/½/¼ %':>10s} {'cont':>4s} {'nps E/H/M/Ez':>19s} "
          f"{'chord% E/H/M':>12s} {'forb':>4s} "
          f"{'gap ms E/H/M/Ez':>17s} {'iss':>3s} {'drF':>4s} {'bsF':>4s} {'kyF':>4s} "
          f"{'warm':>5s} {'cpu':>5s} "
          f"{'cold':>5s}")
_printed_header = False


def print_row(title: str, mode: str, m: dict[str, float]) -> None:
    global _printed_header
    if not _printed_header:
        print(HEADER)
        _printed_header = True
    diffs = DIFFICULTIES
    nps = "/".join(f"{m[f'{d}.nps']:.1f}" for d in diffs)
    chords = "/".join(f"{100 * m[f'{d}.chords']:.0f}" for d in diffs[:3])
    gaps = "/".join(f"{m[f'{d}.gap_ms']:.0f}" for d in diffs)
    forb = sum(int(m[f"{d}.forbidden"]) for d in diffs)
    phase = "/".join(f"{100 * m[k]:.0f}" for k in ("on", "half", "quarter"))
    print(f"{title:28s} {mode:5s} {m['f50']:5.3f} {m['f25']:5.3f} {m['offset']:+6.1f} "
          f"{m['beat']:5.3f} {m['bar']:5.3f} {m['meter']:2d} {m['tempo']:5.2f} {phase:>10s} "
          f"{m['contour']:4.2f} {nps:>19s} "
          f"{chords:>12s} {forb:4d} "
          f"{gaps:>17s} {int(m['issues']):3d} {m['drums']:4.2f} {m['bass']:4.2f} {m['keys']:4.2f} "
          f"{m['secs']:5.2f} {m['cpu']:5.2f} "
          f"{m.get('cold', float('nan')):5.2f}",
          flush=True)


def print_summary(rows: list[tuple[str, str, dict[str, float]]]) -> None:
    print()
    for mode in ("stem", "stems", "mix"):
        ms = [m for _, md, m in rows if md == mode]
        if not ms:
            continue
        med = {k: statistics.median(m[k] for m in ms)
               for k in ("f50", "f25", "offset", "beat", "bar", "contour", "secs", "cpu")}
        forb = sum(int(m[f"{d}.forbidden"]) for m in ms for d in DIFFICULTIES)
        issues = sum(int(m["issues"]) for m in ms)
        colds = [m["cold"] for m in ms if "cold" in m]
        goals = (med["f50"] >= GOALS["f50"] and med["f25"] >= GOALS["f25"]
                 and abs(med["offset"]) <= GOALS["offset"] and med["beat"] >= GOALS["beat"])
        verdict = ("goals met" if goals else "goals NOT met") if mode == "stem" else "reported"
        cold = f" cold {statistics.median(colds):.2f}s" if colds else ""
        drums = ""
        for part, label in (("drums", "drum"), ("bass", "bass"), ("keys", "keys")):
            fs = [m[part] for m in ms if not np.isnan(m[part])]
            drums += f" {label}F@50={statistics.median(fs):.3f} ({len(fs)})" if fs else ""
        tempo_ok = sum(abs(m["tempo"] - 1) <= 0.04 for m in ms)
        on_beat = statistics.median(m["on"] for m in ms if not np.isnan(m["on"]))
        sections = "/".join(
            f"{statistics.median(fs):.3f}" if fs else "nan"
            for fs in ([m[k] for m in ms if not np.isnan(m[k])] for k in ("sections", "labels")))
        print(f"SUMMARY {mode:5s} songs={len(ms)} median F@50={med['f50']:.3f} "
              f"F@25={med['f25']:.3f} offset={med['offset']:+.1f}ms beatF={med['beat']:.3f} "
              f"barF={med['bar']:.3f} (TS 3 on {sum(m['meter'] == 3 for m in ms)}) "
              f"(tempo ±4% on {tempo_ok}/{len(ms)}, beats on the human beat {100 * on_beat:.0f}%) "
              f"contour={med['contour']:.2f}{drums} section F@3s/label F={sections} "
              f"forbidden={forb} issues={issues} "
              f"warm {med['secs']:.2f}s (cpu {med['cpu']:.2f}s){cold} — {verdict}")
        nps = "/".join(f"{statistics.median(m[f'{d}.nps'] for m in ms):.1f}" for d in DIFFICULTIES)
        chords = "/".join(f"{100 * statistics.median(m[f'{d}.chords'] for m in ms):.0f}"
                          for d in DIFFICULTIES)
        gaps = "/".join(f"{min(m[f'{d}.gap_ms'] for m in ms):.0f}" for d in DIFFICULTIES)
        print(f"        {mode:5s} per difficulty E/H/M/Ez: median notes/s {nps}, median chord % "
              f"{chords}, smallest gap {gaps} ms")


if __name__ == "__main__":
    raise SystemExit(main())
