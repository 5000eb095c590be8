"""The campaign engine: resource-aware asynchronous scheduling, operator requests, recovery.

When the first instrument of the workflow is about to free up, the planner is asked for one new
candidate with every running experiment as pending, so instruments stay busy; one experiment
waits ready at that instrument so planning never leaves it idle. Batch mode (the baseline) asks
for a whole batch and waits for all of it. Every finished experiment is told to the planner.

Started on a lab file that holds an unfinished campaign, the engine resumes it: results not yet
told are told, unfinished experiments continue from their stored steps (running device jobs are
reattached, not resubmitted).
"""

import asyncio
import contextlib
import logging
import time
from typing import Any

from voltlab.drivers import DriverError
from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.events import Event, EventBus
from voltlab.orchestrator.experiment_runner import ExperimentRunner
from voltlab.orchestrator.instruments import Instruments
from voltlab.orchestrator.planning import PlannerService, result_of
from voltlab.orchestrator.resources import ResourcePool
from voltlab.orchestrator.states import CampaignState, ExperimentState, StepState
from voltlab.orchestrator.steps import RESOURCE_OF, EngineSettings
from voltlab.orchestrator.store import AsyncStore, CampaignRow, ExperimentRow
from voltlab.planners import PlannerInputError

log = logging.getLogger(__name__)

LEARNT_STATES = {ExperimentState.COMPLETED, ExperimentState.FAILED, ExperimentState.GATED}
MAX_RESUMES = 3
"""Resumes of an experiment whose task was cancelled from within before it counts as crashed."""


def resource_pool(campaign: Campaign) -> ResourcePool:
    kinds: dict[str, list[str]] = {}
    for kind in campaign.step_kinds():
        resource = RESOURCE_OF.get(kind)
        if resource == "cycler":
            kinds[resource] = [f"cycler:{c}" for c in campaign.resources.cycler_channels]
        elif resource is not None:
            kinds[resource] = [resource]
    return ResourcePool(kinds)


