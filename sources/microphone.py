"""Live microphone source: PortAudio (sounddevice) input into a preallocated ring buffer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, EndOfStream, Geometry, SignalChunk, sample_time
from pipeline.errors import ConfigError, DeviceError
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Source


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # raised by sounddevice itself when libportaudio is absent
        raise DeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from None
    return sounddevice


def list_input_devices() -> list[dict[str, Any]]:
    """Input-capable devices as {index, name, hostapi, channels, default_rate_hz}."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    return [{"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
             "channels": int(d["max_input_channels"]), "default_rate_hz": int(d["default_samplerate"])}
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def _describe(devices: list[dict[str, Any]]) -> str:
    if not devices:
        return "no input devices exist"
    return "input devices: " + "; ".join(f"[{d['index']}] {d['name']} ({d['hostapi']}, {d['channels']} ch, "
                                          f"{d['default_rate_hz']} Hz)" for d in devices)


def resolve_device(device: int | str | None) -> int:
    """PortAudio index of an input device given by index, exact or partial name, or None (default)."""
    sd = _sounddevice()
    devices = list_input_devices()
    if device is None or device == "":
        index = sd.default.device[0]
        if index is None or index < 0:
            if not devices:
                raise DeviceError(f"no default input device: {_describe(devices)}")
            return devices[0]["index"]
        return int(index)
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        index = int(device)
        if any(d["index"] == index for d in devices):
            return index
        raise DeviceError(f"no input device with index {index}: {_describe(devices)}")
    exact = [d for d in devices if d["name"] == device]
    partial = exact or [d for d in devices if device.lower() in d["name"].lower()]
    if len(partial) == 1 or exact:
        return partial[0]["index"]
    if not partial:
        raise DeviceError(f"no input device named {device!r}: {_describe(devices)}")
    raise DeviceError(f"input device name {device!r} is ambiguous: {_describe(partial)}")


MAX_START_BACKLOG_S = 0.08  # blocks delivered later than this at start: restart the stream


class _Ring:
    """Single-producer single-consumer ring of float32 frames; the audio callback only copies."""

    def __init__(self, capacity: int, channels: int, rate: int) -> None:
        self.data = np.zeros((capacity, channels), dtype=np.float32)
        self.rate = rate
        self.capacity = capacity
        self.written = 0  # frames ever written (only the callback moves it)
        self.read = 0  # frames ever read (only the reader moves it)
        self.overflows = 0  # PortAudio input-overflow flags
        self.overrun_frames = 0  # frames lost because the reader fell a whole ring behind
        self.first_adc_time = -1.0
        self.min_age_s = np.inf  # how old a block's newest frame is on delivery, at best
        self.event = threading.Event()

    def callback(self, indata, frames, time_info, status) -> None:
        if self.written == 0:
            self.first_adc_time = time_info.inputBufferAdcTime
        if time_info.inputBufferAdcTime > 0:
            age = time_info.currentTime - time_info.inputBufferAdcTime - frames / self.rate
            self.min_age_s = min(self.min_age_s, age)
        if status.input_overflow:
            self.overflows += 1
        start = self.written % self.capacity
        first = min(frames, self.capacity - start)
        self.data[start:start + first] = indata[:first]
        if first < frames:
            self.data[:frames - first] = indata[first:]
        self.written += frames
        self.event.set()


