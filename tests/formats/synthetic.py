"""Small synthetic charts that exercise rules the fixtures do not (every issue type, drum markers,
forcing, sysex, roll lanes...). Built in memory; the parity test runs them through scan-chart too.

``synthetic_cases()`` → case id → ``(bytes, kind, song.ini text or None)``.
"""
from __future__ import annotations

from .midibuild import flat, midi_bytes, note, sysex, tempo_track, text, track

RES = 192  # ticks per beat: at the default 120 BPM one beat is 500 ms
BEAT = RES


def chart(tracks: dict[str, list[str]], *, sync: str = "  0 = B 120000\n  0 = TS 4\n",
          events: str = "") -> bytes:
    """A .chart with ``tracks`` (section name → lines), a tempo map and global events."""
    out = (f"[Song]\n{{\n  Resolution = {RES}\n}}\n[SyncTrack]\n{{\n{sync}}}\n"
           f"[Events]\n{{\n{events}}}\n")
    for name, lines in tracks.items():
        out += f"[{name}]\n{{\n" + "".join(f"  {line}\n" for line in lines) + "}\n"
    return out.encode()


def notes(count: int, start: int = 4 * BEAT, step: int = 4 * BEAT, fret: int = 0) -> list[str]:
    """``count`` single .chart notes, ``step`` ticks apart, alternating two frets."""
    return [f"{start + i * step} = N {fret + i % 2} 0" for i in range(count)]


def _drum_hits(count: int, step: int = 3 * BEAT) -> list[str]:
    return [f"{4 * BEAT + i * step} = N {1 + i % 3} 0" for i in range(count)]


