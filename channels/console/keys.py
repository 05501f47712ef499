"""Typed keys for what the console keeps on the gateway app."""

from __future__ import annotations

import jinja2
from aiohttp import web

TEMPLATES = web.AppKey("console_templates", jinja2.Environment)
