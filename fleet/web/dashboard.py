"""The dashboard (``/`` and ``/ui/...``): server-rendered pages in Thai and English (Jinja2,
htmx for in-place updates), mounted on the fleet's app.

Pages stay thin: they check the caller's role (``fleet/web/access.py``), call the same
services as the API (``fleet/services``) and render what those return, so a page shows exactly
what the API answers. What a role may not use is hidden or disabled in the page and refused
(403) all the same. A fleet error becomes the error page in ``fleet/api/error_handler.py``,
the one place that maps errors for the API and the dashboard alike.

One module per area: ``login_pages``, ``overview_pages``, ``station_pages``, ``alert_pages``,
``config_pages``, ``rollout_pages``; ``rendering`` draws them.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from fleet.web import (
    alert_pages,
    config_pages,
    login_pages,
    overview_pages,
    rollout_pages,
    station_pages,
)
from fleet.web.access import LoginRequiredError, PageError
from fleet.web.rendering import HERE, fleet_error_page, login_required, page_error

__all__ = ["fleet_error_page", "install"]


def install(app: FastAPI) -> None:
    """Mount the dashboard on the fleet's app: pages, static files, error pages."""
    for pages in (
        login_pages,
        overview_pages,
        station_pages,
        alert_pages,
        config_pages,
        rollout_pages,
    ):
        app.include_router(pages.router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(PageError, page_error)
