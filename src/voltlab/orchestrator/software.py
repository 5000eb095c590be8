"""The software a campaign ran with (kept in the lab file and in export bundles): Python and the installed versions of the packages
whose behaviour shapes a campaign's results (planning, simulation, analysis, transport)."""

import platform
from importlib import metadata

PACKAGES = (
    "voltlab", "numpy", "scipy", "pandas", "torch", "botorch", "gpytorch", "pybamm",
    "pymatgen", "pybaselines", "asyncua", "pyzmq", "bluesky", "ophyd-async", "event-model",
    "pydantic", "sqlite-utils", "pyarrow", "rocrate", "batterydf",
)  # fmt: skip


def software_versions() -> dict[str, str]:
    """Package name -> installed version (absent packages left out), plus ``python``."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
