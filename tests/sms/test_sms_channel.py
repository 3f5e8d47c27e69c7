# mypy: allow-untyped-defs
"""The SMS webhook's guards: secret and source address, bounded input, daily limit, no phone numbers in logs."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

from kannel_harness import SECRET
from sms_fakes import SmsRasa, sms_settings

from common.messages import PUSH_SENDER_RE
from connectors.app import create_app
from connectors.channels.sms import SmsChannel
from connectors.gateway import GATEWAY_KEY

PHONE = "0987000111"


async def gateway(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any, domain: dict[str, Any], **over: Any):
    rasa = SmsRasa(domain)
    server = await aiohttp_server(rasa.app())
    settings = sms_settings(tmp_path, str(server.make_url("")).rstrip("/"),
                            sms_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms", **over)
    client = await aiohttp_client(create_app(settings))
    return rasa, client


async def handled(client: Any) -> None:
    """Wait until every accepted MO has left the inbox and the sender queues."""
    gw = client.server.app[GATEWAY_KEY]
    for _ in range(500):
        await gw.queues.drain()
        if await gw.store.inbox_count() == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("MOs still in the inbox")


def mo(text: str, **over: str) -> dict[str, str]:
    return {"secret": SECRET, "from": PHONE, "to": "8088", "text": text, **over}


async def test_wrong_secret_or_source_refused(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any,
                                              domain: dict[str, Any]) -> None:
    rasa, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain)
    assert (await client.get("/sms/kannel/mo", params=mo("hi", secret="wrong"))).status == 403
    no_secret = {k: v for k, v in mo("hi").items() if k != "secret"}
    assert (await client.get("/sms/kannel/mo", params=no_secret)).status == 403
    assert (await client.get("/sms/kannel/dlr", params={"secret": "x", "ref": "r", "status": "1"})).status == 403
    rasa2, other = await gateway(tmp_path / "b", aiohttp_server, aiohttp_client, domain, sms_allowed_ips="10.1.2.3")
    assert (await other.get("/sms/kannel/mo", params=mo("hi"))).status == 403
    assert rasa.calls == [] and rasa2.calls == []


async def test_bad_number_and_oversized_body_rejected(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any,
                                                      domain: dict[str, Any]) -> None:
    _, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain)
    assert (await client.get("/sms/kannel/mo", params=mo("hi", **{"from": "abc"}))).status == 400
    resp = await client.post("/sms/kannel/mo", params={"secret": SECRET, "from": PHONE}, data=b"x" * 20000)
    assert resp.status == 400


async def test_sender_is_a_keyed_hash_and_the_number_stays_out_of_logs(
    tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any, domain: dict[str, Any], caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    rasa, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain)
    assert (await client.get("/sms/kannel/mo", params=mo("TT giay khai sinh"))).status == 200
    channel = client.server.app[GATEWAY_KEY].channels["sms"]
    assert isinstance(channel, SmsChannel)
    for _ in range(200):
        if rasa.calls:
            break
        await handled(client)
    sender = rasa.calls[0]["sender"]
    assert PUSH_SENDER_RE.match(sender) and sender == f"sms:{channel.number_hash(PHONE)}"
    # aiohttp's access log is off in the real gateway (python -m connectors runs with access_log=None)
    logged = " ".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert PHONE[1:] not in logged and SECRET not in logged and PHONE[1:] not in str(rasa.calls)
    assert PHONE[1:] not in (tmp_path / "gateway.sqlite3").read_bytes().decode("latin-1")
    assert (tmp_path / "sms.sqlite3").stat().st_mode & 0o077 == 0  # the one file holding numbers is private


async def test_daily_limit_stops_answering(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any,
                                           domain: dict[str, Any]) -> None:
    rasa, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain, sms_daily_max_in=2)
    for i in range(4):
        resp = await client.get("/sms/kannel/mo", params=mo(f"cau hoi so {i}"))
        assert resp.status == 200
    await handled(client)
    assert len(rasa.calls) == 2


async def test_empty_mo_is_not_sent_to_rasa(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any,
                                            domain: dict[str, Any]) -> None:
    rasa, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain)
    assert (await client.get("/sms/kannel/mo", params=mo("   "))).status == 200
    assert (await client.get("/sms/kannel/mo", params=mo("\x00"))).status == 200
    await handled(client)
    assert rasa.calls == []


async def test_mo_is_in_the_inbox_before_kannel_gets_its_200(tmp_path: Path, aiohttp_server: Any,
                                                               aiohttp_client: Any, domain: dict[str, Any]) -> None:
    """A gateway killed while Rasa thinks loses no MO; the stored event holds the number's hash, not the number."""
    rasa, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain)
    rasa.delay = 0.5
    assert (await client.get("/sms/kannel/mo", params=mo("lam ho chieu", id="k-1"))).status == 200
    with sqlite3.connect(tmp_path / "gateway.sqlite3") as db:
        stored = [row[0] for row in db.execute("SELECT event FROM inbox WHERE channel = 'sms'")]
    assert len(stored) == 1 and "lam ho chieu" in stored[0]
    assert PHONE not in stored[0] and PHONE[1:] not in stored[0]
    await handled(client)
    assert rasa.texts() == ["lam ho chieu"]


async def test_mo_a_dead_replica_accepted_is_answered(tmp_path: Path, aiohttp_server: Any, aiohttp_client: Any,
                                                      domain: dict[str, Any]) -> None:
    """Another gateway stored the MO and died: this one answers it once its claim runs out."""
    from connectors.store import Store

    rasa, client = await gateway(tmp_path, aiohttp_server, aiohttp_client, domain, lease_s=1.0)
    channel = client.server.app[GATEWAY_KEY].channels["sms"]
    number_hash = channel.number_hash(PHONE)
    await channel.state.remember_number(number_hash, PHONE)
    dead = Store(tmp_path / "gateway.sqlite3", lease_s=0.01)
    await dead.open()
    assert await dead.accept("sms", "k-2", number_hash, {"number_hash": number_hash, "text": "TT ho chieu"})
    await dead.close()
    for _ in range(300):
        if rasa.calls:
            break
        await asyncio.sleep(0.02)
    await handled(client)
    assert rasa.texts() == ["ho chieu"]
