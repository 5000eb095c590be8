"""What the driver tests share: fast retry settings and driver configs pointing at sim servers."""

from typing import Any

from voltlab.drivers import CurveClientKeys, CyclerConfig, HeartbeatPolicy, RetryPolicy, XRDConfig

FAST_RETRY = RetryPolicy(reply_timeout_s=0.3, attempts=3, backoff_initial_s=0.02, backoff_max_s=0.2)
QUIET_HEARTBEAT = HeartbeatPolicy(interval_s=60.0, misses=3)
"""Heartbeats off in practice, so they do not consume faults scheduled on a command."""
DEADLINE_S = 10.0


def curve_keys(server_public_key: bytes | None) -> CurveClientKeys | None:
    return (
        None
        if server_public_key is None
        else CurveClientKeys(server_public_key=server_public_key.decode())
    )


def xrd_config(endpoint: str, **changes: Any) -> XRDConfig:
    base: dict[str, Any] = {
        "endpoint": endpoint,
        "retry": FAST_RETRY,
        "heartbeat": QUIET_HEARTBEAT,
        "poll_interval_s": 0.01,
    }
    return XRDConfig.model_validate(base | changes)


def cycler_config(endpoint: str, stream_endpoint: str, **changes: Any) -> CyclerConfig:
    base: dict[str, Any] = {
        "endpoint": endpoint,
        "stream_endpoint": stream_endpoint,
        "retry": FAST_RETRY,
        "heartbeat": QUIET_HEARTBEAT,
        "poll_interval_s": 0.01,
        "stream_idle_s": 0.2,
    }
    return CyclerConfig.model_validate(base | changes)
