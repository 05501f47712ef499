"""Every console route refuses the anonymous and the wrong roles. The table is the app's
own router: a route added without an entry in ROUTE_ROLES fails here (it is refused to all,
which the allowed-roles check below notices)."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from channels.app import create_app
from channels.console.auth import PUBLIC_ROUTES, ROUTE_ROLES
from tests.unit.console.conftest import STAFF, log_in

SAMPLE = {"{id}": "1", "{code}": "X", "{kind}": "overdue"}


def console_routes() -> list[tuple[str, str, str]]:
    app = create_app(load_settings({"TIEPDAN_SECRET_KEY": "route-table-secret-0123456789"}))
    routes = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if not path.startswith("/console") or route.method == "HEAD":
            continue
        for placeholder, value in SAMPLE.items():
            path = path.replace(placeholder, value)
        routes.append((route.method, path, route.name or ""))
    return routes


ROUTES = console_routes()
PROTECTED = [r for r in ROUTES if r[2] not in PUBLIC_ROUTES]


def test_every_console_route_is_named_in_the_role_table() -> None:
    assert PROTECTED, "no console routes found"
    unlisted = [r for r in PROTECTED if r[2] not in ROUTE_ROLES]
    assert not unlisted, f"add these routes to ROUTE_ROLES: {unlisted}"


@pytest.mark.parametrize(
    ("method", "path", "name"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED]
)
async def test_anonymous_is_refused(client, method: str, path: str, name: str) -> None:
    response = await client.request(method, path, allow_redirects=False)
    assert response.status in (302, 401, 403), f"{method} {path} answered {response.status}"
    if response.status == 302:
        assert response.headers["Location"].startswith("/console/login")


WRONG = [
    (method, path, name, role)
    for method, path, name in PROTECTED
    for role in STAFF
    if role not in ROUTE_ROLES.get(name, ())
]


@pytest.mark.parametrize(
    ("method", "path", "name", "role"), WRONG, ids=[f"{r} {m} {p}" for m, p, _, r in WRONG]
)
async def test_wrong_role_is_refused(client, method: str, path: str, name: str, role: str) -> None:
    csrf = await log_in(client, STAFF[role][0])
    response = await client.request(
        method, path, data={"csrf": csrf}, headers={"X-CSRF-Token": csrf}, allow_redirects=False
    )
    assert response.status == 403, f"{role} {method} {path} answered {response.status}"


def test_trainers_and_agents_cannot_reach_supervisor_and_admin_pages() -> None:
    # The table itself: a sanity check that the refusals above are not vacuous.
    assert any(role == "trainer" for *_, role in WRONG)
    assert ("POST", "/console/takeover", "console.takeover", "agent") in WRONG
    assert ("GET", "/console/audit", "console.audit", "supervisor") in WRONG
    for role in ("agent", "trainer"):
        assert ("GET", "/console/dashboard", "console.dashboard", role) in WRONG
        assert ("GET", "/console/escalations", "console.escalations", role) in WRONG
        assert (
            "POST",
            "/console/escalations/overdue/1/handled",
            "console.escalation_handled",
            role,
        ) in WRONG


async def test_allowed_role_gets_the_page(client) -> None:
    await log_in(client, "ada")
    for path in ("/console/queue", "/console/tickets", "/console/audit"):
        response = await client.get(path)
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
