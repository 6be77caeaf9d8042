"""`spikestream inspect FILE`: format, geometry, duration, event count and rate, polarity
balance, first/last timestamp and reader counters of an event file.

Header fields come from `file_info`; the counts come from one pass over the file in
blocks (numpy per block), so memory stays flat whatever the file's size. `--header`
skips that pass and reports only what the header says.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

from pipeline.errors import FormatError, SpikestreamError
from sources.formats import open_events

HELP = "format, geometry, duration, event count/rate and polarity balance of an event file"

_BLOCK_EVENTS = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="event file (AEDAT 2/3.1/4, EVT 2/3 .raw, .dat, N-MNIST .bin, npy/npz/HDF5)")
    parser.add_argument("--format", default=None, help="reader to use instead of detecting it from the file")
    parser.add_argument("--header", action="store_true", help="header fields only: do not read the events")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def inspect_file(path: str, format: str | None = None, header_only: bool = False) -> dict[str, Any]:
    """What `spikestream inspect` reports about one file, as a JSON-able dict."""
    path = os.fspath(path)
    try:
        with open_events(path, format) as reader:
            info = reader.info()
            report: dict[str, Any] = {
                "path": path, "format": info.format, "width": info.width, "height": info.height,
                "header_event_count": info.event_count, "counted": not header_only,
                "event_count": info.event_count, "t_first_us": info.t_first, "t_last_us": info.t_last,
                "on_events": None, "off_events": None, "x_max": None, "y_max": None,
            }
            if not header_only:
                report.update(_count(reader))
            report["counters"] = dict(reader.counters)
    except SpikestreamError as exc:
        if path in str(exc):
            raise
        raise type(exc)(f"file {path}: {exc}") from None
    except (OSError, ValueError, EOFError) as exc:  # a reader's own error that is not yet a FormatError
        raise FormatError(f"file {path}: {type(exc).__name__}: {exc}") from None
    t_first, t_last, count = report["t_first_us"], report["t_last_us"], report["event_count"]
    duration = None if t_first is None or t_last is None else int(t_last) - int(t_first)
    report["duration_us"] = duration
    report["event_rate_hz"] = (count * 1e6 / duration) if count and duration else None
    on, off = report["on_events"], report["off_events"]
    total = (on or 0) + (off or 0)
    report["on_fraction"] = on / total if on is not None and total else None
    report["off_fraction"] = off / total if off is not None and total else None
    report["header"] = info.extra
    return report


def _count(reader) -> dict[str, Any]:
    count = on = 0
    t_first = t_last = None
    x_max = y_max = -1
    while True:
        events = reader.read(_BLOCK_EVENTS)
        n = events.shape[0]
        if n == 0:
            break
        if t_first is None:
            t_first = int(events["t"][0])
        t_last = int(events["t"][-1])
        count += n
        on += int(np.count_nonzero(events["p"] > 0))
        x_max = max(x_max, int(events["x"].max()))
        y_max = max(y_max, int(events["y"].max()))
    return {"event_count": count, "t_first_us": t_first, "t_last_us": t_last, "on_events": on,
            "off_events": count - on, "x_max": x_max if count else None, "y_max": y_max if count else None}


def _text(report: dict[str, Any]) -> str:
    def opt(value, fmt="{}", unknown="unknown"):
        return unknown if value is None else fmt.format(value)

    geometry = (f"{report['width']} x {report['height']}" if report["width"] and report["height"] else
                "not in the header" + (f" (events span x <= {report['x_max']}, y <= {report['y_max']})"
                                       if report["x_max"] is not None else ""))
    duration = report["duration_us"]
    lines = [
        f"file        {report['path']}",
        f"format      {report['format']}",
        f"geometry    {geometry}",
        f"events      {opt(report['event_count'])}" + ("" if report["counted"] else " (header)"),
        f"duration    {opt(duration, '{} µs')}" + (f" ({duration / 1e6:.6g} s)" if duration is not None else ""),
        f"event rate  {opt(report['event_rate_hz'], '{:.6g} ev/s')}",
        f"first t     {opt(report['t_first_us'], '{} µs')}",
        f"last t      {opt(report['t_last_us'], '{} µs')}",
    ]
    if report["on_events"] is not None:
        if report["on_fraction"] is not None:
            lines.append(f"polarity    ON {report['on_events']} ({report['on_fraction']:.1%}), "
                         f"OFF {report['off_events']} ({report['off_fraction']:.1%})")
        else:
            lines.append("polarity    no events")
    else:
        lines.append("polarity    unknown (header only)")
    counters = ", ".join(f"{k} {v}" for k, v in report["counters"].items()) or "none"
    lines.append(f"counters    {counters}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    report = inspect_file(args.file, args.format, args.header)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(_text(report))
    return 0
