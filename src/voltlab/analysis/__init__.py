"""Pure functions on measured data: XRD phase analysis and cycling metrics. No I/O, and no
imports from other parts of voltlab."""
