"""The project's exception hierarchy: every input error is a ValueError/OSError subclass."""


class SpikestreamError(Exception):
    """Base of every error spikestream raises on purpose."""


class FormatError(SpikestreamError, ValueError):
    """A file or buffer does not follow its format; the message names file, offset, field."""


class WireError(SpikestreamError, ValueError):
    """A ZeroMQ message failed validation; the receiver counts and drops it."""


class ConfigError(SpikestreamError, ValueError):
    """A pipeline TOML or a stage parameter is wrong; the message names the key."""


class ChunkError(SpikestreamError, ValueError):
    """A chunk handed to a stage has the wrong kind, dtype, shape or span."""


class DeviceError(SpikestreamError, OSError):
    """A sensor or audio/video device is missing or failed."""


class StageFailed(SpikestreamError, RuntimeError):
    """A stage process died or reported an error during a distributed run."""
