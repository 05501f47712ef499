"""PostgreSQL stopped under the running stack (long form: a second stack must start).

Both databases (the application's and Rasa's tracker store) live on a private cluster
started for the test (never the shared server): stopping it must cost no message, and
/healthz must name the database and the tracker store.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import LONG
from tests.faults.harness import Fault, FaultStack, PrivatePostgres
from tests.faults.test_faults import Degraded, check

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not LONG, reason="long form only (TIEPDAN_FAULTS=long): a second stack"),
]


def test_postgresql_stopped(pg_stack: FaultStack, private_postgres: PrivatePostgres, size: str):
    seen = Degraded()

    def inject(stack: FaultStack) -> None:
        private_postgres.stop()

    def restore(stack: FaultStack) -> None:
        seen.look(stack)
        private_postgres.start()

    check(pg_stack, Fault("PostgreSQL stopped (10 s)", inject, restore, hold=10), 20, size)
    # Health names both stores while the server is down (the probe looks again at once).
    assert {"database", "tracker_store"} <= seen.named, seen.named
