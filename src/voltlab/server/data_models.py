"""Response bodies of the data endpoints: experiments, samples, measurements, analyses,
planner decisions, the Pareto front and hypervolume history. Units are in the field
descriptions; a value that is not a finite number is null."""

from typing import Any

from pydantic import BaseModel, Field

from voltlab.server.models import CAMPAIGN_ID, EXPERIMENT_ID, example

PARAMETERS = {"ni": 0.8, "mn": 0.1, "co": 0.1, "calcination_temperature_c": 820.0,
              "dopant": "Al"}  # fmt: skip
OUTCOMES = {"capacity": 182.5, "retention": 0.91, "cost": 21.3, "layered": 0.98}


class ExperimentOut(BaseModel):
    model_config = example(
        id=EXPERIMENT_ID, campaign_id=CAMPAIGN_ID, number=3, source="planner", state="completed",
        parameters=PARAMETERS, reason={"strategy": "sobol"}, outcomes=OUTCOMES, failure=None,
        excluded=False, exclude_reason=None, created_at=1735732800.0, updated_at=1735733900.0,
    )  # fmt: skip
    id: str
    campaign_id: str
    number: int
    source: str = Field(description='"planner" or "manual".')
    state: str
    parameters: dict[str, float | int | str]
    reason: dict[str, Any] | None = Field(description="The planner's reason or operator's note.")
    outcomes: dict[str, float | None] | None = Field(
        description="Objective and constraint values in the campaign's metric units."
    )
    failure: str | None
    excluded: bool
    exclude_reason: str | None
    created_at: float
    updated_at: float


class StepOut(BaseModel):
    model_config = example(
        id=f"{EXPERIMENT_ID}-s1", position=1, kind="xrd", state="completed", attempt=1,
        job_id=f"{EXPERIMENT_ID}-s1-a1", resource="xrd", result={"layered_fraction": 0.98},
        error=None, started_at=1735732900.0, finished_at=1735732930.0,
    )  # fmt: skip
    id: str
    position: int
    kind: str
    state: str
    attempt: int
    job_id: str | None
    resource: str | None
    result: dict[str, Any] | None
    error: str | None
    started_at: float | None
    finished_at: float | None


class SampleOut(BaseModel):
    model_config = example(
        id="cell-7f3a", campaign_id=CAMPAIGN_ID, experiment_id=EXPERIMENT_ID, kind="cell",
        parent_id="powder-19c2", step_id=f"{EXPERIMENT_ID}-s3", data={"cathode_mass_g": 0.012},
        created_at=1735733000.0,
    )  # fmt: skip
    id: str
    campaign_id: str
    experiment_id: str
    kind: str = Field(description='"powder" or "cell".')
    parent_id: str | None = Field(description="The powder a cell was built from.")
    step_id: str
    data: dict[str, Any]
    created_at: float


class SampleDetailOut(SampleOut):
    lineage: list[str] = Field(description="This sample, then its ancestors (cell -> powder).")
    children: list[str] = Field(description="Samples made from this one (cells of a powder).")


class AnalysisOut(BaseModel):
    model_config = example(step_id=f"{EXPERIMENT_ID}-s5", experiment_id=EXPERIMENT_ID,
                           kind="cycling", metrics={"retention": 0.91})  # fmt: skip
    step_id: str
    experiment_id: str
    kind: str = Field(description="xrd, cycling or outcomes.")
    metrics: dict[str, Any]


class ExperimentDetailOut(ExperimentOut):
    steps: list[StepOut]
    samples: list[SampleOut]
    analyses: list[AnalysisOut]


class CyclingOut(BaseModel):
    """A page of a cell's streamed points, optionally downsampled (LTTB on voltage vs time)."""

    model_config = example(
        experiment_id=EXPERIMENT_ID, job_id=f"{EXPERIMENT_ID}-s4-a1", total=5000, offset=0,
        returned=3, downsampled=True, time_s=[0.0, 30.0, 60.0], voltage_v=[3.6, 3.7, 3.75],
        current_a=[-0.0005, -0.0005, -0.0005], capacity_ah=[0.0, 0.000004, 0.000008],
        cycle=[0, 0, 0], step=[0, 0, 0],
    )  # fmt: skip
    experiment_id: str
    job_id: str | None = Field(description="The cycler job (None: the cell never cycled).")
    total: int = Field(description="Points stored for the job.")
    offset: int
    returned: int
    downsampled: bool
    time_s: list[float | None]
    voltage_v: list[float | None]
    current_a: list[float | None] = Field(description="A; positive while discharging.")
    capacity_ah: list[float | None] = Field(description="Ah within the protocol step.")
    cycle: list[int]
    step: list[int]


