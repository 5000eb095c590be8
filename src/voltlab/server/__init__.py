"""The operator's REST and WebSocket API and dashboard, on top of the orchestrator."""