def _chart_cases() -> dict[str, tuple[bytes, str | None]]:
    same = notes(25)
    long_track = notes(60, step=3 * BEAT)
    return {
        "clean": (chart({"ExpertSingle": notes(8) + ["768 = S 2 768"]},
                        sync="  0 = B 100000\n  0 = TS 4\n",
                        events='  768 = E "section intro"\n'), None),
        "empty": (chart({}), None),
        "leading-silence": (chart({"ExpertSingle": ["0 = N 0 0"]}), None),
        "misaligned-ts": (chart({"ExpertSingle": notes(2)},
                                sync="  0 = B 120000\n  0 = TS 4\n  100 = TS 3\n"
                                     "  3072 = TS 4\n  3300 = TS 7 3\n"), None),
        "no-expert": (chart({"HardSingle": notes(3), "EasyDrums": _drum_hits(3)}),
                      None),
        "not-reduced": (chart({"ExpertSingle": same, "HardSingle": same,
                               "MediumSingle": notes(20)}), None),
        "no-star-power": (chart({"ExpertSingle": long_track, "HardSingle": long_track[:50]}),
                          None),
        "empty-phrases": (chart({"ExpertSingle": notes(3) + [
            f"{100 * BEAT} = S 2 {BEAT}", f"{100 * BEAT} = E solo",
            f"{101 * BEAT} = E soloend", f"{4 * BEAT} = S 2 0",
        ]}), None),
        "drum-lanes": (chart({"ExpertDrums": _drum_hits(60) + [
            f"{4 * BEAT} = S 2 {BEAT}", f"{400 * BEAT} = S 65 {BEAT}",
            f"{7 * BEAT} = S 66 {4 * BEAT}",
        ]}), None),
        "forbidden-and-chords": (chart({
            "HardDrums": [f"{4 * BEAT} = N 32 0", f"{4 * BEAT} = N 1 0", f"{8 * BEAT} = N 1 0",
                          f"{8 * BEAT} = N 2 0", f"{8 * BEAT} = N 3 0"],
            "EasyDrums": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT} = N 1 0", f"{4 * BEAT} = N 2 0"],
            "MediumSingle": [f"{4 * BEAT} = N 4 0", f"{8 * BEAT} = N 0 0", f"{8 * BEAT} = N 3 0"],
            "HardSingle": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT} = N 4 0"],
            "EasySingle": [f"{4 * BEAT} = N 3 0"],
            "ExpertSingle": [f"{4 * BEAT} = N {i} 0" for i in range(5)],
            "EasyGHLGuitar": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT} = N 3 0", f"{8 * BEAT} = N 0 0",
                              f"{8 * BEAT} = N 1 0", f"{8 * BEAT} = N 2 0"],
            "MediumGHLGuitar": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT} = N 4 0",
                                f"{8 * BEAT} = N 1 0", f"{8 * BEAT} = N 4 0"],
            "HardGHLGuitar": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT} = N 1 0", f"{4 * BEAT} = N 3 0"],
            "ExpertGHLGuitar": [
                f"{4 * BEAT} = N 1 0", f"{4 * BEAT} = N 4 0", f"{4 * BEAT} = N 0 0",
                f"{8 * BEAT} = N 0 0", f"{8 * BEAT} = N 1 0", f"{8 * BEAT} = N 2 0",
                f"{8 * BEAT} = N 3 0",
            ],
        }), None),
        "broken-notes": (chart({"ExpertSingle": [
            f"{4 * BEAT} = N 0 0", f"{4 * BEAT + 2} = N 1 0",
            f"{8 * BEAT} = N 0 0", f"{8 * BEAT + 2} = N 7 0",
        ]}), None),
        "sustains": (chart({"ExpertSingle": [
            f"{4 * BEAT} = N 0 10", f"{8 * BEAT} = N 1 0", f"{12 * BEAT} = N 0 {BEAT}",
            f"{13 * BEAT + 4} = N 1 0", f"{16 * BEAT} = N 2 20",
            f"{16 * BEAT + 10} = N 7 0", f"{16 * BEAT + 10} = N 6 0",
            f"{20 * BEAT} = N 7 {BEAT}", f"{21 * BEAT + 2} = N 7 0",
        ]}), None),
        "sustains-cut-by-ini": (chart({"ExpertSingle": [f"{4 * BEAT} = N 0 10",
                                                        f"{8 * BEAT} = N 1 40"]}),
                                "sustain_cutoff_threshold = 20\n"),
        "end-events": (chart({"ExpertSingle": notes(4)},
                             events=f'  {2 * BEAT} = E "end"\n  {100 * BEAT} = E "[end]"\n'),
                       "song_length = 100000\n"),
        "forcing": (chart({"ExpertSingle": [
            "768 = N 0 0", "800 = N 1 0", "832 = N 1 0", "832 = N 5 0", "864 = N 2 0",
            "864 = N 3 0", "896 = N 3 0", "896 = N 6 0", "960 = N 4 0", "960 = N 5 0",
            "960 = N 6 0", "1200 = N 7 0", "1230 = N 0 0",
        ]}), None),
        "forcing-eighth-hopo": (chart({"ExpertSingle": ["768 = N 0 0", "864 = N 1 0",
                                                        "960 = N 2 0", "1100 = N 3 0"]}),
                                "eighthnote_hopo = 1\n"),
        "chord-snap": (chart({
            "ExpertSingle": ["768 = N 0 0", "770 = N 1 0", "772 = N 1 0", "900 = N 2 0"],
            "ExpertDrums": ["768 = N 1 0", "769 = N 2 0", "769 = N 66 0", "800 = N 0 0"],
        }), "chord_snap_threshold = 5\n"),
        "pro-drums-chart": (chart({"ExpertDrums": [
            "768 = N 0 0", "768 = N 2 0", "768 = N 66 0", "800 = N 3 0",
            "832 = N 4 0", "832 = N 68 0", "864 = N 32 0", "864 = N 1 0",
            "864 = N 34 0", "896 = N 3 0", "896 = N 42 0",
        ]}), None),
        "five-lane-drums": (chart({"ExpertDrums": ["768 = N 4 0", "768 = N 5 0", "800 = N 5 0",
                                                   "832 = N 2 0"]}), None),
        "disco-flip": (chart({"ExpertDrums": [
            "700 = E mix_3_drums0d", "768 = N 1 0", "768 = N 2 0",
            "800 = E mix_3_drums0", "832 = N 1 0",
            "900 = E mix_3_drums0dnoflip", "960 = N 2 0",
        ]}), None),
        "solos-nested-unsorted": (chart({"ExpertSingle": [
            "1000 = N 0 0", "768 = E solo", "768 = N 1 0",
            "800 = E solo", "900 = E soloend", "1100 = E soloend",
            "2000 = E solo",
        ]}), None),
        "overlapping-star-power": (chart({"ExpertSingle": notes(6, step=BEAT) + [
            f"{4 * BEAT} = S 2 {3 * BEAT}",
            f"{5 * BEAT} = S 2 {BEAT}",
            f"{5 * BEAT} = S 2 {4 * BEAT}",
        ]}), None),
        "duplicate-notes": (chart({"ExpertSingle": ["768 = N 0 10", "768 = N 0 300",
                                                    "900 = N 0 0", "768 = N 1 0"]}), None),
        "tempo-and-ts-changes": (chart({"ExpertSingle": notes(10, step=BEAT)},
                                       sync="  0 = B 95500\n  0 = TS 3\n  576 = TS 7 3\n"
                                            "  960 = B 181234\n  1248 = TS 4\n"), None),
        "hopo-frequency": (chart({"ExpertSingle": ["768 = N 0 0", "900 = N 1 0", "1000 = N 2 0"]}),
                           "hopo_frequency = 132\n"),
        "single-bass-and-unknown": (chart({"ExpertSingleBass": notes(3), "Foo": ["1 = X 2"],
                                           "ExpertDoubleBass": notes(2)}),
                                    None),
    }


