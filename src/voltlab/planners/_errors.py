"""The planners' input error: bad results, points or configuration, always naming the field."""

from voltlab.errors import VoltlabError


class PlannerInputError(VoltlabError, ValueError):
    """Input a planner cannot use; ``field`` is the dotted path of the offending value.

    Example field: ``results[2].objectives.capacity`` or ``pending[0].ni``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
