"""Session fixtures: the synthetic songs of ``synth.py`` written as audio files."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.generator.synth import Synth, render, write


@pytest.fixture(scope="session")
def steady(tmp_path_factory: pytest.TempPathFactory) -> tuple[Synth, Path]:
    """40 s at 128 BPM as a folder of stems (song.wav = mix, guitar.wav = tones,
    drums.wav = thumps)."""
    synth = render([(128.0, 84)])
    folder = tmp_path_factory.mktemp("steady")
    write(folder / "song.wav", synth.mix)
    write(folder / "guitar.wav", synth.lead)
    write(folder / "drums.wav", synth.mix - synth.lead)
    return synth, folder


@pytest.fixture(scope="session")
def change(tmp_path_factory: pytest.TempPathFactory) -> tuple[Synth, Path]:
    """140 BPM for 48 beats, then 110 BPM for 40 beats, as one mixed file."""
    synth = render([(140.0, 48), (110.0, 40)], seed=2)
    path = tmp_path_factory.mktemp("change") / "song.wav"
    return synth, write(path, synth.mix)
