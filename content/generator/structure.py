"""Song structure: named practice sections and star-power phrases.

Sections (chart-generation.md §5.5 rule 6): bar-synchronous timbre (MFCC from the mix's
log-mel) and harmony (chroma from its STFT) are cut into segments by
``librosa.segment.agglomerative``, one segment per ~``SECONDS_PER_SECTION`` s; a segment
shorter than ``MIN_SECTION_BARS`` joins the neighbour nearer in features (agglomerative cuts
also fall on 1–2-bar transitions), and the clustering is asked for more segments until that
many survive (``_segment_starts``). On the 54 fixture mixes: 983 sections, median 8 bars,
none under 4 bars, 7 % over 40 s; section starts within 3 s of the human charts' practice
sections: F 0.567 (``bench/bench_generator.py``, mix). Asking once left 745 sections, median
10 bars, 16 % over 40 s, F 0.511; the human charts: median 8 bars, 9 % under 4. Segments whose
features are close get the same label (joined below ``LABEL_CUT`` × the median merge distance
of their average-linkage tree); the loudest label that repeats is the chorus, the most
frequent other repeating label the verse (a run of one label: Chorus 1, Chorus 1A, …); a
quiet first/last segment is the intro/outro; anything else is a bridge (first time) or
"Section N". With ``LABEL_CUT`` 0.7 the names group the 54 fixture mixes' sections as their
human charts do with pairwise label F 0.509 (``bench/bench_generator.py``, mix), against
0.440 at 1.0, which named 45 % of the sections Verse or Chorus where the human charts name
23 % so (solos, riffs, breaks …); 0.5 and 0.6 score about as 0.7 with still more
"Section N".

Star power (§5.2, Rock Band "Overdrive" spec, §5.3 official charts): ``round(bars / 10)``
one-bar phrases, evenly spaced over the notes, each on a bar that has ≥ 3 Expert notes and a
note in every difficulty (else scan-chart reports ``emptyStarPower``), none in the last 8
bars, never two in adjacent bars. Guitar and drums get their own phrases.

Drum fills (activation lanes, ``.chart`` ``S 64``; formats.md §1.3): a drummer with star
power to spend sees a fill and activates on its last note, and a drum part with star power
but no fill cannot activate it (scan-chart ``noDrumActivationLanes``). The fixture charts'
human fills (``PART DRUMS`` note 120) last a bar (median 4 beats), end on a downbeat more
often than anywhere else, and come every 4 bars (median; one per 5.7 bars over a song), half
of them at a section start. So a fill here is the bar before a section start, and before
every ``FILL_EVERY_BARS``-th bar inside a long section, ending on a drum note on that
downbeat in every difficulty, at least ``FILL_MIN_GAP_BARS`` after the fill before; none
before the first star-power phrase has ended (nothing to spend) and none over a phrase (its
notes would not be played for star power). On the drum stems of 20 rendered fixture songs this
gives one fill per 6.1 bars (median; 11.6 with a fill every 8th bar), near the human 5.7.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import librosa
import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from content.generator.lanes import Note
from content.generator.spectrum import N_FFT, Spectrum
from content.generator.tempo import TempoMap

SECONDS_PER_SECTION = 15.0
MIN_SECTIONS, MAX_SECTIONS = 3, 24
MIN_SECTION_BARS = 4  # (module text)
LABEL_CUT = 0.7  # (module text)
QUIET_DB = 4.0  # an intro/outro is this much quieter than the song's median segment
SP_BARS_PER_PHRASE = 10
SP_MIN_NOTES = 3
SP_NOT_IN_LAST_BARS = 8
FILL_EVERY_BARS = 4
FILL_MIN_GAP_BARS = 4


@dataclass(frozen=True, slots=True)
class Section:
    """A practice section: starts at ``tick``; ``name`` as shown in game; ``energy_db``."""

    tick: int
    name: str
    energy_db: float


def sections(mix: Spectrum, tempo: TempoMap, end_tick: int) -> list[Section]:
    """Named sections covering tick 0 … ``end_tick``, each starting on a bar line."""
    bar = tempo.bar_ticks
    bar_ticks = list(range(0, max(end_tick, bar) + 1, bar))
    frames = mix.frame_of([tempo.seconds(t) for t in bar_ticks])
    if len(bar_ticks) < 2 * MIN_SECTIONS:
        return [Section(0, "Section 1", 0.0)]
    mfcc = librosa.feature.mfcc(S=mix.mel_db, n_mfcc=13)
    # tuning=0: estimating it runs piptrack over the whole song (~5 s); sections need no tuning.
    chroma = librosa.feature.chroma_stft(S=mix.magnitude ** 2, sr=mix.sr, n_fft=N_FFT,
                                         tuning=0.0)
    feats = np.vstack([librosa.util.normalize(mfcc, axis=1), chroma])
    per_bar = _bar_means(feats, frames)
    energy = _bar_means(mix.energy_db[np.newaxis], frames)[0]
    seconds = tempo.seconds(end_tick)
    k = int(np.clip(round(seconds / SECONDS_PER_SECTION), MIN_SECTIONS,
                    min(MAX_SECTIONS, per_bar.shape[1] // 2)))
    starts = _segment_starts(per_bar, k)
    bounds = starts + [per_bar.shape[1]]
    seg_feat = np.stack([per_bar[:, a:b].mean(axis=1) for a, b in zip(bounds, bounds[1:])])
    seg_energy = np.array([energy[a:b].mean() for a, b in zip(bounds, bounds[1:])])
    labels = _labels(seg_feat)
    names = _names(labels, seg_energy)
    return [Section(int(bar_ticks[s]), n, float(e))
            for s, n, e in zip(starts, names, seg_energy, strict=True)]


def _segment_starts(per_bar: np.ndarray, k: int) -> list[int]:
    """Bar indices (ascending, the first 0) where at least ``k`` segments of ``per_bar``
    (features × bars) start, or as many as the bars allow (one per ``MIN_SECTION_BARS``).

    ``librosa.segment.agglomerative`` spends some of the segments it is asked for on 1–2-bar
    transitions, which ``_merge_short`` then joins to a neighbour: asked for 7 on a 51-bar
    song it left 3. So it is asked again for as many more as were lost, until ``k`` survive."""
    most = max(k, per_bar.shape[1] // MIN_SECTION_BARS)
    asked = k
    while True:
        cuts = librosa.segment.agglomerative(per_bar, asked)
        starts = _merge_short(sorted({0, *(int(c) for c in cuts)}), per_bar)
        if len(starts) >= k or asked == most:
            return starts
        asked = min(asked + k - len(starts), most)


def _merge_short(starts: list[int], per_bar: np.ndarray) -> list[int]:
    """Segment starts (bar indices, ascending, the first 0) with no segment shorter than
    ``MIN_SECTION_BARS`` while more than ``MIN_SECTIONS`` remain: the shortest joins the
    neighbour whose mean features (``per_bar``: features × bars) are nearer."""
    bounds = [*starts, per_bar.shape[1]]

    def mean(i: int) -> np.ndarray:
        return per_bar[:, bounds[i]:bounds[i + 1]].mean(axis=1)

    while len(bounds) - 1 > MIN_SECTIONS:
        lengths = np.diff(bounds)
        i = int(np.argmin(lengths))
        if lengths[i] >= MIN_SECTION_BARS:
            break
        if i == 0 or (i < len(lengths) - 1 and np.linalg.norm(mean(i) - mean(i + 1))
                      < np.linalg.norm(mean(i) - mean(i - 1))):
            del bounds[i + 1]  # joins the next segment
        else:
            del bounds[i]  # joins the previous one
    return bounds[:-1]


def _bar_means(feats: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Mean of ``feats`` (features × frames) over each bar ``frames[i]:frames[i + 1]``."""
    out = np.zeros((feats.shape[0], len(frames) - 1))
    for i, (a, b) in enumerate(zip(frames, frames[1:])):
        out[:, i] = feats[:, a:max(b, a + 1)].mean(axis=1)
    return out