def _guitar(*events, name: str = "PART GUITAR") -> bytes:
    return midi_bytes(tempo_track(), track(name, *flat(*events)))


def _midi_cases() -> dict[str, tuple[bytes, str | None]]:
    ps_all = bytes([0x50, 0x53, 0, 0, 0x7F, 4])  # 0x7F patched to 0xFF below (mido refuses > 127)
    tap_midi = _guitar(note(0, 96), note(0, 84), sysex(0, ps_all + b"\x01"),
                       sysex(100, ps_all + b"\x00"), note(480, 97),
                       sysex(960, bytes([0x50, 0x53, 0, 0, 3, 1, 1])), note(960, 98),
                       note(960, 99), sysex(1000, bytes([0x50, 0x53, 0, 0, 3, 1, 0])))
    tap_midi = tap_midi.replace(b"\x50\x53\x00\x00\x7f", b"\x50\x53\x00\x00\xff")
    return {
        "mid-forcing-tap-phrases": (_guitar(
            note(0, 96), note(480, 97), note(480, 101), note(960, 98), note(960, 102, 10),
            note(1040, 99), note(1120, 100), note(1120, 104, 10), note(0, 116, 1200),
            note(0, 103, 500), note(0, 84), note(0, 72), note(0, 60),
            note(1200, 96), note(1200, 97), note(1280, 96),
        ), None),
        "mid-enhanced-opens": (midi_bytes(tempo_track(), track(
            "PART BASS", *note(0, 95, 100), text(10, "[ENHANCED_OPENS]"), *note(480, 95, 960),
            *note(1440, 96, 100),
        )), None),
        "mid-sustain-cutoff": (_guitar(note(0, 96, 161), note(480, 97, 162), note(960, 98, 600),
                                       note(1000, 98, 30)), None),
        "mid-multiplier-103": (_guitar(note(0, 96), note(480, 97), note(0, 103, 100),
                                       note(480, 103, 100), note(0, 116, 600)),
                               "multiplier_note = 103\n"),
        "mid-gh-star-power-guess": (_guitar(note(0, 96), note(480, 97), note(0, 103, 100),
                                            note(480, 103, 100)), None),
        "mid-pro-drums": (midi_bytes(tempo_track(), track(
            "PART DRUMS", text(0, "[ENABLE_CHART_DYNAMICS]"),
            *note(0, 96), *note(0, 98, velocity=127),
            *note(480, 95), *note(480, 98, velocity=1), *note(480, 110, 10),
            *note(960, 100), *note(960, 112, 10),
            *note(1440, 97), *note(1440, 109, 10), *note(1920, 120, 480),
            *note(2400, 126, 480, velocity=40),
            *note(2400, 99), *note(2400, 87), *note(2400, 75), *note(2400, 63), *note(2880, 59),
            text(2800, "[mix 3 drums0d]"), *note(2900, 97), *note(2900, 98),
        ), track("EVENTS", text(1900, "[coda]"))), None),
        "mid-five-lane-drums": (midi_bytes(tempo_track(), track(
            "PART DRUMS", *note(0, 100), *note(0, 101), *note(480, 101),
        )), None),
        "mid-ghl": (_guitar(note(0, 94), note(480, 95), note(960, 98), note(1440, 100),
                            note(1440, 97), note(1500, 101), note(1600, 102, 10), note(1600, 99),
                            name="PART GUITAR GHL"), None),
        "mid-ps-sysex": (tap_midi, None),
        "mid-events-and-vocals": (midi_bytes(
            tempo_track(), track("PART GUITAR", *note(0, 96)),
            track("PART VOCALS", *note(0, 60), text(0, "x")),
            track("EVENTS", text(0, "[section intro]"), text(960, "[prc_verse_1]"),
                  text(1920, "[end]"), text(2000, "[end]")),
        ), "song_length = 1500\n"),
        "mid-same-tick-on-off": (midi_bytes(tempo_track(), track(
            "PART GUITAR", *note(0, 96, 480), *note(480, 96, 480), *note(480, 97, 200, channel=1),
            *note(500, 97, 100),
        )), None),
        "mid-coop-rhythm-keys": (midi_bytes(
            tempo_track(),
            track("PART GUITAR COOP", *note(0, 96)), track("PART RHYTHM", *note(0, 97)),
            track("PART KEYS", *note(0, 98)), track("T1 GEMS", *note(0, 99)),
            track("PART BASS GHL", *note(0, 95)), track("PART RHYTHM GHL", *note(0, 95)),
            track("PART GUITAR COOP GHL", *note(0, 95)),
        ), None),
    }


def synthetic_cases() -> dict[str, tuple[bytes, str, str | None]]:
    cases = {f"synthetic/{k}.chart": (v[0], "chart", v[1]) for k, v in _chart_cases().items()}
    cases.update({f"synthetic/{k}.mid": (v[0], "mid", v[1]) for k, v in _midi_cases().items()})
    return cases
