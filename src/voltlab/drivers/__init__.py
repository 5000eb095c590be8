"""Async clients for the instruments' wire protocols, ophyd-async devices and bluesky plans.

Imports only :mod:`voltlab.protocol` of voltlab; the same drivers reach simulated or real
instruments by configuration.
"""
