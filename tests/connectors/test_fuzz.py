# mypy: allow-untyped-defs
"""Hypothesis fuzz over webhook and API payloads: never a 5xx, never a forwarded forgery."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest
from connectors_fakes import TG_SECRET, ZALO_APP_ID, ZALO_OA_KEY, ThreadedStack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.channels.zalo import compute_signature

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
user = st.fixed_dictionaries({"id": st.integers(1, 10**6), "is_bot": st.booleans(), "first_name": st.text(max_size=10)},
                             optional={"username": st.text(max_size=10)})
tg_updates = st.fixed_dictionaries(
    {"update_id": st.one_of(st.integers(0, 10**9), st.text(max_size=5), st.none())},
    optional={
        "message": st.fixed_dictionaries(
            {"message_id": st.integers(0, 100)},
            optional={"date": st.integers(0, 2**31), "text": st.text(max_size=50), "from": user,
                      "chat": st.fixed_dictionaries({"id": st.integers(-10**6, 10**6), "type": st.sampled_from(
                          ["private", "group", "bogus"])}), "voice": json_values},
        ),
        "callback_query": st.fixed_dictionaries(
            {}, optional={"id": st.text(max_size=5), "from": user, "data": st.text(max_size=70),
                          "chat_instance": st.text()}),
        "edited_message": json_values,
    },
)
zalo_events = st.fixed_dictionaries(
    {"event_name": st.one_of(st.sampled_from(["user_send_text", "user_send_image", "follow", "unfollow",
                                              "oa_send_text", "user_seen_message", "bogus"]), json_values)},
    optional={"sender": st.one_of(st.fixed_dictionaries({"id": st.text(max_size=20)}), json_values),
              "follower": st.one_of(st.fixed_dictionaries({"id": st.text(max_size=20)}), json_values),
              "message": st.one_of(st.fixed_dictionaries({}, optional={"msg_id": json_values, "text": json_values,
                                                                       "mid": st.text(max_size=8)}), json_values),
              "app_id": st.just(ZALO_APP_ID)},
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: Any) -> Any:
    with ThreadedStack(tmp_path_factory.mktemp("fuzz")) as s:
        yield s


def post(url: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(update=tg_updates)
def test_telegram_webhook_never_5xx(live, update):
    status = post(live.url, "/telegram/webhook", json.dumps(update).encode(),
                  {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert status < 500


@FUZZ
@given(event=zalo_events, fresh=st.booleans(), signed=st.booleans())
def test_zalo_webhook_never_5xx(live, event, fresh, signed):
    event["timestamp"] = str(int(time.time() * 1000)) if fresh else "1"
    raw = json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-ZEvent-Signature"] = "mac=" + compute_signature(ZALO_APP_ID, raw, event["timestamp"], ZALO_OA_KEY)
    assert post(live.url, "/zalo/webhook", raw, headers) < 500


@FUZZ
@given(body=st.binary(max_size=300),
       ctype=st.sampled_from(["application/json", "text/plain", "", "multipart/form-data"]),
       path=st.sampled_from(["/api/chat", "/internal/push", "/telegram/webhook", "/zalo/webhook"]),
       sig=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=70))
def test_raw_bytes_never_5xx(live, body, ctype, path, sig):
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "X-ZEvent-Signature": sig}
    if ctype:
        headers["Content-Type"] = ctype
    assert post(live.url, path, body, headers) < 500


@FUZZ
@given(body=json_values)
def test_json_api_never_5xx(live, body):
    raw = json.dumps(body).encode()
    push_auth = f"Bearer {live.settings.push_bearer()}"
    for path in ("/api/chat", "/internal/push"):
        assert post(live.url, path, raw, {"Content-Type": "application/json", "Authorization": push_auth}) < 500


@FUZZ
@given(event=zalo_events)
def test_forged_zalo_never_forwarded(live, event):
    before = len(live.rasa.calls)
    event["timestamp"] = str(int(time.time() * 1000))
    raw = json.dumps(event).encode()
    sig = "mac=" + compute_signature(ZALO_APP_ID, raw + b" ", event["timestamp"], ZALO_OA_KEY)
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": sig}
    assert post(live.url, "/zalo/webhook", raw, headers) in (400, 401)
    assert len(live.rasa.calls) == before
