"""Job states shared by every instrument: a job is created by a client-chosen id and runs once."""

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    """Ended early on request; data up to the stop is kept."""
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_JOB_STATES


FINAL_JOB_STATES = frozenset(
    {JobState.COMPLETED, JobState.STOPPED, JobState.ABORTED, JobState.FAILED}
)

JOB_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
"""Job ids are chosen by clients; this keeps them safe as file names, topics and node names."""
