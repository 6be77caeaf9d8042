"""The microphone source through the real audio stack: paplay -> PulseAudio null sink ->
its monitor -> ALSA 'pulse' -> PortAudio -> sounddevice -> ring buffer -> signal chunks."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pipeline.chunks import EndOfStream, SignalChunk
from pipeline.errors import DeviceError
from pipeline.testing import assert_tiles
from sources.microphone import Microphone, list_input_devices
from sources.wav import write_wav


def _tone(path, freq_hz, seconds, rate=16000, lead_s=0.3, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    tone = amp * np.sin(2 * np.pi * freq_hz * t)
    write_wav(path, np.concatenate([np.zeros(int(lead_s * rate)), tone, np.zeros(int(0.3 * rate))]), rate)


def _record_while_playing(mic: Microphone, audio, wav, consume_delay_s: float = 0.0):
    chunks = []
    ahead_us = []

    def consume():
        for c in mic.chunks():
            chunks.append(c)
            if isinstance(c, SignalChunk):
                ahead_us.append(c.t_end - mic.clock_us())
            if consume_delay_s:
                time.sleep(consume_delay_s)

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.8)  # the null sink's monitor takes a moment before it delivers
    audio.play(wav)
    thread.join(timeout=30)
    assert not thread.is_alive(), "microphone did not finish"
    # Stamps come from the stream clock, so no chunk ends in the future; the ALSA pulse plugin
    # derives its ADC time from a latency estimate, hence a tolerance of a few milliseconds.
    assert max(ahead_us) < 20_000, max(ahead_us)
    return chunks


def _dominant_hz(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.shape[0])))
    return np.fft.rfftfreq(x.shape[0], 1 / rate)[int(np.argmax(spectrum))]


def test_records_what_is_played(virtual_mic, tmp_path):
    wav = tmp_path / "tone.wav"
    _tone(wav, 440.0, 0.6)
    mic = Microphone(device="pulse", chunk_us=10_000, duration_s=2.5)
    chunks = _record_while_playing(mic, virtual_mic, wav)
    assert isinstance(chunks[-1], EndOfStream)
    data = [c for c in chunks if isinstance(c, SignalChunk)]
    assert_tiles(data, "microphone")
    assert all(c.samples.shape == (160, 1) for c in data)  # fixed-size 10 ms chunks
    assert [c.first_sample for c in data] == list(range(0, 160 * len(data), 160))
    x = np.concatenate([c.samples[:, 0] for c in data])
    loud = np.flatnonzero(np.abs(x) > 0.25)
    assert loud.size, "the played tone was not recorded"
    duration = (loud[-1] - loud[0]) / 16000
    assert 0.55 < duration < 0.65, duration  # nothing lost or repeated inside the tone
    segment = x[loud[0]:loud[-1]]
    assert abs(_dominant_hz(segment, 16000) - 440.0) < 3.0
    assert 0.45 < np.abs(segment).max() < 0.55
    assert data[0].t_start == mic.t0_us_ > 0  # stamped from the PortAudio stream clock
    result = mic.result()
    assert result["input_overflows"] == 0 and result["overrun_frames"] == 0
    assert result["samples"] == 40_000


def test_resamples_device_rate_to_pipeline_rate(virtual_mic, tmp_path):
    wav = tmp_path / "tone1k.wav"
    _tone(wav, 1000.0, 0.5)
    mic = Microphone(device="pulse", sample_rate_hz=16000, device_rate_hz=48000, chunk_us=10_000, duration_s=2.0)
    data = [c for c in _record_while_playing(mic, virtual_mic, wav) if isinstance(c, SignalChunk)]
    assert mic.result()["device_rate_hz"] == 48000
    assert all(c.samples.shape == (160, 1) and c.geometry.sample_rate_hz == 16000 for c in data)
    x = np.concatenate([c.samples[:, 0] for c in data])
    loud = np.flatnonzero(np.abs(x) > 0.25)
    assert 0.45 < (loud[-1] - loud[0]) / 16000 < 0.55
    assert abs(_dominant_hz(x[loud[0]:loud[-1]], 16000) - 1000.0) < 3.0


def test_device_by_index_and_overruns_are_counted(virtual_mic, tmp_path):
    index = next(d["index"] for d in list_input_devices() if d["name"] == "pulse")
    wav = tmp_path / "tone.wav"
    _tone(wav, 300.0, 0.5)
    # a ring of 0.1 s and a consumer that sleeps 50 ms per 10 ms chunk must lose audio, and say so
    mic = Microphone(device=index, chunk_us=10_000, duration_s=0.6, buffer_s=0.1)
    mic_chunks = _record_while_playing(mic, virtual_mic, wav, consume_delay_s=0.05)
    assert len([c for c in mic_chunks if isinstance(c, SignalChunk)]) == 60
    result = mic.result()
    assert result["device_index"] == index
    assert result["overrun_frames"] > 0
    assert "overrun" in result["summary"]


def test_missing_device_lists_the_devices_that_exist(virtual_mic):
    with pytest.raises(DeviceError) as info:
        next(Microphone(device="no such microphone 42").chunks())
    assert "no input device named 'no such microphone 42'" in str(info.value)
    assert "pulse" in str(info.value)
    with pytest.raises(DeviceError, match="no input device with index 9999"):
        next(Microphone(device=9999).chunks())
