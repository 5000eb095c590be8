"""Running one experiment through its workflow, step by step, durably.

Each step's RUNNING state, with the job id of its attempt, is committed before the instrument is
asked to do anything, so a restarted engine knows which job to reattach to. Failures are sorted:
- the instrument is unreachable or garbled its replies: the step waits for it (same job id, so
  nothing is done twice) up to ``outage_timeout_s``, without holding up other experiments;
- the device job failed, got stuck, or the device is in an error state: the device is reset and
  the step retried as a new attempt (new job id), up to ``max_attempts``;
- anything else (an interlock refusal, unusable data): the experiment fails, with the reason.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from voltlab.drivers import (
    CommandRefused,
    DriverError,
    DriverProtocolError,
    DriverTimeout,
    InstrumentUnavailable,
    JobFailed,
)
from voltlab.orchestrator.campaign import Campaign
from voltlab.orchestrator.events import Event
from voltlab.orchestrator.instruments import Instruments
from voltlab.orchestrator.resources import ResourcePool
from voltlab.orchestrator.states import ExperimentState, StepState
from voltlab.orchestrator.steps import (
    EXECUTORS,
    RESOURCE_OF,
    EngineSettings,
    StepContext,
    StepFailed,
    StepOutcome,
    outcomes_of,
)
from voltlab.orchestrator.store import AsyncStore, ExperimentRow, StepRow, Store
from voltlab.protocol import ErrorCode

log = logging.getLogger(__name__)

OUTAGE_BACKOFF_S = (0.2, 5.0)
WAITED_OUT = (InstrumentUnavailable, DriverProtocolError, DriverTimeout, CommandRefused)
"""Errors a step waits out (CommandRefused only with one of ``WAITED_OUT_CODES``)."""
WAITED_OUT_CODES = {ErrorCode.UNKNOWN_JOB, ErrorCode.BUSY}
"""A restarted instrument that forgot the job; an instrument still finishing other work."""


class ExperimentRunner:
    """Drives experiments of one campaign; one ``run`` call per experiment (concurrently)."""

    def __init__(
        self,
        campaign: Campaign,
        store: AsyncStore,
        instruments: Instruments,
        resources: ResourcePool,
        publish: Callable[[Event], None],
        settings: EngineSettings,
        may_start_step: Callable[[], "asyncio.Future[Any] | Any"],
    ) -> None:
        self.campaign = campaign
        self.store = store
        self.instruments = instruments
        self.resources = resources
        self.publish = publish
        self.settings = settings
        self._may_start_step = may_start_step
        self.started: set[str] = set()
        """Experiments that hold (or held) their first instrument."""

    async def _write(self, fn: Callable[[Any], Event | None]) -> None:
        event = await self.store.call(fn)
        if event:
            self.publish(event)

    async def run(self, experiment: ExperimentRow) -> ExperimentRow:
        """Take ``experiment`` from wherever it stands to a final state and return it."""
        experiment = await self._approved(experiment)
        if experiment.state.is_final:
            return experiment
        if experiment.state is ExperimentState.QUEUED:
            await self._write(
                lambda s: s.set_experiment_state(experiment.id, ExperimentState.RUNNING)
            )
        steps = await self.store.call(lambda s: s.steps(experiment.id))
        outputs: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        for step in steps:
            if step.state is StepState.COMPLETED and step.result:
                outputs |= step.result.get("outputs", {})
                metrics |= step.result.get("metrics", {})
        if any(s.state is not StepState.PENDING for s in steps):
            self.started.add(experiment.id)
        for step in steps:
            if step.state.is_final:
                continue
            await self._may_start_step()
            try:
                outcome = await self._run_step(experiment, step, outputs, metrics)
            except StepFailed as exc:
                return await self._fail(experiment, step, str(exc))
            outputs |= outcome.outputs
            metrics |= outcome.metrics
            await self._write(
                lambda s, o=outcome, st=step: s.set_step_state(
                    st.id, StepState.COMPLETED, result=o.as_result()
                )
            )
            if outcome.gated:
                await self._skip_rest(experiment, step)
                gated = (experiment.id, metrics, outcome.gated)
                await self._write(
                    lambda s, g=gated: s.set_experiment_state(
                        g[0], ExperimentState.GATED, outcomes=g[1], failure=g[2]
                    )
                )
                return await self.store.call(lambda s: s.experiment(experiment.id))
        return await self._complete(experiment, outputs, metrics)

    async def _approved(self, experiment: ExperimentRow) -> ExperimentRow:
        """Wait for an operator's approval (or veto) of a suggestion in approve mode."""
        experiment_id = experiment.id
        while experiment.state is ExperimentState.AWAITING_APPROVAL:
            await asyncio.sleep(self.settings.control_poll_s)
            experiment = await self.store.call(lambda s: s.experiment(experiment_id))
        return experiment

    async def _complete(
        self, experiment: ExperimentRow, outputs: dict[str, Any], metrics: dict[str, float]
    ) -> ExperimentRow:
        ctx = self._context(experiment, None, None, outputs, metrics)
        try:
            outcomes = outcomes_of(ctx)
        except StepFailed as exc:
            reason = str(exc)
            await self._write(
                lambda s: s.set_experiment_state(
                    experiment.id, ExperimentState.FAILED, outcomes=metrics, failure=reason
                )
            )
        else:
            await self._write(
                lambda s: s.set_experiment_state(
                    experiment.id, ExperimentState.COMPLETED, outcomes={**metrics, **outcomes}
                )
            )
        return await self.store.call(lambda s: s.experiment(experiment.id))

    async def _fail(self, experiment: ExperimentRow, step: StepRow, reason: str) -> ExperimentRow:
        log.warning("experiment %s failed at %s: %s", experiment.id, step.kind, reason)
        current = await self.store.call(lambda s: s.step(step.id))
        if current.state is StepState.PENDING:
            await self._write(lambda s: s.set_step_state(step.id, StepState.SKIPPED, error=reason))
        else:
            await self._write(lambda s: s.set_step_state(step.id, StepState.FAILED, error=reason))
        await self._skip_rest(experiment, step)
        await self._write(
            lambda s: s.set_experiment_state(experiment.id, ExperimentState.FAILED, failure=reason)
        )
        return await self.store.call(lambda s: s.experiment(experiment.id))

    async def _skip_rest(self, experiment: ExperimentRow, after: StepRow) -> None:
        for step in await self.store.call(lambda s: s.steps(experiment.id)):
            if step.position > after.position and not step.state.is_final:
                await self._write(lambda s, st=step: s.set_step_state(st.id, StepState.SKIPPED))

    def _context(
        self,
        experiment: ExperimentRow,
        step: StepRow | None,
        unit: str | None,
        outputs: dict[str, Any],
        metrics: dict[str, float],
    ) -> StepContext:
        return StepContext(
            campaign=self.campaign,
            experiment=experiment,
            step=step,  # type: ignore[arg-type]  (None only for outcome collection)
            store=self.store,
            instruments=self.instruments,
            publish=self.publish,
            settings=self.settings,
            resource=unit,
            outputs=outputs,
            metrics=metrics,
        )

    @contextlib.asynccontextmanager
    async def _holding(self, experiment: ExperimentRow, step: StepRow) -> AsyncIterator[str | None]:
        kind = RESOURCE_OF.get(step.kind)
        if kind is None:
            yield None
            return
        preferred = step.resource if step.state is StepState.RUNNING else None
        async with self.resources.use(kind, preferred) as unit:
            self.started.add(experiment.id)
            yield unit

    async def _run_step(
        self,
        experiment: ExperimentRow,
        step: StepRow,
        outputs: dict[str, Any],
        metrics: dict[str, float],
    ) -> StepOutcome:
        reattach = step.state is StepState.RUNNING
        attempt = step.attempt if reattach else step.attempt + 1
        async with self._holding(experiment, step) as unit:
            while True:
                if not (reattach and step.attempt == attempt):
                    step = await self._start_attempt(step.id, attempt, unit)
                reattach = False
                ctx = self._context(experiment, step, unit, outputs, metrics)
                try:
                    return await self._through_outages(ctx)
                except (JobFailed, DriverTimeout, CommandRefused) as exc:
                    await self._reset(ctx, exc)
                    if attempt >= self.settings.max_attempts:
                        raise StepFailed(
                            f"{step.kind} failed {attempt} times; last: {exc}"
                        ) from exc
                    attempt += 1

    async def _start_attempt(self, step_id: str, attempt: int, unit: str | None) -> StepRow:
        """Commit the attempt's job id (the instrument's idempotency key) before using it."""
        job_id = f"{step_id}-a{attempt}"

        def start(store: Store) -> tuple[Event, StepRow]:
            event = store.set_step_state(
                step_id, StepState.RUNNING, job_id=job_id, attempt=attempt, resource=unit
            )
            return event, store.step(step_id)

        event, step = await self.store.call(start)
        self.publish(event)
        return step

    async def _through_outages(self, ctx: StepContext) -> StepOutcome:
        """Run the step's executor, waiting out instrument outages with the same job id.

        An instrument restarted during the outage may have forgotten the job (it answers
        UNKNOWN_JOB): the executor runs again with the same job id, which submits it anew."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.settings.outage_timeout_s
        delay = OUTAGE_BACKOFF_S[0]
        while True:
            try:
                return await EXECUTORS[ctx.step.kind](ctx)
            except WAITED_OUT as exc:
                if isinstance(exc, DriverTimeout) and exc.command.startswith("job "):
                    raise  # the job itself overran its deadline: stuck, not an outage
                if isinstance(exc, CommandRefused) and exc.code not in WAITED_OUT_CODES:
                    raise  # the device's answer, not an outage
                forgotten = isinstance(exc, CommandRefused)
                if loop.time() > give_up:
                    raise StepFailed(
                        f"{exc.instrument} unavailable for over "
                        f"{self.settings.outage_timeout_s:.0f} s: {exc}"
                    ) from exc
                await self._write(
                    lambda s, e=exc, f=forgotten: s.log_event(
                        ctx.experiment.campaign_id,
                        "instrument",
                        {"instrument": e.instrument, "state": "restarted" if f else "unavailable",
                         "error": str(e), "step_id": ctx.step.id},
                    )
                )  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(2 * delay, OUTAGE_BACKOFF_S[1])

    async def _reset(self, ctx: StepContext, exc: Exception) -> None:
        """Clear the device after a failed, stuck or refused job so a new attempt can run.
        A refusal other than the device's error state is permanent: StepFailed."""
        if isinstance(exc, CommandRefused) and exc.code is not ErrorCode.DEVICE_ERROR:
            raise StepFailed(str(exc)) from exc
        await self._write(
            lambda s: s.log_event(
                ctx.experiment.campaign_id,
                "retry",
                {"step_id": ctx.step.id, "job_id": ctx.step.job_id, "error": str(exc)},
            )
        )
        instruments = self.instruments
        with contextlib.suppress(DriverError):
            if ctx.step.kind in ("synthesize", "assemble_cell") and instruments.robot:
                if isinstance(exc, DriverTimeout) and ctx.step.job_id:
                    await instruments.robot.abort(ctx.step.job_id)
                await instruments.robot.reset()
            elif ctx.step.kind == "xrd" and instruments.xrd:
                await instruments.xrd.reset()
            elif ctx.step.kind == "cycle" and instruments.cycler and ctx.resource:
                await instruments.cycler.reset(int(ctx.resource.rsplit(":", 1)[1]))