def _labels(seg_feat: np.ndarray) -> list[int]:
    """Cluster segments: those joined below ``LABEL_CUT`` × the median merge distance share a
    label (module text)."""
    if len(seg_feat) < 2:
        return [1] * len(seg_feat)
    tree = linkage(seg_feat, method="average", metric="euclidean")
    cut = LABEL_CUT * float(np.median(tree[:, 2]))
    return [int(x) for x in fcluster(tree, cut, criterion="distance")]


def _names(labels: list[int], energy: np.ndarray) -> list[str]:
    n = len(labels)
    median = float(np.median(energy))
    repeated = {lab for lab in labels if labels.count(lab) > 1}
    loudness = {lab: energy[[i for i in range(n) if labels[i] == lab]].mean() for lab in repeated}
    chorus = max(repeated, key=loudness.get) if repeated else None
    rest = [lab for lab in repeated if lab != chorus]
    verse = max(rest, key=lambda lab: (labels.count(lab), -loudness[lab])) if rest else None
    names, counts, run = [], {"Verse": 0, "Chorus": 0, "Bridge": 0}, 0
    for i, lab in enumerate(labels):
        if i == 0 and energy[i] < median - QUIET_DB:
            names.append("Intro")
        elif i == n - 1 and n > 2 and energy[i] < median - QUIET_DB:
            names.append("Outro")
        elif lab in (chorus, verse):
            kind = "Chorus" if lab == chorus else "Verse"
            # The same part running on is Chorus 1A, 1B …, as Harmonix names practice
            # sections (prc_chorus_1, prc_chorus_1a).
            run = run + 1 if i and labels[i - 1] == lab and names[-1].startswith(kind) else 0
            counts[kind] += run == 0
            names.append(f"{kind} {counts[kind]}" + (chr(ord("A") + run - 1) if run else ""))
        elif counts["Bridge"] == 0 and lab not in repeated and 0 < i < n - 1:
            counts["Bridge"] += 1
            names.append("Bridge")
        else:
            names.append(f"Section {i + 1}")
    return names


