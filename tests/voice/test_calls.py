"""Calls placed by a small SIP/RTP client of our own: timing, keypad, prompts, errors."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Sample, VoiceRig
from fakes import FEE, MENU_BUTTONS, STATUS
from sipclient import TestPhone

from connectors.voice.sip import SipMessage


async def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` holds."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def connected(rig: VoiceRig, codecs: str = "0 8 101") -> TestPhone:
    """A phone with an established call."""
    phone = TestPhone(rig.gateway.local_port)
    await phone.open()
    phone.invite(codecs)
    final = await phone.final()
    assert final.status == 200, final.status
    return phone


async def test_options_keepalive_and_unknown_dialog(make_rig) -> None:
    """OPTIONS gets 200 with Allow; BYE for an unknown call gets 481."""
    rig = await make_rig()
    phone = TestPhone(rig.gateway.local_port)
    await phone.open()
    try:
        phone.send(phone.request("OPTIONS").to_bytes())
        ok = await phone.final("OPTIONS")
        assert ok.status == 200 and "INVITE" in ok.get("Allow")
        phone.send(phone.request("BYE").to_bytes())
        assert (await phone.final("BYE")).status == 481
    finally:
        await phone.close()


async def test_unsupported_codec_and_busy(make_rig) -> None:
    """Only G.729 offered → 488; more calls than VOICE_MAX_CALLS → 486."""
    rig = await make_rig(max_calls=1, greeting_payload="")
    g729 = TestPhone(rig.gateway.local_port)
    await g729.open()
    first = second = None
    try:
        g729.invite("18")
        assert (await g729.final()).status == 488
        first = await connected(rig)
        second = TestPhone(rig.gateway.local_port)
        await second.open()
        second.invite()
        assert (await second.final()).status == 486
    finally:
        for phone in (g729, first, second):
            if phone is not None:
                await phone.close()


async def test_cancel_before_answer(make_rig) -> None:
    """CANCEL while ringing: 200 for the CANCEL, 487 for the INVITE, no call left."""
    rig = await make_rig(answer_delay_s=1.0)
    phone = TestPhone(rig.gateway.local_port)
    await phone.open()
    try:
        phone.invite()
        await wait_for(lambda: any(r.status == 180 for r in phone.responses), 5, "180 Ringing")
        phone.send(phone.request("CANCEL", cseq=1).to_bytes())
        assert (await phone.final("CANCEL")).status == 200
        assert (await phone.final("INVITE")).status == 487
        await asyncio.sleep(1.2)
        assert not rig.gateway.records  # never answered
    finally:
        await phone.close()


async def test_silence_reprompt_then_goodbye_and_bye(make_rig) -> None:
    """Nothing said: one re-prompt, then goodbye, then the gateway hangs up with BYE."""
    rig = await make_rig(silence_s=1.0, max_reprompts=1, greeting_payload="")
    phone = await connected(rig)
    try:
        bye = await phone.wait_request("BYE", 30)
        assert bye.call_id == phone.call_id
        record = rig.gateway.records[0]
        assert record.reprompts == 1 and record.end_reason == "silence"
        sources = [t.source for t in record.turns]
        assert sources == ["greeting", "reprompt", "goodbye"]
        assert phone.heard_audio().std() > 100  # the prompts were audible
        await wait_for(lambda: not rig.gateway.dialogs, 5, "dialog removed")
    finally:
        await phone.close()


async def test_max_call_length(make_rig) -> None:
    """A call longer than VOICE_MAX_CALL_S is closed politely."""
    rig = await make_rig(max_call_s=1.0, silence_s=60.0, greeting_payload="")
    phone = await connected(rig)
    try:
        await phone.wait_request("BYE", 30)
        assert rig.gateway.records[0].end_reason == "max call length"
    finally:
        await phone.close()


async def test_barge_in_stops_the_greeting(make_rig, samples: list[Sample]) -> None:
    """Speaking over the greeting stops it; the question still reaches the bot."""
    rig = await make_rig()
    phone = await connected(rig)
    try:
        await wait_for(lambda: rig.gateway.records and rig.gateway.records[0].tx_packets > 10, 5, "media")
        await asyncio.sleep(0.5)
        call = rig.gateway.dialogs[phone.call_id].call
        assert call is not None and call.playout  # greeting still playing
        await phone.speak(samples[0].pcm, tail_s=1.5)
        record = rig.gateway.records[0]
        assert record.barge_ins >= 1
        await wait_for(lambda: len(rig.rasa.received) >= 2, 20, "question at Rasa")
        assert rig.rasa.received[1]["message"] != "/greet"
    finally:
        await phone.close()


async def test_keypad_buttons_and_verification_digits(make_rig) -> None:
    """Buttons are read as 'bấm phím …'; key 1 picks the first; 4 digits + # are sent as text."""
    rig = await make_rig(greeting_payload="/menu", dtmf_button_wait_s=0.5)
    phone = await connected(rig)
    try:
        await wait_for(lambda: rig.gateway.records and rig.gateway.records[0].turns, 5, "greeting turn")
        record = rig.gateway.records[0]
        await wait_for(lambda: record.turns[0].spoken, 5, "menu spoken")
        assert "Bấm phím một để chọn Lệ phí." in record.turns[0].spoken[0]
        assert "Bấm phím hai để chọn Hồ sơ cần nộp." in record.turns[0].spoken[0]
        await phone.keys("1")
        await wait_for(lambda: len(rig.rasa.received) >= 2, 10, "button payload")
        assert rig.rasa.received[1]["message"] == MENU_BUTTONS[0]["payload"]
        await wait_for(lambda: len(record.turns) >= 2 and record.turns[1].replies == [FEE], 10, "fee reply")
        await phone.keys("6789#")
        await wait_for(lambda: len(rig.rasa.received) >= 3, 10, "digits")
        assert rig.rasa.received[2]["message"] == "6789"
        await wait_for(lambda: len(record.turns) >= 3 and record.turns[2].spoken, 10, "status spoken")
        assert record.turns[2].replies == [STATUS]
        spoken = record.turns[2].spoken[0]
        assert "hát năm bảy, gạch ngang" in spoken and "ngày mười lăm tháng mười hai" in spoken
        assert "https" not in spoken and "😊" not in spoken
        assert record.dtmf == "16789#"
    finally:
        await phone.close()


