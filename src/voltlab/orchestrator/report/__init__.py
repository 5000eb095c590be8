"""A campaign's report: one HTML page with PNG figures beside it (hypervolume vs experiments,
Pareto front, capacity fade, voltage curves, XRD fits) and tables of the configuration, the
experiments and the planner's decisions. Drawn with matplotlib's Agg canvas; no network needed
to view it."""

from voltlab.orchestrator.report.writer import REPORT_FILE, Progress, ReportError, write_report

__all__ = ["REPORT_FILE", "Progress", "ReportError", "write_report"]
