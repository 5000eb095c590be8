"""Routes of the dashboard: the page at ``/``, its static files and the vendored plotly.js."""

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from voltlab.errors import VoltlabError

STATIC = Path(__file__).parent / "static"
PLOTLY_PATH = Path("package_data") / "plotly.min.js"
CSP = "; ".join(
    (
        "default-src 'self'",
        # plotly.js compiles a few functions at run time (its strict build is not shipped).
        "script-src 'self' 'unsafe-eval'",
        # plotly.js writes its styles into <style> elements.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class DashboardError(VoltlabError, RuntimeError):
    """The dashboard cannot be served (a file it needs is missing)."""


def plotly_js() -> Path:
    """The minified plotly.js inside the installed ``plotly`` package (located without importing
    the package)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise DashboardError("the dashboard needs the plotly package: pip install 'plotly>=5'")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / PLOTLY_PATH
        if candidate.is_file():
            return candidate
    raise DashboardError(
        f"the plotly package has no {PLOTLY_PATH.as_posix()}; reinstall it: pip install 'plotly>=5'"
    )


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard page at ``/`` (and ``/dashboard``), its files under
    ``/dashboard/static`` and plotly.js at ``/dashboard/vendor/plotly.min.js``. Raises
    :class:`DashboardError` if plotly.js cannot be found."""
    plotly = plotly_js()
    index = STATIC / "index.html"
    if not index.is_file():
        raise DashboardError(f"the dashboard page {index} is missing from the installation")

    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)

    async def vendor_plotly() -> FileResponse:
        return FileResponse(
            plotly,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    for path in ("/", "/dashboard"):
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/dashboard/vendor/plotly.min.js", vendor_plotly, methods=["GET"], include_in_schema=False
    )
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
