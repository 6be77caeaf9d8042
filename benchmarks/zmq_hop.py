"""One ZeroMQ hop between two processes carrying event chunks: spikestream's wire format
(JSON header + zero-copy buffers, validated on receipt) against raw pyzmq PUSH/PULL of the
same bytes, in the same run.

    python -m benchmarks.zmq_hop [--quick] [--json] [--transport ipc|tcp]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time

import numpy as np
import zmq

from pipeline.chunks import EventChunk, Geometry
from pipeline.events import EVENT_DTYPE, make_events
from pipeline.wire import decode, encode

SIZES = (1_000, 64_000, 1_000_000)
WARMUP = 3  # messages excluded from timing (connection set-up, first allocations)


def _events(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return make_events(np.sort(rng.integers(0, 10_000_000, n)), rng.integers(0, 640, n), rng.integers(0, 480, n),
                       rng.integers(0, 2, n))


def _receiver(address: str, report: str, mode: str, count: int) -> None:
    """Receive `count` messages; send back throughput timing and per-message latency (µs)."""
    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as pull, ctx.socket(zmq.PUSH) as out:
        pull.setsockopt(zmq.RCVHWM, 16)
        pull.bind(address)
        out.connect(report)
        warm = EventChunk(t_start=0, t_end=10, events=make_events([1, 2], [0, 1]))
        decode(encode(warm))  # load compiled kernels before timing
        out.send(b"ready")
        latencies = []
        received = 0
        t_first = t_last = 0.0
        for i in range(count):
            if mode == "spikestream":
                chunk, sent_ns = decode(pull.recv_multipart(copy=False))
                received += chunk.events.shape[0]
            else:
                frames = pull.recv_multipart(copy=False)
                sent_ns = int(np.frombuffer(frames[0].buffer, dtype=np.int64)[0])
                received += len(frames[1].buffer) // EVENT_DTYPE.itemsize
            now = time.perf_counter()
            if i >= WARMUP:
                latencies.append((time.time_ns() - sent_ns) / 1e3)
            if i == WARMUP - 1:
                t_first = now
            t_last = now
        out.send(json.dumps({"seconds": t_last - t_first, "events": received, "latencies_us": latencies}).encode())


def _one_case(mode: str, n_events: int, count: int, transport: str, paced: bool) -> dict:
    events = _events(n_events)
    chunk = EventChunk(t_start=0, t_end=10_000_000, events=events, geometry=Geometry(640, 480))
    with tempfile.TemporaryDirectory() as tmp, zmq.Context() as ctx:
        with ctx.socket(zmq.PULL) as report, ctx.socket(zmq.PUSH) as push:
            if transport == "ipc":
                address, report_address = f"ipc://{tmp}/hop", f"ipc://{tmp}/report"
                report.bind(report_address)
            else:
                address = f"tcp://127.0.0.1:{_free_port()}"
                report_address = f"tcp://127.0.0.1:{report.bind_to_random_port('tcp://127.0.0.1')}"
            proc = multiprocessing.get_context("spawn").Process(
                target=_receiver, args=(address, report_address, mode, count))
            proc.start()
            assert report.recv() == b"ready"
            push.setsockopt(zmq.SNDHWM, 16)
            push.connect(address)
            for _ in range(count):
                if mode == "spikestream":
                    push.send_multipart(encode(chunk), copy=False)
                else:
                    stamp = np.array([time.time_ns()], dtype=np.int64)
                    push.send_multipart([stamp, memoryview(events.view(np.uint8))], copy=False)
                if paced:
                    time.sleep(0.002)
            result = json.loads(report.recv())
            proc.join()
    lat = np.asarray(result["latencies_us"])
    per_msg = result["seconds"] / (count - WARMUP)
    return {"events_per_s": n_events / per_msg, "mb_per_s": n_events * EVENT_DTYPE.itemsize / per_msg / 1e6,
            "latency_us_p50": float(np.percentile(lat, 50)), "latency_us_p99": float(np.percentile(lat, 99))}


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.zmq_hop", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--transport", choices=("ipc", "tcp"), default="tcp",
                        help="tcp (loopback) is what the distributed runner uses")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per case (best is kept)")
    args = parser.parse_args(argv)
    rows = []
    for n in SIZES:
        budget = 100e6 if args.quick else 800e6  # bytes per case
        count = int(max(8, min(4000, budget / (EVENT_DTYPE.itemsize * n)))) + WARMUP
        row = {"events_per_chunk": n, "messages": count - WARMUP}
        for mode in ("raw", "spikestream"):
            # best of `repeat` runs, alternating modes, because the machine is shared and noisy
            runs = [_one_case(mode, n, count, args.transport, paced=False) for _ in range(args.repeat)]
            row[mode] = max(runs, key=lambda r: r["events_per_s"])
            paced = _one_case(mode, n, min(count, 50 if args.quick else 200) + WARMUP, args.transport, paced=True)
            row[mode]["latency_us_p50"] = paced["latency_us_p50"]
            row[mode]["latency_us_p99"] = paced["latency_us_p99"]
        row["throughput_ratio"] = row["spikestream"]["events_per_s"] / row["raw"]["events_per_s"]
        row["added_latency_us_p50"] = row["spikestream"]["latency_us_p50"] - row["raw"]["latency_us_p50"]
        row["added_latency_us_p99"] = row["spikestream"]["latency_us_p99"] - row["raw"]["latency_us_p99"]
        rows.append(row)
    if args.json:
        print(json.dumps({"benchmark": "zmq_hop", "transport": args.transport, "rows": rows}))
        return 0
    print(f"ZeroMQ hop, {args.transport}, one producer and one consumer process "
          f"({EVENT_DTYPE.itemsize}-byte events)")
    print(f"{'events/chunk':>12} {'ours Mev/s':>11} {'raw Mev/s':>10} {'ours MB/s':>10} {'raw MB/s':>9} "
          f"{'ratio':>6} {'ours p50/p99 µs':>16} {'raw p50/p99 µs':>15} {'added p50/p99 µs':>17}")
    for r in rows:
        o, w = r["spikestream"], r["raw"]
        print(f"{r['events_per_chunk']:>12} {o['events_per_s'] / 1e6:>11.1f} {w['events_per_s'] / 1e6:>10.1f} "
              f"{o['mb_per_s']:>10.0f} {w['mb_per_s']:>9.0f} {r['throughput_ratio']:>6.2f} "
              f"{o['latency_us_p50']:>7.0f}/{o['latency_us_p99']:<8.0f} {w['latency_us_p50']:>6.0f}/{w['latency_us_p99']:<8.0f} "
              f"{r['added_latency_us_p50']:>8.0f}/{r['added_latency_us_p99']:<8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
