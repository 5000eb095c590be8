"""XRD stage wire contract: JSON envelope commands on a REQ/REP (ROUTER) socket.

A sample is loaded by id, measured over a 2-theta range (degrees) with a step (degrees) and a
count time per step (s), and its pattern is fetched by the measurement's job id.
"""

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from voltlab.protocol._model import StrictModel
from voltlab.protocol.jobs import JOB_ID_PATTERN, JobState


class XRDCommand(StrEnum):
    STATUS = "status"
    LOAD = "load"
    UNLOAD = "unload"
    MEASURE = "measure"
    JOB = "job"
    GET_PATTERN = "get_pattern"
    RESET = "reset"


class NoParams(StrictModel):
    """Params of status, unload and reset: none may be given."""


class LoadParams(StrictModel):
    sample_id: str = Field(pattern=JOB_ID_PATTERN)


class MeasureParams(StrictModel):
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    two_theta_start: float = Field(description="degrees 2-theta")
    two_theta_stop: float = Field(description="degrees 2-theta")
    step: float = Field(gt=0.0, description="degrees 2-theta")
    count_time_s: float = Field(gt=0.0, description="seconds per step")

    @model_validator(mode="after")
    def _check(self) -> "MeasureParams":
        if self.two_theta_stop <= self.two_theta_start:
            raise ValueError("two_theta_stop must exceed two_theta_start")
        return self

    @property
    def n_points(self) -> int:
        return round((self.two_theta_stop - self.two_theta_start) / self.step) + 1


class JobParams(StrictModel):
    job_id: str = Field(pattern=JOB_ID_PATTERN)


class StageState(StrEnum):
    EMPTY = "empty"
    LOADED = "loaded"
    MEASURING = "measuring"
    ERROR = "error"


class StageStatus(BaseModel):
    state: StageState
    sample_id: str | None = None
    job_id: str | None = None
    progress: float = 0.0
    error: str | None = None


class XRDJob(BaseModel):
    job_id: str
    sample_id: str
    params: MeasureParams
    state: JobState
    progress: float = 0.0
    error: str | None = None


class Pattern(BaseModel):
    """A measured powder pattern: counts per step on an even 2-theta grid (degrees, Cu K-alpha)."""

    job_id: str
    sample_id: str
    wavelength_angstrom: float
    two_theta: list[float]
    counts: list[float]
    count_time_s: float
