"""Errors of the orchestrator: a bad campaign file, a store problem, an illegal transition."""

from voltlab.errors import VoltlabError


class OrchestratorError(VoltlabError):
    """Base of the orchestrator's errors."""


class CampaignError(OrchestratorError, ValueError):
    """A campaign file or object is invalid; the message names the file, the field and what is
    allowed there."""


class StoreError(OrchestratorError, RuntimeError):
    """The lab store cannot be used as asked (unknown id, newer schema, locked file)."""


class TransitionError(OrchestratorError, RuntimeError):
    """A step or experiment was asked to move to a state its state machine does not allow."""