async def test_sip_info_dtmf_and_caller_bye(make_rig) -> None:
    """DTMF by SIP INFO works too; the caller's BYE ends the call with 200."""
    rig = await make_rig(greeting_payload="")
    phone = await connected(rig)
    try:
        for digit in "1234#":
            info = phone.request("INFO", f"Signal={digit}\r\nDuration=160\r\n".encode(), "application/dtmf-relay")
            phone.send(info.to_bytes())
            await asyncio.sleep(0.05)
        await wait_for(lambda: rig.rasa.received, 10, "digits via INFO")
        assert rig.rasa.received[0]["message"] == "1234"
        phone.send(phone.request("BYE").to_bytes())
        assert (await phone.final("BYE")).status == 200
        await wait_for(lambda: not rig.gateway.dialogs, 5, "dialog removed")
        assert rig.gateway.records[0].end_reason == "caller hung up"
    finally:
        await phone.close()


async def test_rasa_down_plays_busy_message(make_rig) -> None:
    """Rasa unreachable: the caller hears a fallback, nothing crashes."""
    rig = await make_rig(rasa_url="http://127.0.0.1:9")
    rig.gateway.rasa.url = "http://127.0.0.1:9"
    phone = await connected(rig)
    try:
        record = rig.gateway.records[0]
        await wait_for(lambda: record.turns and record.turns[0].spoken, 10, "fallback greeting")
        assert "tổng đài" in record.turns[0].spoken[0]
        assert rig.gateway.stats["errors"] == 0
    finally:
        await phone.close()


@pytest.mark.parametrize(
    "garbage", [b"\x80\x00", b"\x00" * 11, b"\x90\x00\x00\x01" + b"\x00" * 8, b"\xa0" + b"\x00" * 11]
)
async def test_bad_rtp_is_ignored(make_rig, garbage: bytes) -> None:
    """Malformed RTP is counted and dropped; the call goes on."""
    rig = await make_rig(greeting_payload="")
    phone = await connected(rig)
    try:
        await wait_for(lambda: rig.gateway.records[0].tx_packets > 0, 5, "media")
        phone.send_rtp_raw(garbage)
        await wait_for(lambda: rig.gateway.records[0].rx_bad >= 1, 5, "bad packet counted")
        phone.send(phone.request("OPTIONS").to_bytes())
        assert (await phone.final("OPTIONS")).status == 200
        assert rig.gateway.active_calls() == 1
    finally:
        await phone.close()


def test_message_roundtrip() -> None:
    """A parsed message serialises back with a correct Content-Length."""
    raw = (b"INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\n"
           b"i: abc\r\nCSeq: 1 INVITE\r\nl: 3\r\n\r\nabcdef")
    msg = SipMessage.parse(raw)
    assert msg.call_id == "abc" and msg.body == b"abc" and msg.cseq == (1, "INVITE")
    again = SipMessage.parse(msg.to_bytes())
    assert again.headers[:5] == msg.headers[:5] and again.body == b"abc"
