"""CURVE authentication and encryption for links that leave loopback.

Key files use ZeroMQ's certificate format (readable by `zmq.auth.load_certificate`):
`NAME.key` holds the public key (shareable), `NAME.key_secret` the public and secret keys
and is created with mode 0600. A stage that binds an input with CURVE runs a ZAP handler
that admits only the public keys of its configured producers; every other client (a wrong
key, or no CURVE at all) is refused, counted and logged, and never reaches the stage.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import zmq
import zmq.auth
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from pipeline.errors import ConfigError

log = logging.getLogger("spikestream.security")

ZAP_ENDPOINT = "inproc://zeromq.zap.01"


def generate_keys(directory: str | Path, name: str = "stage", *, force: bool = False) -> tuple[Path, Path]:
    """Write NAME.key (public) and NAME.key_secret (mode 0600) under `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    public_path, secret_path = directory / f"{name}.key", directory / f"{name}.key_secret"
    if not force and (public_path.exists() or secret_path.exists()):
        raise ConfigError(f"key files for {name!r} already exist in {directory} (use --force to replace them)")
    public, secret = zmq.curve_keypair()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    head = f"#   ****  Generated on {stamp} by spikestream  ****\n#   ZeroMQ CURVE {{}}\n\nmetadata\ncurve\n"
    for path in (public_path, secret_path):
        if path.exists():
            path.unlink()
    public_path.write_text(head.format("Public Certificate") + f'    public-key = "{public.decode()}"\n')
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(head.format("**Secret** Certificate") + f'    public-key = "{public.decode()}"\n'
                f'    secret-key = "{secret.decode()}"\n')
    return public_path, secret_path


def load_public_key(path: str | Path) -> bytes:
    public, _ = _load(path)
    return public


def load_secret_key(path: str | Path) -> tuple[bytes, bytes]:
    """(public, secret) from a secret key file; refuses files readable by group or others."""
    path = Path(path)
    public, secret = _load(path)
    if secret is None:
        raise ConfigError(f"{path}: no secret-key in this file (is it the public .key file?)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: secret key file has mode {mode:o}; it must not be readable by others (chmod 600)")
    return public, secret


def _load(path: str | Path) -> tuple[bytes, bytes | None]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"CURVE key file {path} not found")
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{path}: not a CURVE key file ({exc})") from None
    if public is None or len(public) != 40:
        raise ConfigError(f"{path}: no valid public-key")
    return public, secret


def is_loopback(address: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints on 127.0.0.0/8, ::1 or localhost."""
    scheme = address.split("://", 1)[0]
    if scheme in ("ipc", "inproc"):
        return True
    host = urlsplit(address).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name, '*' or a host name: may leave the machine


def check_link(stage: str, address: str, curve: bool, insecure: bool, role: str) -> None:
    """Refuse a plain-text link that leaves loopback unless the user said --insecure."""
    if curve or insecure or is_loopback(address):
        return
    raise ConfigError(
        f"stage {stage!r}: refusing to {role} non-loopback address {address} without CURVE; give the stage "
        f"curve_public_key and curve_secret_key files (spikestream keys generate DIR) or pass --insecure")


class ZapHandler:
    """Answers ZAP requests for one context: admits the allowed CURVE keys, refuses the rest.

    `rejected` counts refused clients: a wrong key (seen here) and clients that could not
    complete the CURVE handshake at all, e.g. with no key (seen by a monitor on `watch`).
    """

    def __init__(self, ctx: zmq.Context, allowed: set[bytes], stage: str, watch: list[zmq.Socket] = ()) -> None:
        self.allowed = {z85.decode(k) if len(k) == 40 else k for k in allowed}
        self.stage = stage
        self.accepted = 0
        self.rejected = 0
        self._ctx = ctx
        self._socket = ctx.socket(zmq.REP)
        self._socket.linger = 0
        self._socket.bind(ZAP_ENDPOINT)
        self._monitors: list[zmq.Socket] = []
        for socket in watch:
            self._watch(socket)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"zap-{stage}", daemon=True)
        self._thread.start()

    def _watch(self, socket: zmq.Socket) -> None:
        """Count handshake failures on `socket` that never reached ZAP (no CURVE, garbage)."""
        address = f"inproc://monitor-{id(socket)}"
        socket.monitor(address, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        monitor = self._ctx.socket(zmq.PAIR)
        monitor.linger = 0
        monitor.connect(address)
        self._monitors.append(monitor)

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        for monitor in self._monitors:
            poller.register(monitor, zmq.POLLIN)
        while not self._stop.is_set():
            for sock, _ in poller.poll(100):
                try:
                    if sock is self._socket:
                        self._answer(sock.recv_multipart())
                    else:
                        self._handshake_failed(parse_monitor_message(sock.recv_multipart()))
                except Exception:  # the thread must outlive any one bad request, or every client hangs
                    log.exception("stage %s: ZAP handler error (request refused)", self.stage)

    def _handshake_failed(self, event: dict) -> None:
        self.rejected += 1
        endpoint = event["endpoint"]
        endpoint = endpoint.decode(errors="replace") if isinstance(endpoint, bytes) else str(endpoint)
        log.warning("stage %s: refused a client at %s: handshake failed (code %#x: no CURVE or wrong mechanism; "
                    "%d refused so far)", self.stage, endpoint, event["value"], self.rejected)

    def _answer(self, frames: list[bytes]) -> None:
        if len(frames) < 6:
            return
        version, request_id, _domain, address, _identity, mechanism = frames[:6]
        key = frames[6] if len(frames) > 6 else b""
        ok = mechanism == b"CURVE" and key in self.allowed
        if ok:
            self.accepted += 1
        else:
            self.rejected += 1
            shown = z85.encode(key).decode() if len(key) == 32 else "none"
            log.warning("stage %s: refused a %s client from %s: key %s is not authorised (%d refused so far)",
                        self.stage, mechanism.decode(errors="replace"), address.decode(errors="replace"),
                        shown, self.rejected)
        self._socket.send_multipart([version, request_id, b"200" if ok else b"400",
                                     b"OK" if ok else b"key not authorised", b"", b""])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for monitor in self._monitors:
            monitor.close()
        self._socket.close()

    def to_dict(self) -> dict:
        return {"auth_accepted": self.accepted, "auth_rejected": self.rejected}


def curve_server(socket: zmq.Socket, secret_file: str | Path) -> None:
    _, secret = load_secret_key(secret_file)
    socket.curve_server = True
    socket.curve_secretkey = secret
    socket.zap_domain = b"spikestream"


def curve_client(socket: zmq.Socket, secret_file: str | Path, server_public_file: str | Path) -> None:
    public, secret = load_secret_key(secret_file)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    socket.curve_serverkey = load_public_key(server_public_file)
