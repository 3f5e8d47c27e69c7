# mypy: allow-untyped-defs
"""Telegram channel against a fake Bot API: secret, dedupe, callbacks, splitting, retries."""

from __future__ import annotations

import json

from connectors_fakes import TG_SECRET, tg_callback_update, tg_text_update, wait_until

from common.messages import EXPIRED_BUTTON_TEXT, VOICE_TEXT, utf16_len
from connectors.channels.telegram import _cli, map_command


async def test_text_message_forwarded_and_answered_with_keyboard(stack):
    resp = await stack.tg_update(tg_text_update(1, 555, "làm giấy khai sinh cần gì"))
    assert resp.status == 200
    await wait_until(lambda: len(stack.tg.sent()) == 1)
    call = stack.rasa.calls[0]
    assert call["sender"] == "tg:555" and call["metadata"] == {"channel": "telegram", "inbox": "telegram:1"}
    sent = stack.tg.sent()[0]
    assert sent["chat_id"] == "555" and sent["text"] == "Bạn nói: làm giấy khai sinh cần gì"
    keyboard = json.loads(sent["reply_markup"])["inline_keyboard"]
    data = keyboard[0][0]["callback_data"]
    assert keyboard[0][0]["text"] == "Hỏi thủ tục"
    assert len(data.encode()) <= 64 and "procedure_code" not in data


async def test_start_is_forwarded_as_greeting(stack):
    await stack.tg_update(tg_text_update(2, 556, "/start"))
    await wait_until(lambda: len(stack.tg.sent()) == 1)
    assert stack.rasa.texts() == ["/greet"]
    assert map_command("/start@tthc_bot ref123") == "/greet"
    assert map_command("xin chào") == "xin chào"


async def test_wrong_or_missing_secret_is_403_and_not_forwarded(stack):
    update = tg_text_update(3, 557, "xin chào")
    assert (await stack.tg_update(update, secret=None)).status == 403
    assert (await stack.tg_update(update, secret="wrong")).status == 403
    assert (await stack.tg_update(update, secret=TG_SECRET + "x")).status == 403
    assert stack.rasa.calls == []
    # The rejected update was not marked seen: the genuine delivery still goes through.
    assert (await stack.tg_update(update)).status == 200
    await wait_until(lambda: len(stack.tg.sent()) == 1)


async def test_duplicate_update_answered_once_even_after_restart(make_stack):
    s1 = await make_stack()
    update = tg_text_update(10, 600, "xin chào")
    assert (await s1.tg_update(update)).status == 200
    assert (await s1.tg_update(update)).status == 200
    await wait_until(lambda: len(s1.tg.sent()) == 1)
    await s1.client.close()
    s2 = await make_stack()
    assert (await s2.tg_update(update)).status == 200
    await s2.tg_update(tg_text_update(11, 600, "lần hai"))
    await wait_until(lambda: len(s2.tg.sent()) == 2)
    assert s2.rasa.texts() == ["xin chào", "lần hai"]


async def test_callback_query_answered_and_mapped_to_full_payload(stack):
    await stack.tg_update(tg_text_update(20, 700, "xin chào"))
    await wait_until(lambda: len(stack.tg.sent()) == 1)
    data = json.loads(stack.tg.sent()[0]["reply_markup"])["inline_keyboard"][0][0]["callback_data"]
    await stack.tg_update(tg_callback_update(21, 700, data))
    await wait_until(lambda: len(stack.tg.sent()) == 2)
    answered = [d for n, d in stack.tg.calls if n == "answerCallbackQuery"]
    assert answered and answered[0]["callback_query_id"] == "cb21"
    assert stack.rasa.texts()[-1] == '/ask_procedure{"procedure_code":"1.001193"}'


async def test_unknown_callback_gets_polite_message(stack):
    await stack.tg_update(tg_callback_update(30, 701, "bUNKNOWN"))
    await wait_until(lambda: len(stack.tg.sent()) == 1)
    assert stack.tg.sent()[0]["text"] == EXPIRED_BUTTON_TEXT
    assert stack.rasa.calls == []


