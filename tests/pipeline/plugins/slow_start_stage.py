"""A test-only stage (loaded through `pipeline.plugins`): an npz writer that takes a while
to build, like a stage importing heavy modules on a cold start."""

import time

from pipeline.registry import register_stage
from sinks.npz_writer import NpzWriter


@register_stage("slow_start_npz_writer")
class SlowStartNpzWriter(NpzWriter):
    def __init__(self, path: str = "events.npz", build_s: float = 2.0) -> None:
        super().__init__(path)
        self.build_s = build_s
        time.sleep(build_s)