@register_stage("microphone")
class Microphone(Source):
    """Record a PortAudio input device as signal chunks of exactly `chunk_us` µs.

    Parameters: device (index, name or part of a name; None = the default input);
    sample_rate_hz (pipeline rate of the chunks); device_rate_hz (rate to open the device at;
    0 = the pipeline rate if the device takes it, else its default rate; resampled when it
    differs); channels; chunk_us (chunk length, µs); duration_s (stop after this much audio;
    0 = until closed); buffer_s (ring buffer length); latency ("low", "high" or seconds);
    t0_us (stamp of the first sample; None = the PortAudio stream clock of its capture, so
    stamps compare with `clock_us()`).
    """

    def __init__(self, device: int | str | None = None, sample_rate_hz: int = 16000, device_rate_hz: int = 0,
                 channels: int = 1, chunk_us: int = 10_000, duration_s: float = 0.0, buffer_s: float = 4.0,
                 latency: str | float = "low", t0_us: int | None = None) -> None:
        self.device = device
        self.sample_rate_hz = sample_rate_hz
        self.device_rate_hz = device_rate_hz
        self.channels = channels
        self.chunk_us = chunk_us
        self.duration_s = duration_s
        self.buffer_s = buffer_s
        self.latency = latency
        self.t0_us = t0_us

    def _check(self) -> None:
        for name in ("sample_rate_hz", "channels", "chunk_us"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"microphone: {name} must be > 0, got {getattr(self, name)!r}")
        if (self.chunk_us * self.sample_rate_hz) % 1_000_000:
            raise ConfigError(f"microphone: chunk_us={self.chunk_us} is not a whole number of samples at "
                              f"{self.sample_rate_hz} Hz")

    def _open(self):
        sd = _sounddevice()
        index = resolve_device(self.device)
        rate = int(self.device_rate_hz)
        if rate <= 0:
            rate = int(self.sample_rate_hz)
            try:
                sd.check_input_settings(device=index, channels=self.channels, samplerate=rate, dtype="float32")
            except Exception:
                rate = int(sd.query_devices(index)["default_samplerate"])
        self._ring = _Ring(max(int(self.buffer_s * rate), 4096), self.channels, rate)
        try:
            stream = sd.InputStream(device=index, samplerate=rate, channels=self.channels, dtype="float32",
                                    latency=self.latency, callback=self._ring.callback)
        except Exception as exc:  # PortAudioError or ValueError from bad settings
            raise DeviceError(f"cannot open input device {self.device!r} (index {index}) at {rate} Hz, "
                              f"{self.channels} ch: {exc}; {_describe(list_input_devices())}") from None
        self.device_index_, self.device_rate_hz_ = index, rate
        return stream

    def chunks(self) -> Iterator[Chunk]:
        from sources._resample import StreamingResampler

        self._check()
        rate = int(self.sample_rate_hz)
        per_chunk = self.chunk_us * rate // 1_000_000
        total = int(round(self.duration_s * rate)) if self.duration_s > 0 else None
        self._stream = stream = self._start_without_backlog()
        ring = self._ring
        resampler = StreamingResampler(self.device_rate_hz_, rate, self.channels)
        geometry = Geometry(channels=self.channels, sample_rate_hz=rate)
        pending = np.zeros((0, self.channels), np.float32)
        produced = 0
        t0 = self.t0_us
        self._stop = False
        try:
            while not self._stop and (total is None or produced < total):
                if not ring.event.wait(timeout=5.0):
                    raise DeviceError(f"input device {self.device!r} delivered no audio for 5 s "
                                      f"({ring.written} frames so far)")
                ring.event.clear()
                written = ring.written
                if written - ring.read > ring.capacity:  # reader fell behind: drop the oldest
                    ring.overrun_frames += written - ring.read - ring.capacity
                    ring.read = written - ring.capacity
                if t0 is None and ring.first_adc_time >= 0:
                    adc = ring.first_adc_time if ring.first_adc_time > 0 else stream.time
                    t0 = int(round(adc * 1e6))
                    self.t0_us_ = t0
                new = self._take(written)
                pending = np.concatenate([pending, resampler.process(new)]) if new.shape[0] else pending
                while pending.shape[0] >= per_chunk and (total is None or produced < total):
                    n = per_chunk if total is None else min(per_chunk, total - produced)
                    samples, pending = pending[:n], pending[n:]
                    yield SignalChunk(t_start=int(sample_time(t0, produced, rate)),
                                      t_end=int(sample_time(t0, produced + n, rate)), samples=samples,
                                      first_sample=produced, geometry=geometry, meta={})
                    produced += n
        finally:
            stream.stop()
            stream.close()
        self.samples_ = produced
        yield EndOfStream(t_start=int(sample_time(t0 or 0, produced, rate)),
                          t_end=int(sample_time(t0 or 0, produced, rate)))

    def _start_without_backlog(self, attempts: int = 3, probe_s: float = 0.25):
        """Open and start the stream; restart it while its blocks arrive late. A capture
        path can start with audio queued (the PulseAudio ALSA plugin, on a stream's first
        open, sometimes queued 0.3-0.6 s), and blocks then keep arriving that late for the
        whole stream: every detection made from them would be late by as much."""
        self.restarts_ = 0
        while True:
            stream = self._open()
            stream.start()
            time.sleep(probe_s)
            self.start_backlog_ms_ = round(float(self._ring.min_age_s) * 1000, 1)
            if self._ring.min_age_s <= MAX_START_BACKLOG_S or self.restarts_ == attempts - 1:
                return stream  # the probe's frames stay in the ring: nothing is lost
            stream.stop()
            stream.close()
            self.restarts_ += 1

    def _take(self, written: int) -> np.ndarray:
        ring = self._ring
        n = written - ring.read
        start = ring.read % ring.capacity
        idx = (start + np.arange(n)) % ring.capacity
        out = ring.data[idx]  # a copy, made outside the audio thread
        ring.read = written
        return out

    def stop(self) -> None:
        """Ask chunks() to finish after the chunk in progress (from another thread or a signal)."""
        self._stop = True

    def clock_us(self) -> int:
        """The PortAudio stream clock now (µs), the clock first-sample stamps come from."""
        return int(round(self._stream.time * 1e6))

    def result(self) -> dict[str, Any]:
        ring = getattr(self, "_ring", None)
        if ring is None:
            return {}
        out = {"device": self.device, "device_index": self.device_index_, "device_rate_hz": self.device_rate_hz_,
               "sample_rate_hz": self.sample_rate_hz, "frames_captured": ring.written,
               "samples": getattr(self, "samples_", 0), "input_overflows": ring.overflows,
               "overrun_frames": ring.overrun_frames, "start_backlog_ms": getattr(self, "start_backlog_ms_", None),
               "restarts": getattr(self, "restarts_", 0)}
        lost = ring.overflows + ring.overrun_frames
        out["summary"] = (f"{out['samples']} samples from device {self.device_index_}; "
                          + (f"{ring.overflows} input overflows, {ring.overrun_frames} frames overrun"
                             if lost else "no overflows"))
        return out

    @classmethod
    def contract_example(cls) -> ContractExample:
        # A real capture needs a device: start a private PulseAudio with a silent null source
        # (it exits by itself when idle) and record it through the ALSA 'pulse' device.
        import os

        from sources._virtual_audio import VirtualAudio

        audio = VirtualAudio(exit_idle_s=20).start()
        audio.add_null_source()
        os.environ.update(audio.env)
        params = {"device": "pulse", "chunk_us": 10_000, "duration_s": 0.25, "t0_us": 0}
        return ContractExample(params, None, variants=[{**params, "chunk_us": 7_000},
                                                        {**params, "device_rate_hz": 48000}])