async def test_voice_note_gets_text_please(stack):
    update = tg_text_update(40, 702, "x")
    del update["message"]["text"]
    update["message"]["voice"] = {"file_id": "AwAD", "file_unique_id": "u1", "duration": 3}
    assert (await stack.tg_update(update)).status == 200
    await wait_until(lambda: len(stack.tg.sent()) == 1)
    assert stack.tg.sent()[0]["text"] == VOICE_TEXT
    assert stack.rasa.calls == []


async def test_long_reply_split_under_limit(stack):
    await stack.tg_update(tg_text_update(50, 703, "long"))
    expected = "\n\n".join(f"Đoạn {i}: " + "thủ tục hành chính " * 40 for i in range(12))
    words = len(expected.split())
    await wait_until(lambda: len(" ".join(d["text"] for d in stack.tg.sent()).split()) >= words)
    texts = [d["text"] for d in stack.tg.sent()]
    assert len(texts) >= 2
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert all(t.startswith("Đoạn ") for t in texts)  # cut at paragraph boundaries
    assert " ".join(texts).split() == expected.split()  # nothing lost or duplicated


async def test_lenient_parsing_old_sample_is_400_not_500(stack):
    old_sample = {"update_id": 60, "message": {"message_id": 1, "date": 0, "text": "hi",
                                                "from": {"id": 1, "first_name": "A"},
                                                "chat": {"id": 1, "type": "private"}}}
    resp = await stack.tg_update(old_sample)
    assert 400 <= resp.status < 500
    for bad in ({}, {"update_id": "x"}, {"update_id": True}, {"update_id": 61, "message": "str"},
                {"update_id": 62, "callback_query": {"id": 1}}):
        r = await stack.tg_update(bad)
        assert 400 <= r.status < 500 or r.status == 200, (bad, r.status)
        assert r.status != 500
    assert stack.rasa.calls == []


async def test_other_update_kinds_are_acknowledged(stack):
    r = await stack.tg_update({"update_id": 70, "my_chat_member": {"bogus": True}})
    assert r.status in (200, 400)


async def test_send_failure_retried_until_delivered(stack):
    stack.tg.fail_sends = 2
    await stack.tg_update(tg_text_update(80, 704, "xin chào"))
    await wait_until(lambda: len(stack.tg.sent()) == 1)
    assert stack.tg.fail_sends == 0


async def test_per_chat_ordering(stack):
    await stack.tg_update(tg_text_update(90, 705, "slow:một"))
    await stack.tg_update(tg_text_update(91, 705, "hai"))
    await stack.tg_update(tg_text_update(92, 706, "khác"))
    await wait_until(lambda: len(stack.tg.sent()) == 3)
    mine = [d["text"] for d in stack.tg.sent() if d["chat_id"] == "705"]
    assert mine == ["Bạn nói: slow:một", "Bạn nói: hai"]
    assert stack.tg.sent()[0]["chat_id"] == "706"


async def test_set_webhook_cli_registers_secret(stack, monkeypatch, capsys):
    monkeypatch.setenv("TELEGRAM_TOKEN", stack.settings.telegram_token)
    monkeypatch.setenv("TELEGRAM_SECRET", TG_SECRET)
    monkeypatch.setenv("TELEGRAM_API_URL", stack.settings.telegram_api_url)
    assert await _cli(["set-webhook", "https://tthc.example.vn/telegram/webhook"]) == 0
    calls = [d for n, d in stack.tg.calls if n == "setWebhook"]
    assert calls[0]["url"] == "https://tthc.example.vn/telegram/webhook"
    assert calls[0]["secret_token"] == TG_SECRET
    assert json.loads(calls[0]["allowed_updates"]) == ["message", "callback_query"]
    assert await _cli(["set-webhook", "http://insecure"]) == 2
    assert await _cli([]) == 2
