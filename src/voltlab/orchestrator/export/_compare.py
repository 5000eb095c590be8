"""Comparing a replay with its recording, experiment by experiment: state and each outcome,
with relative differences. The simulator draws batch-to-batch noise, so differences are
reported, not required to be zero; :meth:`ReplayComparison.within` applies a tolerance."""

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voltlab.orchestrator.export._format import BundleError
from voltlab.orchestrator.export._replay import ReplayPlan
from voltlab.orchestrator.store import Store


def relative_difference(recorded: float, replayed: float) -> float:
    """``(replayed - recorded) / |recorded|``; 0 when both are 0, inf when only recorded is."""
    if recorded == replayed:
        return 0.0
    if recorded == 0.0:
        return math.inf
    return (replayed - recorded) / abs(recorded)


@dataclass(frozen=True)
class ExperimentComparison:
    number: int
    recorded_id: str
    replayed_id: str | None
    """None when the replay has no such experiment (it stopped early)."""
    parameters: dict[str, Any]
    recorded_state: str
    replayed_state: str | None
    recorded_outcomes: dict[str, float]
    replayed_outcomes: dict[str, float]
    relative_differences: dict[str, float] = field(default_factory=dict)
    """Per outcome present in both (finite values only): see :func:`relative_difference`."""

    @property
    def state_matches(self) -> bool:
        return self.recorded_state == self.replayed_state

    @property
    def largest_difference(self) -> float:
        """The largest absolute relative difference (0 when nothing to compare)."""
        return self.largest_among(None)

    def largest_among(self, names: Collection[str] | None) -> float:
        """The largest absolute relative difference of outcomes ``names`` (None: all)."""
        return max(
            (abs(d) for k, d in self.relative_differences.items() if names is None or k in names),
            default=0.0,
        )


@dataclass(frozen=True)
class ReplayComparison:
    recorded_campaign_id: str
    replayed_campaign_id: str
    experiments: tuple[ExperimentComparison, ...]

    @property
    def states_match(self) -> bool:
        return all(e.state_matches for e in self.experiments)

    @property
    def largest_difference(self) -> float:
        return max((e.largest_difference for e in self.experiments), default=0.0)

    def within(self, tolerance: float, names: Collection[str] | None = None) -> bool:
        """Every state matches and every outcome in ``names`` (None: all) is within
        ``tolerance`` (relative) of its recorded value."""
        return self.states_match and all(
            e.largest_among(names) <= tolerance for e in self.experiments
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded_campaign_id": self.recorded_campaign_id,
            "replayed_campaign_id": self.replayed_campaign_id,
            "states_match": self.states_match,
            "largest_difference": self.largest_difference,
            "experiments": [
                {**vars(e), "state_matches": e.state_matches} for e in self.experiments
            ],
        }


def _finite(outcomes: dict[str, Any] | None) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in (outcomes or {}).items()
        if isinstance(v, int | float) and math.isfinite(v)
    }


def _same_point(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal keys and values, floats to 1e-9 relative (the space check may round them)."""
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) and isinstance(other, int | float):
            if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif value != other:
            return False
    return True


def compare_replay(plan: ReplayPlan, lab_path: str | Path, campaign_id: str) -> ReplayComparison:
    """Pair the plan's recorded experiments with replay campaign ``campaign_id`` in
    ``lab_path`` (the n-th replayed experiment is the n-th recorded one)."""
    lab_path = Path(lab_path)
    if not lab_path.is_file():
        raise BundleError(f"{lab_path}: no lab store file there")
    with Store.open(lab_path) as store:
        replayed = store.experiments(campaign_id)
    if len(replayed) > len(plan.experiments):
        raise BundleError(
            f"{lab_path}: campaign {campaign_id} has {len(replayed)} experiments, the replay "
            f"of {plan.bundle} queued {len(plan.experiments)}: not a replay of it"
        )
    rows = []
    for index, recorded in enumerate(plan.experiments):
        other = replayed[index] if index < len(replayed) else None
        if other is not None and not _same_point(other.parameters, recorded.parameters):
            raise BundleError(
                f"{lab_path}: experiment {other.id} ran {other.parameters}, not the recorded "
                f"{recorded.experiment_id}'s {recorded.parameters}"
            )
        before = _finite(recorded.outcomes)
        after = _finite(other.outcomes) if other is not None else {}
        rows.append(
            ExperimentComparison(
                number=recorded.number,
                recorded_id=recorded.experiment_id,
                replayed_id=other.id if other is not None else None,
                parameters=dict(recorded.parameters),
                recorded_state=recorded.state.value,
                replayed_state=other.state.value if other is not None else None,
                recorded_outcomes=before,
                replayed_outcomes=after,
                relative_differences={
                    k: relative_difference(before[k], after[k]) for k in before if k in after
                },
            )
        )
    return ReplayComparison(plan.campaign_id, campaign_id, tuple(rows))
