# mypy: allow-untyped-defs
"""Tables for splitting, button mapping, event parsing and log masking."""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime

import pytest

from common.messages import BotMessage, Button, parse_message, replies_to, split_text, truncate, utf16_len
from connectors.channels.zalo import VN_TZ, parse_event, seconds_until_morning
from connectors.gateway import GATEWAY_KEY
from connectors.logs import PiiMaskingFormatter
from connectors.store import callback_id

SPLIT_CASES = [
    ("", 10, []),
    ("ngắn", 10, ["ngắn"]),
    ("một hai ba bốn", 8, ["một hai", "ba bốn"]),
    ("đoạn một.\n\nđoạn hai.", 15, ["đoạn một.", "đoạn hai."]),
    ("dòng 1\ndòng 2\ndòng 3", 13, ["dòng 1\ndòng 2", "dòng 3"]),
    ("Câu một. Câu hai dài hơn.", 12, ["Câu một.", "Câu hai dài", "hơn."]),
    ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
]


@pytest.mark.parametrize(("text", "limit", "expected"), SPLIT_CASES)
def test_split_table(text, limit, expected):
    assert split_text(text, limit) == expected


def test_split_never_breaks_combining_sequences():
    decomposed = unicodedata.normalize("NFD", "Thủ tục hành chính " * 30)
    for chunk in split_text(decomposed.replace(" ", ""), 7):
        assert len(chunk) <= 7
        assert not unicodedata.combining(chunk[0])


def test_split_counts_utf16_for_emoji():
    text = "😀" * 3000
    chunks = split_text(text, 4096, utf16_len)
    assert all(utf16_len(c) <= 4096 for c in chunks)
    assert "".join(chunks) == text


def test_truncate():
    assert truncate("abc", 5) == "abc"
    assert truncate("a" * 120, 100) == "a" * 99 + "…"


PARSE_CASES = [
    ({"text": "x"}, BotMessage("x")),
    ({"text": "x", "buttons": [{"title": "T", "payload": "/p"}]}, BotMessage("x", (Button("T", "/p"),))),
    ({"buttons": [{"title": "T"}]}, BotMessage("", (Button("T", "T"),))),
    ({"image": "https://example.org/a.png"}, BotMessage("", (), "https://example.org/a.png")),
    ({"image": "javascript:alert(1)"}, None),
    ({"custom": {"a": 1}}, None),
    ("text", None),
    ({"text": 5, "buttons": "x"}, None),
]


@pytest.mark.parametrize(("raw", "expected"), PARSE_CASES)
def test_parse_rasa_message(raw, expected):
    assert parse_message(raw) == expected


