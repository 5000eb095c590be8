"""The error XRD analysis raises on input it cannot analyse honestly."""

from voltlab.errors import VoltlabError


class XRDAnalysisError(VoltlabError, ValueError):
    """A pattern or request the analysis refuses: the message names what was wrong."""
