"""Campaigns, workflow steps, scheduling, the store and crash recovery. Reaches instruments only
through :mod:`voltlab.drivers`, never the simulator."""
