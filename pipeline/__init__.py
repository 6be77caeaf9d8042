"""spikestream's backbone: chunk types, the Stage protocol, graphs, runners, wire format."""

from pipeline.chunks import (
    Chunk,
    EndOfStream,
    EventChunk,
    FrameChunk,
    Geometry,
    SignalChunk,
    ValueChunk,
    sample_time,
)
from pipeline.errors import (
    ChunkError,
    ConfigError,
    DeviceError,
    FormatError,
    SpikestreamError,
    StageFailed,
    WireError,
)
from pipeline.events import EVENT_DTYPE, as_events, empty_events, make_events
from pipeline.registry import register_stage, registered_stages, stage_class
from pipeline.stage import Sink, Source, Stage

__all__ = [
    "EVENT_DTYPE", "Chunk", "ChunkError", "ConfigError", "DeviceError", "EndOfStream", "EventChunk",
    "FormatError", "FrameChunk", "Geometry", "SignalChunk", "Sink", "Source", "SpikestreamError",
    "Stage", "StageFailed", "ValueChunk", "WireError", "as_events", "empty_events", "make_events",
    "register_stage", "registered_stages", "sample_time", "stage_class",
]
