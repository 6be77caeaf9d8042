"""A private PulseAudio server with virtual devices, for tests and examples without a sound card.

`VirtualAudio` starts `pulseaudio` in its own runtime folder (so it never touches a user's
session), loads a null sink whose monitor is the default source, and plays WAV files into
it with `paplay`: anything recording from the ALSA `pulse` device (PortAudio, sounddevice)
then hears exactly what was played. Used by tests/live and by the microphone's contract
example; nothing here runs at import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pipeline.errors import DeviceError


class VirtualAudio:
    """A PulseAudio daemon in a private runtime dir; `env` points clients at it.

    Parameters: sample_rate_hz (rate of the null sink); exit_idle_s (the daemon exits by
    itself that long after its last client leaves; -1 = never, stop() ends it).
    """

    def __init__(self, sample_rate_hz: int = 16000, exit_idle_s: int = -1) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.exit_idle_s = exit_idle_s
        self.runtime_dir: Path | None = None
        self.env: dict[str, str] = {}

    def start(self) -> VirtualAudio:
        """Start the daemon; DeviceError (with pulseaudio's own message) if it cannot."""
        exe = shutil.which("pulseaudio")
        if exe is None or shutil.which("pactl") is None:
            raise DeviceError("pulseaudio/pactl not installed (Debian: pulseaudio pulseaudio-utils)")
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="spikestream-pulse-"))
        self.runtime_dir.chmod(0o700)
        socket = self.runtime_dir / "pulse" / "native"
        self.env = {"XDG_RUNTIME_DIR": str(self.runtime_dir), "PULSE_SERVER": f"unix:{socket}",
                    "HOME": os.environ.get("HOME", str(self.runtime_dir))}
        # -n: no default.pa (no hardware probing, no suspend-on-idle); as root a per-user
        # daemon refuses to start unless --system=false is explicit; --disallow-exit keeps
        # clients from stopping it.
        cmd = [exe, "-n", "--daemonize=yes", "--system=false", "--disallow-exit", "--use-pid-file=yes",
               f"--exit-idle-time={self.exit_idle_s}", "--load=module-native-protocol-unix",
               "--log-target=stderr", "--log-level=error"]
        proc = subprocess.run(cmd, env=self._full_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            message = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            self.stop()
            raise DeviceError(f"pulseaudio did not start (exit {proc.returncode}): {' | '.join(message)}")
        return self

    def _full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["pactl", *args], env=self._full_env(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=20)
        if check and proc.returncode != 0:
            raise DeviceError(f"pactl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def add_null_sink(self, name: str = "spikestream_virtual_mic") -> str:
        """A null sink whose monitor becomes the default source; returns the source name.

        A silent source looped into the sink keeps it rendering in small blocks, so its
        monitor flows continuously like a real microphone (an idle null sink renders nothing
        and a default-latency one in 2 s blocks).
        """
        self.pactl("load-module", "module-null-sink", f"sink_name={name}", f"rate={self.sample_rate_hz}",
                   "channels=1")
        self.pactl("load-module", "module-null-source", f"source_name={name}_room", f"rate={self.sample_rate_hz}",
                   "channels=1")
        self.pactl("load-module", "module-loopback", f"source={name}_room", f"sink={name}", "latency_msec=5")
        self.pactl("set-default-sink", name)
        self.pactl("set-default-source", f"{name}.monitor")
        return f"{name}.monitor"

    def add_null_source(self, name: str = "spikestream_silence") -> str:
        """A source that records silence forever, made the default source."""
        self.pactl("load-module", "module-null-source", f"source_name={name}", f"rate={self.sample_rate_hz}",
                   "channels=1")
        self.pactl("set-default-source", name)
        return name

    def play(self, wav: str | Path, *, wait: bool = True) -> subprocess.Popen:
        """Play a WAV file into the default sink with paplay (blocking unless wait=False)."""
        # a deep playback buffer: with 10 ms, paplay underran whenever a busy machine held it
        # off the CPU that long, and the sink then played gaps into the words
        proc = subprocess.Popen(["paplay", "--latency-msec=250", str(wav)], env=self._full_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait:
            _, err = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise DeviceError(f"paplay {wav} failed: {err.decode(errors='replace').strip()}")
        return proc

    def stop(self) -> None:
        if self.runtime_dir is None:
            return
        pid_file = self.runtime_dir / "pulse" / "pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None:  # only the daemon this object started, by its own pid file
            try:
                os.kill(pid, 15)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.02)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        self.runtime_dir = None

    def __enter__(self) -> VirtualAudio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
