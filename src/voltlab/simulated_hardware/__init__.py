"""The simulated lab: a ground-truth cathode and cell world behind real OPC UA and ZMQ servers.

Imports only :mod:`voltlab.protocol` of voltlab; everything else reaches it over the wire.
"""
