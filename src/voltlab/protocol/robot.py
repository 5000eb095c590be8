"""Jobs of the synthesis robot as returned (JSON) by its OPC UA methods."""

from enum import StrEnum

from pydantic import BaseModel, Field

from voltlab.protocol.jobs import JOB_ID_PATTERN, JobState
from voltlab.protocol.recipe import Recipe


class RobotJobKind(StrEnum):
    SYNTHESIS = "synthesis"
    CELL_ASSEMBLY = "cell_assembly"


class RobotJob(BaseModel):
    """A robot job. ``product_id`` is the powder sample (synthesis) or the cell (assembly) it
    makes; it exists, and can be loaded on the XRD stage or cycler, once the job completes."""

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    kind: RobotJobKind
    state: JobState
    progress: float = Field(ge=0.0, le=100.0, description="percent")
    product_id: str
    recipe: Recipe | None = None
    source_sample_id: str | None = None
    """For cell assembly: the powder the cell is made from."""
    mass_g: float | None = None
    """Synthesis: the powder batch's mass; assembly: the cell's active cathode mass (g)."""
    error: str | None = None
