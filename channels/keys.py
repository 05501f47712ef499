"""Typed keys for what the gateway app holds (settings, database, Rasa client)."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.rasa_client import RasaClient
from bot.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
SESSIONS = web.AppKey("sessions", sessionmaker)
RASA = web.AppKey("rasa", RasaClient)
HTTP = web.AppKey("http", aiohttp.ClientSession)
