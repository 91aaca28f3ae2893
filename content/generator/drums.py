"""Drums ([ExpertDrums] … [EasyDrums], 4-lane) from a drum stem's band-limited onsets.

Built only when a drum stem is given (``drums.*`` / ``drums_1..4.*``); detecting that drums
dominate a full mix is not built. Each onset of the stem is classified by which bands jump
at that moment (each band's flux divided by its 80th percentile over the stem's onsets):

=====================  =========================  ===========================
band                   jumps                      lane (.chart drums note)
=====================  =========================  ===========================
< 120 Hz               kick                       0 kick
150–1000 Hz + 1–5 kHz  snare (body and crack)     1 red
150–1000 Hz only       tom (pitched, no crack)    3 blue
> 6 kHz                hi-hat / cymbal            2 yellow
=====================  =========================  ===========================

Reductions (C3/RBN "Drum Authoring" conventions, condensed): Hard keeps kicks on the 8th
grid and ≤ 2 hands; Medium keeps kicks on beats and one hand; Easy keeps one hand, and kicks
only on beats without a hand (scan-chart flags kick + 2 hands on Easy as
``difficultyForbiddenNote``). Density targets and minimum spacing as in ``DRUM_RULES``.
Drums get no star power: scan-chart then wants activation lanes (``noDrumActivationLanes``),
which this generator does not write.
"""
from __future__ import annotations

import librosa
import numpy as np

from content.generator.lanes import Note
from content.generator.onsets import GridOnset
from content.generator.reduce import select_notes
from content.generator.spectrum import HOP, Spectrum, mel_bands
from content.generator.tempo import RESOLUTION

KICK, RED, YELLOW, BLUE = 0, 1, 2, 3
_BANDS = {"kick": (0.0, 120.0), "body": (150.0, 1000.0), "crack": (1000.0, 5000.0),
          "cymbal": (6000.0, 11025.0)}
_JUMP = 0.5  # a band "jumps" at ≥ half its typical (80th percentile) onset flux
# name, density (share of Expert's notes), min spacing (ticks), kick grid (ticks), hands
DRUM_RULES = (("Hard", 0.75, RESOLUTION // 4, RESOLUTION // 2, 2),
              ("Medium", 0.50, RESOLUTION // 2, RESOLUTION, 1),
              ("Easy", 0.30, RESOLUTION, RESOLUTION, 1))


def drum_tracks(spec: Spectrum, onsets: list[GridOnset], bar: int) -> dict[str, list[Note]]:
    """{"Expert": …, "Hard": …, "Medium": …, "Easy": …} drum notes; empty without onsets.
    ``bar``: ticks per bar of the tempo map (``TempoMap.bar_ticks``)."""
    expert = classify(spec, onsets)
    if not expert:
        return {}
    tracks = {"Expert": expert}
    parent = expert
    for name, density, min_gap, kick_grid, hands in DRUM_RULES:
        chosen = select_notes(parent, max(1, round(density * len(expert))), min_gap, bar)
        parent = [n for n in (_simplify(n, kick_grid, hands, name == "Easy") for n in chosen)
                  if n.lanes]
        tracks[name] = parent
    return tracks


def classify(spec: Spectrum, onsets: list[GridOnset]) -> list[Note]:
    """Expert drum notes: the lanes whose band jumps at each onset."""
    if not onsets:
        return []
    frames = spec.frame_of([o.seconds for o in onsets])
    jumps = {}
    for name, (low, high) in _BANDS.items():
        rows = spec.mel_db[mel_bands(spec.sr, low, high)]
        flux = librosa.onset.onset_strength(S=rows, sr=spec.sr, hop_length=HOP, center=False)
        # The strongest flux within one frame of the onset: bands peak a frame apart.
        at = np.max([flux[np.clip(frames + d, 0, len(flux) - 1)] for d in (-1, 0, 1)], axis=0)
        jumps[name] = at / (np.percentile(at, 80) + 1e-9) >= _JUMP
    notes = []
    for i, onset in enumerate(onsets):
        lanes = set()
        if jumps["kick"][i]:
            lanes.add(KICK)
        if jumps["body"][i]:
            lanes.add(RED if jumps["crack"][i] else BLUE)
        if jumps["cymbal"][i]:
            lanes.add(YELLOW)
        if not lanes:  # an onset no band claims: the loudest part of a kit is the snare
            lanes.add(RED)
        notes.append(Note(onset.tick, tuple(sorted(lanes)), 0, onset.strength))
    return notes


def _simplify(note: Note, kick_grid: int, hands: int, easy: bool) -> Note:
    hand_lanes = [lane for lane in note.lanes if lane != KICK][:hands]
    kick = KICK in note.lanes and note.tick % kick_grid == 0 and not (easy and hand_lanes)
    return Note(note.tick, tuple(sorted(([KICK] if kick else []) + hand_lanes)), 0,
                note.strength)