class CampaignEngine:
    """Runs (or resumes) campaign ``campaign_id`` stored in ``store`` to its end."""

    def __init__(
        self,
        store: AsyncStore,
        campaign_id: str,
        campaign: Campaign,
        instruments: Instruments,
        bus: EventBus | None = None,
        settings: EngineSettings | None = None,
    ) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.campaign = campaign
        self.bus = bus or EventBus()
        self.settings = settings or EngineSettings()
        self.resources = resource_pool(campaign)
        self._resumed = asyncio.Event()
        self._runner = ExperimentRunner(
            campaign, store, instruments, self.resources, self.publish, self.settings,
            self._resumed.wait,
        )  # fmt: skip
        self._instruments = instruments
        self._tasks: dict[str, asyncio.Task[ExperimentRow]] = {}
        self._parameters: dict[str, dict[str, Any]] = {}
        self._forgotten: set[str] = set()
        self._resumes: dict[str, int] = {}
        self._planner: PlannerService | None = None
        self._stop_reason: str | None = None
        self._aborting = False

    def publish(self, event: Event) -> None:
        self.bus.publish(event)

    async def _write(self, fn: Any) -> Any:
        event = await self.store.call(fn)
        if isinstance(event, dict) and "kind" in event:
            self.publish(event)
        return event

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> CampaignRow:
        row = await self.store.call(lambda s: s.campaign(self.campaign_id))
        if row.state.is_final:
            return row
        self._planner = PlannerService(self.campaign, row.planner_state)
        try:
            if row.state is CampaignState.CREATED:
                await self._set_state(CampaignState.RUNNING)
            if row.state is not CampaignState.PAUSED:
                self._resumed.set()
            await self._catch_up()
            while True:
                await self._handle_requests()
                await self._reap()
                if self._aborting:
                    await self._abort_all()
                    break
                # Recomputed each round: vetoing the last suggestion reopens the budget.
                self._stop_reason = await self._budget_spent()
                if self._stop_reason is not None and not self._tasks:
                    await self._finish()
                    break
                if self._stop_reason is None and self._should_propose():
                    await self._propose()
                    continue
                await self._wait_for_change()
        finally:
            await self._cancel_tasks()
            self._planner.close()
        return await self.store.call(lambda s: s.campaign(self.campaign_id))

    async def _catch_up(self) -> None:
        """Tell what finished but was never told; resume every unfinished experiment."""
        for experiment in await self.store.call(lambda s: s.experiments(self.campaign_id)):
            if experiment.state.is_final:
                await self._learn(experiment)
            else:
                self._spawn(experiment)

    def _spawn(self, experiment: ExperimentRow) -> None:
        self._parameters[experiment.id] = experiment.parameters
        self._tasks[experiment.id] = asyncio.create_task(
            self._runner.run(experiment), name=f"experiment {experiment.id}"
        )

    async def _reap(self) -> None:
        for experiment_id, task in list(self._tasks.items()):
            if not task.done():
                continue
            del self._tasks[experiment_id]
            if task.cancelled():
                await self._resume_cancelled(experiment_id, task)
                continue
            try:
                experiment = task.result()
            except Exception as exc:  # a bug in a step must not take the campaign down
                log.exception("experiment %s crashed", experiment_id)
                experiment = await self._crashed(experiment_id, exc)
            await self._learn(experiment)

    async def _resume_cancelled(self, experiment_id: str, task: asyncio.Task[Any]) -> None:
        """An experiment's task ended cancelled though the engine cancels only when it stops:
        a library cancelled a future the step awaited. Its steps are in the lab file, so it is
        resumed as after a restart (running jobs reattached, nothing done twice); after
        ``MAX_RESUMES`` the experiment counts as crashed."""
        try:
            task.result()
        except asyncio.CancelledError as exc:  # its traceback shows the await that was cut
            log.error("experiment %s was cancelled from within", experiment_id, exc_info=exc)
        self._resumes[experiment_id] = resumes = self._resumes.get(experiment_id, 0) + 1
        data = {"experiment_id": experiment_id, "resumes": resumes}
        await self._write(lambda s: s.log_event(self.campaign_id, "cancelled", data))
        if resumes > MAX_RESUMES:
            crash = RuntimeError(f"cancelled from within {resumes} times")
            await self._learn(await self._crashed(experiment_id, crash))
            return
        self._spawn(await self.store.call(lambda s: s.experiment(experiment_id)))

    async def _crashed(self, experiment_id: str, exc: Exception) -> ExperimentRow:
        current = await self.store.call(lambda s: s.experiment(experiment_id))
        if not current.state.is_final:
            target = (
                ExperimentState.FAILED
                if current.state is ExperimentState.RUNNING
                else ExperimentState.ABORTED
            )
            await self._write(
                lambda s: s.set_experiment_state(
                    experiment_id, target, failure=f"internal error: {exc!r}"
                )
            )
        return await self.store.call(lambda s: s.experiment(experiment_id))

    async def _learn(self, experiment: ExperimentRow) -> None:
        """Tell the planner a finished experiment (once; excluded ones never)."""
        if experiment.told or experiment.excluded or experiment.state not in LEARNT_STATES:
            return
        assert self._planner is not None
        result = result_of(self.campaign, experiment)
        try:
            state = await self._planner.tell(result)
        except PlannerInputError as exc:
            data = {"experiment_id": experiment.id, "not_learnt": str(exc)}
            await self._write(lambda s: s.log_event(self.campaign_id, "planner", data))
            return
        payload = result.model_dump(mode="json")
        await self.store.call(lambda s: s.record_told(experiment.id, payload, state))

    # -- proposing ------------------------------------------------------------------------

    def _active(self) -> list[str]:
        return [e for e, t in self._tasks.items() if not t.done()]

    def _should_propose(self) -> bool:
        if not self._resumed.is_set():
            return False
        active = self._active()
        concurrency = self.campaign.concurrency
        if concurrency.mode == "batch":
            return not active
        waiting = [e for e in active if e not in self._runner.started]
        return len(active) < concurrency.max_in_flight and not waiting

    async def _propose(self) -> None:
        assert self._planner is not None
        concurrency = self.campaign.concurrency
        count = await self._counted()
        left = self.campaign.budget.experiments - count
        n = min(concurrency.batch_size or concurrency.max_in_flight, left)
        n = n if concurrency.mode == "batch" else min(1, left)
        if n < 1:
            return
        pending = [self._parameters[e] for e in self._active()]
        await self._write(
            lambda s: s.log_event(self.campaign_id, "planning", {"n": n, "pending": len(pending)})
        )
        suggestions, state, took = await self._planner.ask(n, pending)
        initial = (
            ExperimentState.AWAITING_APPROVAL if self.campaign.approve else ExperimentState.QUEUED
        )
        for suggestion in suggestions:
            reason = suggestion.reason.model_dump(mode="json")
            decision = {
                "planner": self._planner.kind,
                "reason": reason,
                "pending": pending,
                "duration_s": took,
            }
            experiment, event = await self.store.call(
                lambda s, sg=suggestion, r=reason, d=decision: s.add_experiment(
                    self.campaign_id, sg.parameters, "planner", initial,
                    self.campaign.step_kinds(), reason=r, planner_state=state, decision=d,
                )
            )  # fmt: skip
            self.publish(event)
            self._spawn(experiment)

    async def _counted(self) -> int:
        """Experiments that count against the budget (all but vetoed suggestions)."""
        experiments = await self.store.call(lambda s: s.experiments(self.campaign_id))
        return sum(e.state is not ExperimentState.VETOED for e in experiments)

    async def _budget_spent(self) -> str | None:
        budget = self.campaign.budget
        if await self._counted() >= budget.experiments:
            return f"budget of {budget.experiments} experiments reached"
        row = await self.store.call(lambda s: s.campaign(self.campaign_id))
        limit_min = budget.wall_time_min
        started = row.started_at
        if limit_min is not None and started is not None and time.time() - started > 60 * limit_min:
            return f"wall-time budget of {limit_min} min reached"
        if budget.max_failures is not None:
            failed = await self.store.call(
                lambda s: s.experiments(self.campaign_id, [ExperimentState.FAILED])
            )
            if len(failed) >= budget.max_failures:
                return f"{len(failed)} failed experiments (max_failures {budget.max_failures})"
        return None

    async def _wait_for_change(self) -> None:
        self.resources.changed.clear()
        waiters: list[asyncio.Future[Any]] = [*self._tasks.values()]
        changed = asyncio.ensure_future(self.resources.changed.wait())
        try:
            await asyncio.wait(
                [*waiters, changed],
                timeout=self.settings.control_poll_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            changed.cancel()

    # -- operator requests ----------------------------------------------------------------

    async def _handle_requests(self) -> None:
        row = await self.store.call(lambda s: s.campaign(self.campaign_id))
        request = row.requested
        if request == "abort":
            self._aborting = True
        elif request == "pause" and row.state is CampaignState.RUNNING:
            self._resumed.clear()
            await self._set_state(CampaignState.PAUSED, "paused by operator")
        elif request == "resume" and row.state is CampaignState.PAUSED:
            await self._set_state(CampaignState.RUNNING, "resumed by operator")
            self._resumed.set()
        if request is not None:
            await self._write(lambda s: s.request(self.campaign_id, None))
        await self._discover()
        await self._forget_excluded()

    async def _discover(self) -> None:
        """Pick up experiments added from outside (manual ones, from the operator)."""
        unfinished = await self.store.call(
            lambda s: s.experiments(
                self.campaign_id,
                [ExperimentState.QUEUED, ExperimentState.AWAITING_APPROVAL],
            )
        )
        for experiment in unfinished:
            if experiment.id not in self._tasks:
                self._spawn(experiment)

    async def _forget_excluded(self) -> None:
        assert self._planner is not None
        experiments = await self.store.call(lambda s: s.experiments(self.campaign_id))
        new = [e for e in experiments if e.excluded and e.told and e.id not in self._forgotten]
        if not new:
            return
        state = await self._planner.forget([e.result for e in new if e.result])
        await self.store.call(lambda s: s.save_planner_state(self.campaign_id, state))
        self._forgotten.update(e.id for e in new)

    async def _set_state(self, state: CampaignState, reason: str | None = None) -> None:
        await self._write(lambda s: s.set_campaign_state(self.campaign_id, state, reason))

    # -- ending ---------------------------------------------------------------------------

    async def _finish(self) -> None:
        await self._forget_excluded()  # exclusions made since the last round count too
        row = await self.store.call(lambda s: s.campaign(self.campaign_id))
        if row.state is CampaignState.PAUSED:
            await self._set_state(CampaignState.RUNNING)
        failed = self._stop_reason is not None and "max_failures" in self._stop_reason
        await self._set_state(
            CampaignState.FAILED if failed else CampaignState.COMPLETED, self._stop_reason
        )

    async def _cancel_tasks(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _abort_all(self) -> None:
        """Stop every running device job (best effort), then mark what was unfinished."""
        await self._cancel_tasks()
        for experiment_id in list(self._tasks):
            await self._abort_experiment(experiment_id)
        self._tasks.clear()
        await self._set_state(CampaignState.ABORTED, "aborted by operator")

    async def _abort_experiment(self, experiment_id: str) -> None:
        for step in await self.store.call(lambda s: s.steps(experiment_id)):
            if step.state.is_final:
                continue
            if step.state is StepState.RUNNING and step.job_id:
                await self._stop_job(step.kind, step.job_id)
            await self._write(
                lambda s, st=step: s.set_step_state(st.id, StepState.SKIPPED, error="aborted")
            )
        experiment = await self.store.call(lambda s: s.experiment(experiment_id))
        if not experiment.state.is_final:
            await self._write(
                lambda s: s.set_experiment_state(
                    experiment_id, ExperimentState.ABORTED, failure="aborted by operator"
                )
            )

    async def _stop_job(self, kind: str, job_id: str) -> None:
        instruments = self._instruments
        with contextlib.suppress(DriverError):
            if kind == "cycle" and instruments.cycler is not None:
                await instruments.cycler.stop(job_id)
            elif kind in ("synthesize", "assemble_cell") and instruments.robot is not None:
                await instruments.robot.abort(job_id)
            elif kind == "xrd" and instruments.xrd is not None:
                await instruments.xrd.reset()  # aborts the running measurement
