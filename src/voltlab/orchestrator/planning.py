"""The campaign's planner, run on its own worker thread, its state saved in the store.

Asking a BoTorch planner takes seconds of CPU; it runs off the event loop so streams and steps go
on meanwhile. Its JSON state is written in the same transaction as what it caused (the proposed
experiment, or the result it learnt), so a restarted engine continues with the same history.
"""

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.states import ExperimentState
from voltlab.orchestrator.store import ExperimentRow
from voltlab.planners import (
    BoTorchOptions,
    BoTorchPlanner,
    HistoryPlanner,
    RandomPlanner,
    Result,
    SobolPlanner,
    Suggestion,
    planner_from_json,
)


def new_planner(campaign: Campaign) -> HistoryPlanner:
    problem = campaign.problem()
    spec = campaign.planner
    if spec.kind == "botorch":
        return BoTorchPlanner(problem, campaign.seed, BoTorchOptions(**spec.options))
    if spec.kind == "sobol":
        return SobolPlanner(problem, campaign.seed)
    return RandomPlanner(problem, campaign.seed)


def result_of(campaign: Campaign, experiment: ExperimentRow) -> Result:
    """What the planner learns from a finished experiment: its outcomes, or that it failed
    (gated experiments too: their region is learnt as infeasible)."""
    if experiment.state is not ExperimentState.COMPLETED or experiment.outcomes is None:
        return Result(parameters=experiment.parameters, failed=True)
    outcomes = experiment.outcomes
    return Result(
        parameters=experiment.parameters,
        objectives={o.name: outcomes[o.name] for o in campaign.objectives},
        constraints={c.name: outcomes[c.name] for c in campaign.constraints},
    )


class PlannerService:
    def __init__(self, campaign: Campaign, state: str | None) -> None:
        self._planner = planner_from_json(state) if state else new_planner(campaign)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voltlab-planner")

    @property
    def kind(self) -> str:
        return self._planner.kind

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def ask(
        self, n: int, pending: Sequence[Mapping[str, object]]
    ) -> tuple[list[Suggestion], str, float]:
        """``n`` suggestions given the ``pending`` points, the new state and the time taken (s)."""
        started = time.perf_counter()
        suggestions = await self._run(self._planner.ask, n, list(pending))
        state = await self._run(self._planner.to_json)
        return suggestions, state, time.perf_counter() - started

    async def tell(self, result: Result) -> str:
        await self._run(self._planner.tell, [result])
        return await self._run(self._planner.to_json)

    async def forget(self, results: Sequence[Mapping[str, Any]]) -> str:
        """Drop told results (an operator excluded them) and rebuild the planner without them."""

        def rebuild() -> str:
            state = json.loads(self._planner.to_json())
            drop = [Result.model_validate(r) for r in results]
            state["history"] = [h for h in state["history"] if Result.model_validate(h) not in drop]
            self._planner = planner_from_json(json.dumps(state))
            return self._planner.to_json()

        return await self._run(rebuild)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