async def test_telegram_button_mapping_table(stack):
    tg = stack.app[GATEWAY_KEY].channels["tg"]
    payload = '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}'
    calls = await tg.render("1", BotMessage("Chọn:", (Button("Lệ phí " * 20, payload), Button("B", "/b"))))
    assert len(calls) == 1
    keyboard = calls[0]["keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [callback_id(payload), callback_id("/b")]
    assert len(keyboard[0][0]["text"]) <= 64
    store = stack.app[GATEWAY_KEY].store
    assert (await store.get_callback(callback_id(payload)))[0] == payload
    only_buttons = await tg.render("1", BotMessage("", (Button("A", "/a"),)))
    assert only_buttons[0]["text"] and only_buttons[0]["keyboard"]
    photo = await tg.render("1", BotMessage("x", (), "https://example.org/a.png"))
    assert photo[0] == {"method": "photo", "photo": "https://example.org/a.png"}


async def test_zalo_button_mapping_table(stack):
    zalo = stack.app[GATEWAY_KEY].channels["zalo"]
    buttons = (
        *(Button(f"Nút {i} " + "x" * 120, f"/intent_{i}") for i in range(6)),
        Button("Cổng DVC", "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html"),
    )
    calls = await zalo.render("u1", BotMessage("a" * 2500, buttons))
    texts = [c["message"]["text"] for c in calls]
    assert len(texts[0]) <= 2000 and len(texts[1]) <= 2000
    first = calls[1]["message"]["attachment"]["payload"]["buttons"]
    second = calls[2]["message"]["attachment"]["payload"]["buttons"]
    assert len(first) == 5 and len(second) == 2
    assert all(len(b["title"]) <= 100 for b in first + second)
    assert first[0]["type"] == "oa.query.hide"
    assert first[0]["payload"] == "#tthc:" + callback_id("/intent_0")
    assert second[1]["type"] == "oa.open.url"
    assert "attachment" not in calls[0]["message"]


EVENT_CASES = [
    ({"event_name": "user_send_text", "sender": {"id": "1"}, "message": {"msg_id": "a", "text": "x"}},
     ("text", "1", "x", "a")),
    ({"event_name": "user_send_text", "sender": {"id": "1"}, "message": {"mid": "b", "text": "x"}},
     ("text", "1", "x", "b")),
    ({"event_name": "user_send_image", "sender": {"id": "1"}, "message": {"msg_id": "c"}},
     ("other_media", "1", "", "c")),
    ({"event_name": "oa_send_text", "sender": {"id": "oa"}}, ("ignore", "", "", "")),
    ({"event_name": "user_received_message"}, ("ignore", "", "", "")),
    ({"event_name": "follow", "follower": {"id": "9"}, "timestamp": "5"}, ("follow", "9", "", "follow:9:5")),
]


@pytest.mark.parametrize(("data", "expected"), EVENT_CASES)
def test_zalo_event_table(data, expected):
    ev = parse_event(data)
    assert (ev.kind, ev.user_id, ev.text, ev.dedupe_key) == expected


@pytest.mark.parametrize("data", [
    {}, {"event_name": 5}, {"event_name": "user_send_text", "sender": {}},
    {"event_name": "user_send_text", "sender": {"id": "1"}, "message": {"msg_id": "a"}},
    {"event_name": "follow", "follower": "x"}, {"event_name": "user_send_text", "sender": {"id": "a b"}},
])
def test_zalo_event_rejects(data):
    with pytest.raises(ValueError):
        parse_event(data)


def test_night_window_wait():
    assert seconds_until_morning(datetime(2025, 1, 1, 23, 0, tzinfo=VN_TZ)) == pytest.approx(7 * 3600 + 300)
    assert seconds_until_morning(datetime(2025, 1, 1, 5, 0, tzinfo=VN_TZ)) == pytest.approx(3900)


def test_logs_mask_pii():
    formatter = PiiMaskingFormatter("%(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user %s cccd %s", ("0912345678", "001099012345"), None)
    line = formatter.format(record)
    assert "0912345678" not in line and "001099012345" not in line and "78" in line


def test_answer_of_an_inbox_message_is_found_in_the_tracker() -> None:
    """A message Rasa answered before its gateway died: the answer is read back instead of asking twice."""
    events = [
        {"event": "user", "text": "xin chào", "metadata": {"inbox": "telegram:1"}},
        {"event": "bot", "text": "Chào anh/chị", "data": {}},
        {"event": "user", "text": "hộ chiếu", "metadata": {"inbox": "telegram:2"}},
        {"event": "action", "name": "action_search"},
        {"event": "bot", "text": "Cần tờ khai", "data": {"buttons": [{"title": "Xem", "payload": "/xem"}]}},
        {"event": "bot", "text": "Còn gì nữa không?"},
        {"event": "user", "text": "cảm ơn", "metadata": {"inbox": "telegram:3"}},
        {"event": "bot", "text": "Không có gì"},
    ]
    assert replies_to(events, "telegram:2") == [
        BotMessage("Cần tờ khai", (Button("Xem", "/xem"),)), BotMessage("Còn gì nữa không?")
    ]
    assert replies_to(events, "telegram:3") == [BotMessage("Không có gì")]
    assert replies_to(events, "telegram:4") is None  # never reached Rasa's tracker: ask again
    assert replies_to([{"event": "user", "metadata": {"inbox": "zalo:9"}}, "junk"], "zalo:9") == []
