"""Event-file decoders against the fastest peer for each format, in one run.

For each format (EVT 3.0, EVT 2.0, DAT, AEDAT 4, AEDAT 2.0, AEDAT 3.1, N-MNIST .bin, .npy,
HDF5) a file of >= 5 M events (1 M with --quick) is written into a temporary folder: by
our writer, or by the peer's where it has one (dv-processing writes the AEDAT 4 file). Full
decodes are timed, best of --repeat, us and the peers taking turns: ours streamed through
the reader in 1 M-event reads (how the pipeline's file source uses it) and ours by
`read_all()`; every peer that reads the format (benchmarks/_decoder_cases.py). Every
decode must report the same number of events. Printed: Mev/s for each, the fastest peer,
our streamed throughput over it (by wall clock, and by CPU time, which a machine shared
with other work disturbs less), and the target (>= 1.5x for EVT 3.0, EVT 2.0 and DAT,
>= 1x for AEDAT 4).

Memory: each format's file is streamed again in a fresh process, in chunks of 1/10 of the
file (so the file is 10x the chunk); the peak of numpy/Python allocations (tracemalloc)
and the growth of anonymous resident memory (RssAnon, sampled after every chunk; ru_maxrss
would count the page cache of memory-mapped .npy files) after the first half of the file
and after all of it, and the peak as a share of the decoded file. Flat: streaming the
second half raised the heap peak by less than a chunk.

    python -m benchmarks.decoders [--quick] [--json] [--repeat N] [--formats evt3,aedat4]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from benchmarks._decoder_cases import Case, cases

READ_EVENTS = 1 << 20  # the pipeline's file source reads about this many events at a time
EVENT_BYTES = 13  # EVENT_DTYPE itemsize
CHUNKS = 10  # the memory probe streams each file in this many chunks


def ours_stream(path: str) -> int:
    from sources.formats import open_events

    n = 0
    with open_events(path) as reader:
        while k := reader.read(READ_EVENTS).shape[0]:
            n += k
    return n


def ours_read_all(path: str) -> int:
    from sources.formats import open_events

    with open_events(path) as reader:
        return int(reader.read_all().shape[0])


def _timed(fn, path: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, events) of one decode."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    n = fn(path)
    return time.perf_counter() - t0, time.process_time() - c0, n


def time_format(case: Case, path: str, repeat: int, progress) -> dict:
    """Best wall time of each decoder over `repeat` rounds; decoders take turns within a
    round, so load from other processes hits them alike."""
    decoders = {"ours (stream)": ours_stream, "ours (read_all)": ours_read_all, **case.peers}
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    counts: dict[str, int] = {}
    failed: dict[str, str] = {}
    for name, fn in list(decoders.items()):  # warm-up: imports, Numba cache loads, page cache
        try:
            _timed(fn, path)
        except Exception as exc:  # a peer that cannot read our file is reported, not fatal
            if name.startswith("ours"):
                raise
            failed[name] = f"{type(exc).__name__}: {exc}"[:120]
            del decoders[name]
    for _ in range(repeat):
        for name, fn in decoders.items():
            seconds, cpu, n = _timed(fn, path)
            best[name] = min(best.get(name, float("inf")), seconds)
            best_cpu[name] = min(best_cpu.get(name, float("inf")), cpu)
            counts[name] = n
            progress.update(1)
    events = counts["ours (stream)"]
    mev = {name: events / s / 1e6 for name, s in best.items()}
    peers = {k: v for k, v in mev.items() if not k.startswith("ours")}
    fastest = max(peers, key=peers.get) if peers else None
    ratio = mev["ours (stream)"] / peers[fastest] if fastest else None
    cpu_ratio = best_cpu[fastest] / best_cpu["ours (stream)"] if fastest else None
    return {
        "format": case.name, "events": events, "file_mb": os.path.getsize(path) / 1e6,
        "mev_per_s": mev, "seconds": best, "cpu_seconds": best_cpu, "counts": counts,
        "counts_match": all(n == events for n in counts.values()),
        "fastest_peer": fastest, "ratio": ratio, "cpu_ratio": cpu_ratio, "target": case.target,
        "target_met": None if ratio is None or case.target is None else ratio >= case.target,
        "failed_peers": failed, "notes": case.notes,
    }


def memory_probe(path: str, events: int) -> dict:
    """(Runs in a fresh process.) Stream `path` in chunks of 1/10 of its events, holding
    one chunk at a time as a pipeline stage does; the peaks after the first half of the
    file and after the whole file. Flat memory: the second is no higher than the first."""
    import resource
    import tracemalloc

    from sources.formats import open_events

    def anon_kb() -> int:
        try:
            with open("/proc/self/status") as fh:
                return next(int(line.split()[1]) for line in fh if line.startswith("RssAnon:"))
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    with open_events(path) as reader:  # load kernels and codecs before measuring
        reader.read(1000)
    chunk = max(1, events // CHUNKS)
    gc.collect()
    base = peak = anon_kb()
    out = {"chunk_mb": chunk * EVENT_BYTES / 1e6}
    tracemalloc.start()
    with open_events(path) as reader:
        for i in range(1, 1 << 62):
            got = reader.read(chunk)
            peak = max(peak, anon_kb())
            if i == CHUNKS // 2:
                out["early_heap_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                out["early_anon_mb"] = (peak - base) / 1e3
            if got.shape[0] == 0:
                break
            del got
    out["heap_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    out["anon_mb"] = (peak - base) / 1e3
    out.setdefault("early_heap_mb", out["heap_mb"])  # a file shorter than half the chunks
    out.setdefault("early_anon_mb", out["anon_mb"])
    tracemalloc.stop()
    return out


def run(n: int, repeat: int, only: set[str] | None = None, memory: bool = True) -> dict:
    """Write, time and (with `memory`) probe each chosen format; the result as a dict."""
    from tqdm import tqdm

    chosen = [c for c in cases() if only is None or c.name in only]
    runnable = [c for c in chosen if c.write is not None]
    rows, skipped = [], {c.name: c.notes[0] for c in chosen if c.write is None}
    total = sum(repeat * (2 + len(c.peers)) for c in runnable)
    with tempfile.TemporaryDirectory(prefix="spikestream-decoders-") as tmp, \
            tqdm(total=total, desc="decoders", unit="decode", file=sys.stderr, leave=False) as progress:
        for i, case in enumerate(runnable):
            path = str(Path(tmp) / f"bench{case.suffix}")
            progress.set_postfix_str(f"writing {case.name}")
            written_by = case.write(path, n, 1000 + i)
            progress.set_postfix_str(case.name)
            row = time_format(case, path, repeat, progress)
            row["written_by"] = written_by
            if memory:
                with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                    row["memory"] = pool.submit(memory_probe, path, row["events"]).result()
            rows.append(row)
            os.remove(path)
    return {"benchmark": "decoders", "events_per_file": n, "repeat": repeat, "read_events": READ_EVENTS,
            "rows": rows, "skipped": skipped}


def _flat(m: dict) -> bool:
    """The heap peak over the whole file is within one chunk (and 1 MB) of the peak over
    its first half: memory does not grow with what was streamed. RssAnon is shown beside
    it but not judged: it also holds C libraries' caches and the allocator's free memory
    (HDF5's vary from run to run and do not grow with the file)."""
    return m["heap_mb"] <= m["early_heap_mb"] + m["chunk_mb"] + 1.0


def print_report(result: dict) -> None:
    print(f"Event-file decoders vs the fastest peer: {result['events_per_file']:,} events per file, "
          f"best of {result['repeat']}, wall clock, us and peers taking turns; "
          f"ours streamed in {result['read_events']:,}-event reads (ratio) and by read_all(); cpu: the same "
          "ratio in CPU seconds of this process (steadier when other processes share the cores)")
    head = (f"{'format':<10} {'written by':<20} {'file MB':>7} {'ours Mev/s':>10} {'read_all':>8} "
            f"{'fastest peer':<14} {'peer Mev/s':>10} {'ratio':>6} {'cpu':>6} {'target':>6}  counts")
    print(head)
    print("-" * len(head))
    mismatch = False
    for r in result["rows"]:
        mev = r["mev_per_s"]
        peer = r["fastest_peer"] or "none"
        peer_mev = f"{mev[peer]:.1f}" if r["fastest_peer"] else "-"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        cpu_ratio = f"{r['cpu_ratio']:.2f}x" if r["cpu_ratio"] is not None else "-"
        target = f">={r['target']:g}x" if r["target"] else "-"
        verdict = "" if r["target_met"] is None else ("met" if r["target_met"] else "MISSED")
        mismatch |= not r["counts_match"]
        print(f"{r['format']:<10} {r['written_by'][:20]:<20} {r['file_mb']:>7.1f} {mev['ours (stream)']:>10.1f} "
              f"{mev['ours (read_all)']:>8.1f} {peer:<14} {peer_mev:>10} {ratio:>6} {cpu_ratio:>6} {target:>6}  "
              f"{'equal' if r['counts_match'] else 'MISMATCH ' + str(r['counts'])} {verdict}")
    for name, why in result["skipped"].items():
        print(f"{name:<10} {why}")
    print("\nEvery peer (Mev/s), and peers left out:")
    for r in result["rows"]:
        peers = [f"{k} {v:.1f}" for k, v in r["mev_per_s"].items() if not k.startswith("ours")]
        extra = [f"{k} failed ({v})" for k, v in r["failed_peers"].items()] + r["notes"]
        print(f"  {r['format']:<10} " + "; ".join(peers + extra or ["-"]))
    print(f"\nMemory while streaming each file with our reader in chunks of 1/{CHUNKS} of it (fresh process "
          "per format; heap = tracemalloc peak, anon = RssAnon growth; after half the file -> after all of it):")
    print(f"{'format':<10} {'decoded MB':>10} {'chunk MB':>8} {'heap MB':>15} {'anon MB':>15} {'peak/file':>9} {'flat':>5}")
    for r in (r for r in result["rows"] if "memory" in r):
        m, decoded = r["memory"], r["events"] * EVENT_BYTES / 1e6
        heap = f"{m['early_heap_mb']:.1f} -> {m['heap_mb']:.1f}"
        anon = f"{m['early_anon_mb']:.1f} -> {m['anon_mb']:.1f}"
        share = max(m["heap_mb"], m["anon_mb"]) / decoded
        print(f"{r['format']:<10} {decoded:>10.1f} {m['chunk_mb']:>8.1f} {heap:>15} {anon:>15} {share:>8.0%} "
              f"{'yes' if _flat(m) else 'NO':>5}")
    if mismatch:
        print("\nEVENT COUNTS DIFFER between decoders (see the counts column)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.decoders", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 M events per file instead of 5 M")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="timed decodes per decoder (best is kept)")
    parser.add_argument("--events", type=int, default=None, help="events per file (overrides --quick)")
    parser.add_argument("--formats", default=None, help="comma-separated subset, e.g. evt3,aedat4")
    args = parser.parse_args(argv)
    n = args.events or (1_000_000 if args.quick else 5_000_000)
    only = set(args.formats.split(",")) if args.formats else None
    result = run(n, max(1, args.repeat), only)
    if args.json:
        print(json.dumps(result))
    else:
        print_report(result)
    return 0 if all(r["counts_match"] for r in result["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
