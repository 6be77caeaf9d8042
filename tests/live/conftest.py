"""A private PulseAudio server with a virtual microphone (null sink monitor) per test module."""

from __future__ import annotations

import os

import pytest

from pipeline.errors import DeviceError


@pytest.fixture(scope="module")
def virtual_mic():
    """Start PulseAudio with a null sink as the default source; skip only if it cannot start."""
    from sources._virtual_audio import VirtualAudio

    audio = VirtualAudio(sample_rate_hz=16000)
    try:
        audio.start()
    except DeviceError as exc:
        pytest.skip(f"PulseAudio cannot start here: {exc}")
    saved = {k: os.environ.get(k) for k in audio.env}
    os.environ.update(audio.env)  # read by the ALSA 'pulse' plugin when a stream opens
    try:
        audio.add_null_sink()
        yield audio
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        audio.stop()
