"""Audio data set -> SHD-format HDF5 through our cochlear encoder, so any audio set is
turned into spikes once and replayed fast by `shd_replay` (or read by tonic's SHD).

    python -m sources.datasets.convert fsdd ../shared/data/fsdd fsdd_test.h5 --split test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sources.datasets._audio import AudioReplay
from sources.datasets.shd import write_hsd


def convert_to_hsd(source: AudioReplay, out_path: str | Path, *, cochlea: dict[str, Any] | None = None,
                   times_dtype: str = "float64", compression: str | None = "gzip", progress: bool = False) -> Path:
    """Encode every sample `source` lists (honouring its indices/limit/shuffle) with the
    cochlea and write them in the official SHD layout: spikes/times (s), spikes/units
    (channel), labels, extra/speaker, extra/keys, extra/meta_info/speaker_name.

    Every sample is encoded by a fresh cochlea from t = 0, so its spikes do not depend on
    the samples before it."""
    from encoders.cochlea import cochlea_encode
    from sources.datasets._replay import select_samples

    cochlea = {"preset": "live", **(cochlea or {})}
    refs = select_samples(source.refs(), indices=source.indices, shuffle=source.shuffle, seed=source.seed,
                          limit=source.limit, where="convert")
    if progress:
        from tqdm import tqdm

        refs = tqdm(refs, desc=f"cochlea -> {Path(out_path).name}", unit="sample")
    samples, labels, speakers = [], [], []
    names: dict[str, int] = {}
    for ref in refs:
        events = cochlea_encode(source.load(ref), source.sample_rate_hz, **cochlea)
        samples.append((events["t"].astype(np.float64) / 1e6, events["x"]))
        labels.append(ref.label)
        speakers.append(names.setdefault(str(ref.extra.get("speaker", "")), len(names)))
    speaker_names = np.array([n.encode() for n in names], dtype=object)
    import h5py

    return write_hsd(out_path, samples, np.array(labels), source.class_names(), np.array(speakers),
                     times_dtype=times_dtype, compression=compression,
                     meta_info={"speaker_name": speaker_names.astype(h5py.string_dtype())})


def main(argv: list[str] | None = None) -> int:
    from sources.datasets.fsdd import FSDDReplay
    from sources.datasets.speech_commands import SpeechCommandsReplay

    parser = argparse.ArgumentParser(prog="python -m sources.datasets.convert", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("fsdd", "speech_commands"))
    parser.add_argument("root")
    parser.add_argument("out")
    parser.add_argument("--split", default="train")
    parser.add_argument("--channels", type=int, default=700, help="cochlea channels (SHD has 700)")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    cls = FSDDReplay if args.dataset == "fsdd" else SpeechCommandsReplay
    source = cls(root=args.root, split=args.split, limit=args.limit)
    preset = "shd" if args.channels == 700 else "live"
    path = convert_to_hsd(source, args.out, cochlea={"preset": preset, "channels": args.channels}, progress=True)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
