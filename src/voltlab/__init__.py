"""voltlab: a self-driving lab orchestrator for battery materials."""

__version__ = "0.1.0"
