"""The gateway is the only public surface: Rasa and the action server of the real stack
listen on the loopback interface only, and Rasa's HTTP API answers nothing without the
token (its REST channel is reachable only from this machine, by the gateway)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from tests.conftest import RASA_TOKEN, Stack

pytestmark = pytest.mark.integration


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port` (Linux /proc/net/tcp{,6})."""
    found = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        table = Path(f"/proc/net/{name}")
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


def test_rasa_and_the_action_server_listen_on_loopback_only(stack: Stack) -> None:
    for name in ("RASA_PORT", "ACTIONS_PORT"):
        addresses = listening_addresses(int(stack.env[name]))
        assert addresses, f"nothing listens on {name}={stack.env[name]}"
        assert addresses <= {"127.0.0.1", "::1"}, f"{name} is exposed on {addresses}"


def test_rasa_http_api_needs_the_token(stack: Stack) -> None:
    rasa = f"http://127.0.0.1:{stack.env['RASA_PORT']}"
    for path in ("/status", "/conversations/tg:1/tracker", "/domain"):
        refused = requests.get(f"{rasa}{path}", timeout=10)
        assert refused.status_code == 401, path
        wrong = requests.get(f"{rasa}{path}", params={"token": "guess-0123456789"}, timeout=10)
        assert wrong.status_code == 401, path
    assert requests.get(f"{rasa}/status", params={"token": RASA_TOKEN}, timeout=10).ok
    # Replacing the model is the most dangerous call; without the token it is refused.
    assert (
        requests.put(f"{rasa}/model", json={"model_file": "/tmp/x"}, timeout=10).status_code == 401
    )
