"""Data-set replay sources (SHD/SSC, Speech Commands, FSDD), the generated keyword set and converters."""