class CycleMetricsOut(BaseModel):
    model_config = example(experiment_id=EXPERIMENT_ID, job_id=f"{EXPERIMENT_ID}-s4-a1",
                           cycles=[{"cycle": 1, "discharge_capacity_mah_g": 181.2}])  # fmt: skip
    experiment_id: str
    job_id: str | None
    cycles: list[dict[str, Any]] = Field(description="Per cycle: capacities (Ah, mAh/g), ...")


class XRDOut(BaseModel):
    """The powder's pattern with the analysis' fit (null where not fitted)."""

    model_config = example(
        experiment_id=EXPERIMENT_ID, sample_id="powder-19c2", wavelength_angstrom=1.5406,
        total=3500, downsampled=True, two_theta=[18.6, 18.7], counts=[1200.0, 5400.0],
        calculated=[1180.0, 5350.0], background=[90.0, 91.0], rwp=0.083,
        phases=[{"name": "layered", "fraction": 0.98}],
    )  # fmt: skip
    experiment_id: str
    sample_id: str | None
    wavelength_angstrom: float | None
    total: int
    downsampled: bool
    two_theta: list[float | None] = Field(description="Degrees 2-theta.")
    counts: list[float | None]
    calculated: list[float | None]
    background: list[float | None]
    rwp: float | None = Field(description="Weighted profile R factor of the fit.")
    phases: list[dict[str, Any]]


class DecisionOut(BaseModel):
    model_config = example(
        id=3, experiment_id=EXPERIMENT_ID, at=1735732800.0, planner="botorch",
        reason={"strategy": "qLogNEHVI", "acquisition_value": 0.12,
                "predicted": {"capacity": {"mean": 185.0, "std": 6.0}}},
        pending=[PARAMETERS], duration_s=1.7,
    )  # fmt: skip
    id: int
    experiment_id: str
    at: float
    planner: str
    reason: dict[str, Any] = Field(description="Strategy, acquisition value, predictions.")
    pending: list[dict[str, Any]] | None = Field(description="Experiments running meanwhile.")
    duration_s: float | None


class ObjectiveOut(BaseModel):
    model_config = example(name="capacity", direction="maximise", reference=120.0)
    name: str
    direction: str
    reference: float | None


class FrontPointOut(BaseModel):
    model_config = example(experiment_id=EXPERIMENT_ID, number=3, parameters=PARAMETERS,
                           outcomes=OUTCOMES)  # fmt: skip
    experiment_id: str
    number: int
    parameters: dict[str, Any]
    outcomes: dict[str, float | None]


class ParetoOut(BaseModel):
    model_config = example(
        campaign_id=CAMPAIGN_ID,
        objectives=[{"name": "capacity", "direction": "maximise", "reference": 120.0}],
        front=[{"experiment_id": EXPERIMENT_ID, "number": 3, "parameters": PARAMETERS,
                "outcomes": OUTCOMES}],
    )  # fmt: skip
    campaign_id: str
    objectives: list[ObjectiveOut]
    front: list[FrontPointOut] = Field(description="Feasible experiments none dominates.")


class HypervolumePointOut(BaseModel):
    model_config = example(number=3, experiment_id=EXPERIMENT_ID, state="completed",
                           feasible=True, hypervolume=12.5)  # fmt: skip
    number: int
    experiment_id: str
    state: str
    feasible: bool
    hypervolume: float | None


class HypervolumeOut(BaseModel):
    model_config = example(
        campaign_id=CAMPAIGN_ID, reference="campaign",
        reference_point={"capacity": 120.0, "retention": 0.7, "cost": 25.0},
        history=[{"number": 1, "experiment_id": f"{CAMPAIGN_ID}-e0001", "state": "completed",
                  "feasible": True, "hypervolume": 12.5}],
    )  # fmt: skip
    campaign_id: str
    reference: str = Field(description='"campaign" or "worst observed".')
    reference_point: dict[str, float]
    history: list[HypervolumePointOut] = Field(
        description="Hypervolume (product of the objectives' units) after each experiment."
    )