def star_power(tracks: dict[str, list[Note]], tempo: TempoMap) -> list[tuple[int, int]]:
    """Star-power phrases as (tick, length) pairs, shared by every difficulty."""
    expert = tracks["Expert"]
    if not expert:
        return []
    bar = tempo.bar_ticks
    first_bar, last_bar = expert[0].tick // bar, expert[-1].tick // bar
    total_bars = last_bar - first_bar + 1
    wanted = max(1, round(total_bars / SP_BARS_PER_PHRASE))
    per_bar = {name: _notes_per_bar(notes, bar) for name, notes in tracks.items()}
    eligible = [b for b in range(first_bar, last_bar - SP_NOT_IN_LAST_BARS + 1)
                if per_bar["Expert"].get(b, 0) >= SP_MIN_NOTES
                and all(counts.get(b, 0) > 0 for counts in per_bar.values())]
    if not eligible:  # short or sparse song: any bar with notes everywhere will do
        eligible = [b for b in range(first_bar, last_bar + 1)
                    if all(counts.get(b, 0) > 0 for counts in per_bar.values())]
    span = max(1, last_bar - SP_NOT_IN_LAST_BARS - first_bar + 1)
    chosen: list[int] = []
    for i in range(wanted):
        goal = first_bar + (i + 0.5) * span / wanted
        free = [b for b in eligible if all(abs(b - c) > 1 for c in chosen)]
        if not free:
            break
        bisect.insort(chosen, min(free, key=lambda b: abs(b - goal)))
    return [(b * bar, bar) for b in chosen]


def drum_fills(drums: dict[str, list[Note]], section_starts: list[int], tempo: TempoMap,
               phrases: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drum fills as (tick, length) pairs, shared by every difficulty: each covers the bar
    before a downbeat (see the module text) up to and including the downbeat's note, the
    activation note (a ``.chart`` phrase does not cover its end tick)."""
    if not drums or not phrases or not drums.get("Expert"):
        return []
    bar = tempo.bar_ticks
    hits = [{n.tick for n in notes} for notes in drums.values()]
    last = drums["Expert"][-1].tick
    downbeats = set()
    for start, end in zip(section_starts, [*section_starts[1:], last + 1]):
        downbeats.update(range(start, end, FILL_EVERY_BARS * bar))
    spent_from = phrases[0][0] + phrases[0][1]
    fills = []
    for tick in sorted(downbeats):
        fill_start = tick - bar + 1
        if (fill_start < spent_from or not all(tick in h for h in hits)
                or any(p < tick + 1 and fill_start < p + length for p, length in phrases)
                or (fills and tick - (fills[-1][0] + bar - 1) < FILL_MIN_GAP_BARS * bar)):
            continue
        fills.append((fill_start, bar))
    return fills


def _notes_per_bar(notes: list[Note], bar: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for note in notes:
        counts[note.tick // bar] = counts.get(note.tick // bar, 0) + 1
    return counts


def preview_start(sections_: list[Section]) -> int:
    """Tick of the most energetic section (the song.ini preview starts there)."""
    return max(sections_, key=lambda s: s.energy_db).tick
