"""Rate limits on the public surface: per resident, per address, log-in attempts, and
refused calls to the authenticated entry points."""

from __future__ import annotations

import asyncio
import re

from channels.ratelimit import SlidingWindow

API_TOKEN = "unit-test-token-123456"
SLOW = re.compile("nhanh quá|faster than")


def test_a_window_allows_the_limit_then_says_how_long_to_wait() -> None:
    window = SlidingWindow(limit=3, window=60.0)
    assert [window.hit("a", now=t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
    assert window.hit("a", now=3.0) == 57.0  # the first event leaves the window at 60
    assert window.hit("b", now=3.0) == 0.0  # someone else is not affected
    assert window.hit("a", now=60.0) == 0.0


def test_a_zero_limit_is_no_limit() -> None:
    window = SlidingWindow(limit=0)
    assert all(window.hit("a", now=float(t)) == 0.0 for t in range(1000))


def test_forgotten_keys_stay_bounded() -> None:
    window = SlidingWindow(limit=1, max_keys=100)
    for i in range(1000):
        window.hit(str(i), now=0.0)
    assert len(window._events) <= 100
    assert window.hit("999", now=1.0) > 0  # the most recent ones are remembered


async def chat(gateway, sender: str, text: str = "xin chào", token: str = API_TOKEN, **extra):
    response = await gateway.client.post(
        "/api/chat",
        json={"sender": sender, "text": text, **extra},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status, await response.json(), response.headers


async def test_a_resident_sending_too_fast_is_asked_politely_to_wait(start_gateway, rasa) -> None:
    gateway = await start_gateway({"RATE_LIMIT_PER_SENDER": "2"})
    assert (await chat(gateway, "fast"))[0] == 200
    assert (await chat(gateway, "fast"))[0] == 200
    status, body, headers = await chat(gateway, "fast", text="alo alo")
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert body["error"]["code"] == "rate_limited"
    assert "nhanh quá" in body["messages"][0]["text"]
    status, body, _ = await chat(gateway, "fast", text="hello", lang="en")
    assert status == 429 and "Please wait" in body["messages"][0]["text"]
    assert rasa.messages("api:fast") == ["xin chào", "xin chào"]  # the others never reached it
    assert (await chat(gateway, "calm"))[0] == 200  # another resident is unaffected


async def test_guessing_the_api_token_is_stopped_by_address(start_gateway) -> None:
    gateway = await start_gateway({"RATE_LIMIT_REFUSED": "3"})
    for _ in range(3):
        assert (await chat(gateway, "a", token="wrong-token"))[0] == 401
    status, body, headers = await chat(gateway, "a")  # even the right token, for a while
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert "Retry-After" in headers


async def test_good_api_traffic_is_not_limited_by_address(start_gateway) -> None:
    gateway = await start_gateway({"RATE_LIMIT_REFUSED": "2", "RATE_LIMIT_PER_ADDRESS": "2"})
    statuses = [(await chat(gateway, f"resident-{i}"))[0] for i in range(8)]
    assert statuses == [200] * 8


async def test_log_in_attempts_are_limited_by_address(start_gateway) -> None:
    gateway = await start_gateway({"RATE_LIMIT_LOGIN": "3"})
    statuses = []
    for _ in range(4):
        response = await gateway.client.post(
            "/console/login", data={"username": "x", "password": "y"}, allow_redirects=False
        )
        statuses.append(response.status)
    assert 429 not in statuses[:3]
    assert statuses[3] == 429
    text = await response.text()
    assert "thử lại sau" in text and "try again in" in text


async def test_the_widget_and_portal_are_limited_by_address(start_gateway) -> None:
    gateway = await start_gateway({"RATE_LIMIT_PER_ADDRESS": "5"})
    statuses = [(await gateway.client.get("/widget.js")).status for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    assert (await gateway.client.get("/healthz/live")).status == 200  # health is never limited


async def test_a_flood_on_telegram_and_zalo_is_cut_with_one_polite_notice(
    start_gateway, rasa, telegram_api, zalo_api
) -> None:
    from tests.fakes import zalo_oa_api
    from tests.fakes.telegram_bot_api import text_update
    from tests.unit.channels.conftest import telegram_settings, zalo_settings

    gateway = await start_gateway(
        {**telegram_settings(telegram_api), **zalo_settings(zalo_api), "RATE_LIMIT_PER_SENDER": "3"}
    )
    for number in range(8):
        await gateway.post_update(text_update(100 + number, 77, f"tin {number}"))
        await gateway.post_event(
            *zalo_oa_api.signed(zalo_oa_api.text_event("z", f"tin {number}", f"m{number}"))
        )
    await gateway.settle()
    assert rasa.messages("tg:77") == ["tin 0", "tin 1", "tin 2"]
    assert rasa.messages("zalo:z") == ["tin 0", "tin 1", "tin 2"]

    def notices() -> tuple[int, int]:
        return (
            len([t for t in telegram_api.texts(77) if SLOW.search(t)]),
            len([t for t in zalo_api.texts("z") if SLOW.search(t)]),
        )

    for _ in range(100):  # replies leave through the outbox, at the platforms' pace
        if notices() == (1, 1):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert notices() == (1, 1), (telegram_api.texts(77), zalo_api.texts("z"))  # once each
    await gateway.post_update(text_update(200, 78, "xin chào"))  # someone else is unaffected
    await gateway.settle()
    assert rasa.messages("tg:78") == ["xin chào"]
