"""The error cycling analysis raises on data it cannot analyse honestly."""

from voltlab.errors import VoltlabError


class CyclingAnalysisError(VoltlabError, ValueError):
    """Cycling data or a request the analysis refuses: the message names what was wrong."""
