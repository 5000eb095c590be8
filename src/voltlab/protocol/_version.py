"""Wire protocol version shared by the simulated instruments and the drivers."""

PROTOCOL_VERSION = "1"
"""Bumped on any incompatible change of a message schema or OPC UA node layout."""

MAX_COMMAND_BYTES = 1_048_576
"""Largest command a ZMQ instrument accepts (1 MiB); larger ones get an OVERSIZED error reply."""
