"""The web portal (samhandlingsportalen): bills, line items, explanations and rules in a browser.

:func:`create_app` builds the FastAPI application for a warehouse folder; authentication,
authorisation, CSRF protection and the audit log live on the server (``security``), users and
sessions in the operational store (:mod:`samhandling.store`). Pages are Jinja2 templates in
Norwegian bokmål; charts are SVG drawn on the server, each with its table of numbers.
"""

from __future__ import annotations

from samhandling.web._app import create_app
from samhandling.web.demo import DemoUser, create_demo_users

__all__ = ["DemoUser", "create_app", "create_demo_users"]
