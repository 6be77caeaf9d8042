"""`spikestream tap ADDRESS`: watch a stage's lossy monitor tap (its `tap` endpoint)."""

from __future__ import annotations

import argparse
import json
import time

import zmq

from pipeline.errors import WireError
from pipeline.wire import decode

HELP = "subscribe to a stage's monitor tap and print chunk summaries, counting drops"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", help="the stage's tap endpoint, e.g. tcp://127.0.0.1:7001")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0 = until the stream ends)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary at the end")


def run(args: argparse.Namespace) -> int:
    counts = {"chunks": 0, "items": 0, "drops": 0, "malformed": 0}
    expected: dict[str, int] = {}
    deadline = time.monotonic() + args.seconds if args.seconds else None
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.RCVTIMEO, 200)
        sub.connect(args.address)
        while deadline is None or time.monotonic() < deadline:
            try:
                frames = sub.recv_multipart(copy=False)
            except zmq.Again:
                continue
            try:
                chunk, _ = decode(frames)
            except WireError as exc:
                counts["malformed"] += 1
                print(f"malformed message: {exc}")
                continue
            if chunk.stream in expected and chunk.seq > expected[chunk.stream]:
                counts["drops"] += chunk.seq - expected[chunk.stream]  # PUB/SUB drops under load, by design
            expected[chunk.stream] = chunk.seq + 1
            if chunk.kind == "end":
                break
            counts["chunks"] += 1
            counts["items"] += chunk.n_items
            if not args.json:
                print(f"{chunk.stream} #{chunk.seq} {chunk.kind} [{chunk.t_start}, {chunk.t_end}) µs "
                      f"{chunk.n_items} items {chunk.meta or ''}")
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"{counts['chunks']} chunks, {counts['items']} items, {counts['drops']} dropped, "
              f"{counts['malformed']} malformed")
    return 0
