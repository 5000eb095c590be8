"""A lab file for notebooks: campaigns, experiments, measurements and analyses as pandas
DataFrames, and the operator's actions.

    with Lab.open("lab.sqlite") as lab:
        lab.experiments("c1")          # one row per experiment: param.*, outcome.* columns
        lab.cycling_points("c1-e0002") # the cell's streamed points
        lab.pareto("c1")               # the feasible, non-dominated experiments

Timestamps are UTC pandas datetimes. Unknown ids raise the store's :class:`StoreError` naming
the id. Actions go through :mod:`voltlab.orchestrator.control`, so a running engine (in this or
another process) picks them up.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from voltlab.orchestrator import control
from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.errors import CampaignError, StoreError
from voltlab.orchestrator.states import ExperimentState
from voltlab.orchestrator.store import POINT_COLUMNS, SampleRow, Store
from voltlab.orchestrator.store.rows import loads
from voltlab.planners import hypervolume, pareto_mask

PARAM_PREFIX = "param."
OUTCOME_PREFIX = "outcome."
POWDER = "powder"


def _datetimes(seconds: pd.Series) -> pd.Series:
    """Unix seconds (None allowed) as UTC datetimes."""
    return pd.to_datetime(pd.to_numeric(seconds, errors="coerce"), unit="s", utc=True)


def _prefixed(values: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in (values or {}).items()}


class Lab:
    """Read-only views of one lab file as DataFrames, plus the operator's actions on it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, path: str | Path) -> "Lab":
        """Open an existing lab file (a missing file is an error, not a new empty lab)."""
        if not Path(path).is_file():
            raise StoreError(f"{path}: no lab file there")
        return cls(Store.open(path))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- campaigns and experiments ---------------------------------------------------------

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign: id, name, state, created/started/finished, experiments, reason."""
        counts = dict(
            self.store.db.execute(
                "SELECT campaign_id, COUNT(*) FROM experiments GROUP BY campaign_id"
            ).fetchall()
        )
        rows = [
            {"id": c.id, "name": c.name, "state": str(c.state), "created_at": c.created_at,
             "started_at": c.started_at, "finished_at": c.finished_at,
             "experiments": counts.get(c.id, 0), "reason": c.reason}
            for c in self.store.campaigns()
        ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=["id", "name", "state", "created_at", "started_at",
                                            "finished_at", "experiments", "reason"])  # fmt: skip
        for column in ("created_at", "started_at", "finished_at"):
            frame[column] = _datetimes(frame[column])
        return frame

    def campaign(self, campaign_id: str) -> Campaign:
        """The campaign as it was configured when created (objectives, reference point, ...)."""
        try:
            return Campaign.model_validate(self.store.campaign(campaign_id).config)
        except (ValidationError, CampaignError) as exc:
            raise StoreError(
                f"{self.store.path}: campaign {campaign_id!r} has a stored configuration this "
                f"voltlab cannot read: {exc}"
            ) from exc

    def experiments(self, campaign_id: str) -> pd.DataFrame:
        """One row per experiment: id, number, source, state, failure, excluded, one
        ``param.<name>`` column per parameter and one ``outcome.<name>`` per outcome or catalogue
        metric (the metric's unit; NaN when not measured), created_at/updated_at."""
        self.store.campaign(campaign_id)
        rows = [
            {"id": e.id, "number": e.number, "source": e.source, "state": str(e.state),
             "failure": e.failure, "excluded": e.excluded, "exclude_reason": e.exclude_reason,
             **_prefixed(e.parameters, PARAM_PREFIX), **_prefixed(e.outcomes, OUTCOME_PREFIX),
             "created_at": e.created_at, "updated_at": e.updated_at}
            for e in self.store.experiments(campaign_id)
        ]  # fmt: skip
        base = ["id", "number", "source", "state", "failure", "excluded", "exclude_reason"]
        frame = pd.DataFrame(rows, columns=_ordered(base, rows, ["created_at", "updated_at"]))
        frame["excluded"] = frame["excluded"].astype(bool)
        for column in ("created_at", "updated_at"):
            frame[column] = _datetimes(frame[column])
        return frame

    def steps(self, experiment_id: str) -> pd.DataFrame:
        """The experiment's steps in workflow order, with their device job id and result."""
        self.store.experiment(experiment_id)
        columns = ["id", "position", "kind", "state", "attempt", "job_id", "resource", "error",
                   "started_at", "finished_at", "result"]  # fmt: skip
        rows = [
            {**{c: getattr(s, c) for c in columns}, "state": str(s.state)}
            for s in self.store.steps(experiment_id)
        ]
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("started_at", "finished_at"):
            frame[column] = _datetimes(frame[column])
        return frame

    # -- samples and lineage ---------------------------------------------------------------

    def samples(self, campaign_id: str) -> pd.DataFrame:
        """Every sample of the campaign (powders and cells); ``parent_id`` is the powder a cell
        was built from."""
        self.store.campaign(campaign_id)
        columns = ["id", "kind", "parent_id", "experiment_id", "step_id", "created_at", "data"]
        rows = self.store.db["samples"].rows_where(
            "campaign_id = ?", [campaign_id], order_by="rowid"
        )
        frame = pd.DataFrame(
            [{**{c: r[c] for c in columns}, "data": loads(r["data"]) or {}} for r in rows],
            columns=columns,
        )
        frame["created_at"] = _datetimes(frame["created_at"])
        return frame

    def sample(self, sample_id: str) -> SampleRow:
        rows = list(self.store.db["samples"].rows_where("id = ?", [sample_id]))
        if not rows:
            raise StoreError(f"{self.store.path}: no sample {sample_id!r}")
        return SampleRow.from_row(rows[0])

    def lineage(self, sample_id: str) -> list[str]:
        """``sample_id`` and its ancestors, walking parents back to the powder (cell -> powder)."""
        chain = [self.sample(sample_id)]
        while chain[-1].parent_id is not None:
            if chain[-1].parent_id in {s.id for s in chain}:
                raise StoreError(f"{self.store.path}: sample lineage of {sample_id!r} loops")
            chain.append(self.sample(chain[-1].parent_id))
        return [s.id for s in chain]

    # -- planner decisions and events ------------------------------------------------------

    def decisions(self, campaign_id: str) -> pd.DataFrame:
        """One row per planner decision: planner, strategy, acquisition value, failure risk,
        ``predicted.<objective>.mean`` / ``.std`` (the objective's unit), pending count and the
        time the planner took (s)."""
        self.store.campaign(campaign_id)
        rows = []
        for r in self.store.db["decisions"].rows_where(
            "campaign_id = ?", [campaign_id], order_by="id"
        ):
            reason = loads(r["reason"]) or {}
            predicted = {
                f"predicted.{name}.{stat}": value
                for name, prediction in (reason.get("predicted") or {}).items()
                for stat, value in prediction.items()
            }
            rows.append(
                {"id": r["id"], "experiment_id": r["experiment_id"], "at": r["at"],
                 "planner": r["planner"], "strategy": reason.get("strategy"),
                 "acquisition_value": reason.get("acquisition_value"),
                 "failure_risk": reason.get("failure_risk"), "note": reason.get("note", ""),
                 **predicted, "pending": len(loads(r["pending"]) or []),
                 "duration_s": r["duration_s"]}
            )  # fmt: skip
        base = ["id", "experiment_id", "at", "planner", "strategy", "acquisition_value",
                "failure_risk", "note"]  # fmt: skip
        frame = pd.DataFrame(rows, columns=_ordered(base, rows, ["pending", "duration_s"]))
        frame["acquisition_value"] = pd.to_numeric(frame["acquisition_value"], errors="coerce")
        frame["at"] = _datetimes(frame["at"])
        return frame

    def events(self, campaign_id: str, after: int = 0) -> pd.DataFrame:
        """The campaign's event log after sequence number ``after``: seq, at, kind, data."""
        self.store.campaign(campaign_id)
        frame = pd.DataFrame(
            self.store.events(campaign_id, after=after), columns=["seq", "at", "kind", "data"]
        )
        frame["at"] = _datetimes(frame["at"])
        return frame

    # -- measurements and analyses ---------------------------------------------------------

    def _step_of(self, experiment_id: str, kind: str) -> Any:
        """The experiment's first step of ``kind`` (None if its workflow has none)."""
        return next((s for s in self.store.steps(experiment_id) if s.kind == kind), None)

    def cycle_job(self, experiment_id: str) -> str | None:
        """The cycler job id of the experiment's cycle step (None if it never cycled)."""
        self.store.experiment(experiment_id)
        step = self._step_of(experiment_id, "cycle")
        return None if step is None else step.job_id

    def cycling_points(self, experiment_id: str) -> pd.DataFrame:
        """The cell's streamed points (time_s, voltage_v, current_a (positive: discharge),
        capacity_ah (within the protocol step), cycle, step); empty if it never cycled."""
        job_id = self.cycle_job(experiment_id)
        columns = self.store.points(job_id) if job_id else {c: [] for c in POINT_COLUMNS}
        frame = pd.DataFrame(columns, columns=list(POINT_COLUMNS))
        return frame.astype({"cycle": "int64", "step": "int64"})

    def cycle_metrics(self, experiment_id: str) -> pd.DataFrame:
        """Per-cycle metrics of the cell (capacities Ah and mAh/g, energies Wh, efficiency)."""
        job_id = self.cycle_job(experiment_id)
        frame = pd.DataFrame(self.store.cycle_metrics(job_id) if job_id else [])
        return frame if len(frame) else pd.DataFrame(columns=["cycle"])

    def xrd_pattern(self, experiment_id: str) -> pd.DataFrame:
        """The powder's pattern (two_theta in degrees, counts) with the analysis' fitted
        ``calculated`` and ``background`` counts (NaN when not analysed); empty if never
        measured. ``attrs`` holds sample_id, wavelength_angstrom, rwp and phases."""
        self.store.experiment(experiment_id)
        step = self._step_of(experiment_id, "xrd")
        pattern = self.store.pattern(step.id) if step is not None else None
        if pattern is None:
            return pd.DataFrame(columns=["two_theta", "counts", "calculated", "background"])
        detail = next(
            (a["detail"] for a in self.store.analyses(experiment_id) if a["step_id"] == step.id),
            {},
        )
        n = len(pattern["two_theta"])
        frame = pd.DataFrame(
            {"two_theta": pattern["two_theta"], "counts": pattern["counts"],
             "calculated": _fitted(detail.get("calculated"), n),
             "background": _fitted(detail.get("background"), n)}
        )  # fmt: skip
        frame.attrs = {
            "sample_id": pattern["sample_id"],
            "wavelength_angstrom": pattern["wavelength_angstrom"],
            "rwp": detail.get("rwp"),
            "phases": detail.get("phases", []),
        }
        return frame

    def analyses(self, campaign_id: str) -> pd.DataFrame:
        """One row per analysis (kind xrd, cycling, outcomes) with its metrics as columns."""
        self.store.campaign(campaign_id)
        cursor = self.store.db.execute(
            "SELECT a.step_id, a.experiment_id, e.number, a.kind, a.metrics FROM analyses a "
            "JOIN experiments e ON e.id = a.experiment_id WHERE e.campaign_id = ? "
            "ORDER BY e.number, a.step_id",
            [campaign_id],
        )
        rows = [
            {"step_id": s, "experiment_id": e, "number": n, "kind": k, **(loads(m) or {})}
            for s, e, n, k, m in cursor.fetchall()
        ]
        return pd.DataFrame(rows, columns=_ordered(["step_id", "experiment_id", "number",
                                                    "kind"], rows, []))  # fmt: skip

    # -- Pareto front and hypervolume ------------------------------------------------------

    def feasible(self, campaign_id: str) -> pd.DataFrame:
        """Experiments as :meth:`experiments`, with a ``feasible`` column: completed, not
        excluded, every objective measured and every constraint met."""
        campaign = self.campaign(campaign_id)
        frame = self.experiments(campaign_id)
        ok = (frame["state"] == ExperimentState.COMPLETED.value) & ~frame["excluded"]
        for objective in campaign.objectives:
            ok &= outcome_values(frame, objective.name).notna()
        for constraint in campaign.constraints:
            value = outcome_values(frame, constraint.name)
            if constraint.min is not None:
                ok &= value >= constraint.min
            if constraint.max is not None:
                ok &= value <= constraint.max
        frame["feasible"] = ok.astype(bool)
        return frame

    def pareto(self, campaign_id: str) -> pd.DataFrame:
        """The feasible experiments no other feasible one dominates (directions from the
        stored campaign)."""
        campaign = self.campaign(campaign_id)
        frame = self.feasible(campaign_id)
        feasible = frame[frame["feasible"]]
        values = _objectives(feasible, campaign)
        mask = pareto_mask(values, [o.direction for o in campaign.objectives])
        return feasible[mask].reset_index(drop=True)

    def reference_point(self, campaign_id: str) -> tuple[dict[str, float], str]:
        """The hypervolume reference point and where it came from: ``"campaign"`` (every
        objective has a ``reference``) or ``"worst observed"`` (the worst feasible value of each
        objective; empty when nothing is feasible yet)."""
        campaign = self.campaign(campaign_id)
        if all(o.reference is not None for o in campaign.objectives):
            return {
                o.name: o.reference for o in campaign.objectives if o.reference is not None
            }, "campaign"
        frame = self.feasible(campaign_id)
        feasible = frame[frame["feasible"]]
        if not len(feasible):
            return {}, "worst observed"
        worst = {
            o.name: float(
                outcome_values(feasible, o.name).min()
                if o.direction == "maximise"
                else outcome_values(feasible, o.name).max()
            )
            for o in campaign.objectives
        }
        return worst, "worst observed"

    def hypervolume_history(self, campaign_id: str) -> pd.DataFrame:
        """Hypervolume (product of the objectives' units) of the feasible results among
        experiments 1..number, for each experiment number. ``attrs["reference_point"]`` and
        ``attrs["reference"]`` (also the ``reference`` column) say which point bounds it."""
        campaign = self.campaign(campaign_id)
        frame = self.feasible(campaign_id)
        reference, source = self.reference_point(campaign_id)
        directions = [o.direction for o in campaign.objectives]
        values = _objectives(frame, campaign)
        feasible = frame["feasible"].to_numpy(dtype=bool)
        bound = [reference[o.name] for o in campaign.objectives] if reference else []
        volumes, volume = [], 0.0
        for end in range(1, len(frame) + 1):
            if bound and feasible[end - 1]:  # an infeasible result leaves the front as it was
                volume = hypervolume(values[:end][feasible[:end]], bound, directions)
            volumes.append(volume)
        history = pd.DataFrame(
            {"number": frame["number"], "experiment_id": frame["id"], "state": frame["state"],
             "feasible": frame["feasible"], "hypervolume": np.asarray(volumes, dtype=float),
             "reference": source}
        )  # fmt: skip
        history.attrs = {"reference_point": reference, "reference": source}
        return history

    # -- operator actions ------------------------------------------------------------------

    def pause(self, campaign_id: str) -> dict[str, Any]:
        return control.pause(self.store, campaign_id)

    def resume(self, campaign_id: str) -> dict[str, Any]:
        return control.resume(self.store, campaign_id)

    def abort(self, campaign_id: str) -> dict[str, Any]:
        return control.abort(self.store, campaign_id)

    def approve(self, experiment_id: str) -> dict[str, Any]:
        return control.approve(self.store, experiment_id)

    def veto(self, experiment_id: str, reason: str) -> dict[str, Any]:
        return control.veto(self.store, experiment_id, reason)

    def add_manual(
        self, campaign_id: str, parameters: Mapping[str, object], note: str = ""
    ) -> dict[str, Any]:
        return control.add_manual(self.store, campaign_id, parameters, note)

    def exclude(self, experiment_id: str, reason: str) -> dict[str, Any]:
        return control.exclude(self.store, experiment_id, reason)


def _ordered(first: list[str], rows: list[dict[str, Any]], last: list[str]) -> list[str]:
    """``first``, then every other key seen in ``rows`` (in order of appearance), ``last``."""
    seen = dict.fromkeys(k for row in rows for k in row if k not in first and k not in last)
    return [*first, *seen, *last]


def outcome_values(frame: pd.DataFrame, outcome: str) -> pd.Series:
    """Column ``outcome.<outcome>`` of an experiments frame as numbers (all NaN if absent)."""
    name = OUTCOME_PREFIX + outcome
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce")
    return pd.Series(np.nan, index=frame.index)


def _objectives(frame: pd.DataFrame, campaign: Campaign) -> np.ndarray:
    """The objectives' values (n x M, float; NaN where not measured)."""
    columns = [outcome_values(frame, o.name).to_numpy(dtype=float) for o in campaign.objectives]
    return np.stack(columns, axis=1) if columns else np.empty((len(frame), 0))


def _fitted(values: list[float] | None, n: int) -> np.ndarray:
    """A stored fit curve, or NaN when there is none of the pattern's length."""
    if values is None or len(values) != n:
        return np.full(n, np.nan)
    return np.asarray(values, dtype=float)
