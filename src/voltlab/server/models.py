"""Request and response bodies of the campaign, operator, event and instrument endpoints.

Times are Unix seconds (float); every model carries an example for the OpenAPI document.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def example(**values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [values]})


CAMPAIGN_ID = "cathode-discovery-20250101-120000"
EXPERIMENT_ID = f"{CAMPAIGN_ID}-e0003"
EVENT_EXAMPLE = {
    "seq": 42,
    "at": 1735732800.0,
    "campaign_id": CAMPAIGN_ID,
    "kind": "step",
    "data": {"step_id": f"{EXPERIMENT_ID}-s1", "kind": "xrd", "state": "running"},
}


class ErrorOut(BaseModel):
    model_config = example(detail=f"no campaign {'nope'!r}")
    detail: Any = Field(description="What was wrong: a message, or FastAPI's list of field errors.")


class HealthOut(BaseModel):
    model_config = example(status="ok", version="0.1.0")
    status: Literal["ok"]
    version: str


class WhoAmIOut(BaseModel):
    model_config = example(name="alice", role="operator")
    name: str
    role: Literal["viewer", "operator"]


class EventOut(BaseModel):
    """An event as logged (``seq`` is None for live-only "points" and "cycle" events)."""

    model_config = example(**EVENT_EXAMPLE)
    seq: int | None
    at: float | None = None
    campaign_id: str
    kind: str = Field(description="campaign, experiment, step, sample, analysis, request, ...")
    data: dict[str, Any]


class EngineOut(BaseModel):
    """The campaign's engine in this server (None in a campaign: never started here)."""

    model_config = example(running=True, started_at=1735732800.0, finished_at=None, error=None)
    running: bool
    started_at: float
    finished_at: float | None
    error: str | None = Field(description="Why it stopped early, e.g. an instrument unreachable.")


class CampaignOut(BaseModel):
    model_config = example(
        id=CAMPAIGN_ID, name="cathode-discovery", state="running", requested=None, reason=None,
        created_at=1735732800.0, started_at=1735732801.0, finished_at=None,
        experiments={"completed": 3, "running": 2}, engine=None,
    )  # fmt: skip
    id: str
    name: str
    state: Literal["created", "running", "paused", "completed", "aborted", "failed"]
    requested: Literal["pause", "resume", "abort"] | None = Field(
        description="An operator's request the engine has not acted on yet."
    )
    reason: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    experiments: dict[str, int] = Field(description="Experiment count per state.")
    engine: EngineOut | None


class CampaignDetailOut(CampaignOut):
    model_config = example(
        **CampaignOut.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
        seed=1, approve=False, config_yaml="name: cathode-discovery\n...",
        config={"name": "cathode-discovery"}, software={"voltlab": "0.1.0"},
    )  # fmt: skip
    seed: int
    approve: bool = Field(description="Suggested experiments wait for an operator's approval.")
    config_yaml: str
    config: dict[str, Any]
    software: dict[str, str]


class ActionOut(BaseModel):
    """What an operator action did: the event it logged."""

    model_config = example(campaign_id=CAMPAIGN_ID, event=EVENT_EXAMPLE)
    campaign_id: str
    event: EventOut


class StartOut(BaseModel):
    model_config = example(campaign_id=CAMPAIGN_ID, engine={"running": True,
                           "started_at": 1735732800.0, "finished_at": None, "error": None})  # fmt: skip
    campaign_id: str
    engine: EngineOut


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "precursor batch contaminated"}]})  # fmt: skip
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class ManualIn(BaseModel):
    """An experiment the operator chose; checked against the campaign's search space."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "parameters": {"ni": 0.8, "mn": 0.1, "co": 0.1, "li_excess": 0.05,
                       "calcination_temperature_c": 800.0, "calcination_time_h": 12.0,
                       "dopant": "none", "dopant_fraction": 0.0},
        "note": "literature NMC811",
    }]})  # fmt: skip
    parameters: dict[str, float | int | str]
    note: str = Field(default="", max_length=2000)


class ManualOut(BaseModel):
    model_config = example(
        campaign_id=CAMPAIGN_ID, experiment_id=EXPERIMENT_ID, event=EVENT_EXAMPLE
    )
    campaign_id: str
    experiment_id: str
    event: EventOut


class InstrumentOut(BaseModel):
    """A driver client of a running engine."""

    model_config = example(campaign_id=CAMPAIGN_ID, name="cycler", healthy=True,
                           last_seen=1735732800.0)  # fmt: skip
    campaign_id: str
    name: Literal["robot", "xrd", "cycler"]
    healthy: bool = Field(description="Heartbeats answered (False: silent or unreachable).")
    last_seen: float | None


class ResourceOut(BaseModel):
    """An instrument unit held by a running step (its current job)."""

    model_config = example(resource="cycler:3", instrument="cycler", campaign_id=CAMPAIGN_ID,
                           experiment_id=EXPERIMENT_ID, step_id=f"{EXPERIMENT_ID}-s4",
                           step_kind="cycle", job_id=f"{EXPERIMENT_ID}-s4-a1", attempt=1,
                           started_at=1735732800.0)  # fmt: skip
    resource: str
    instrument: str
    campaign_id: str
    experiment_id: str
    step_id: str
    step_kind: str
    job_id: str | None
    attempt: int
    started_at: float | None


class InstrumentsOut(BaseModel):
    model_config = example(instruments=[], resources=[], faults=[])
    instruments: list[InstrumentOut]
    resources: list[ResourceOut]
    faults: list[EventOut] = Field(description="Newest outage and retry events first.")
