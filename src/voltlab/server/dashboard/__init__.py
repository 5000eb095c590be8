"""The operator dashboard: one HTML page and a small JavaScript module, served by the API's own
app so it works offline (no CDN). Charts use plotly.js as shipped inside the ``plotly`` Python
package, served from the installed package at ``/dashboard/vendor/plotly.min.js``.

The page holds no data: it asks for a token and reads everything through the API (REST, and
the ``/ws/events`` WebSocket for live updates), so serving it needs no authentication.
"""

from voltlab.server.dashboard._mount import DashboardError, mount_dashboard, plotly_js

__all__ = ["DashboardError", "mount_dashboard", "plotly_js"]
