# mypy: allow-untyped-defs
"""Real Kannel (bearerbox + smsbox) on free loopback ports, configs in tmp_path, and a fake SMSC client.

The fake SMSC is a small Python client of Kannel's own ``smsc = fake`` line protocol (the one
``fakesmsc`` from kannel-extras speaks): ``<from> <to> text|data <msg>`` lines both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
SECRET = "sms-Secret_42"
USER, PASSWORD = "tthc", "sendsms-pw"
SHORT_CODE = "8088"


def kannel_available() -> bool:
    """Whether Debian's kannel binaries are installed."""
    return Path(BEARERBOX).exists() and Path(SMSBOX).exists()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Kannel:
    """bearerbox + smsbox processes and their ports."""

    tmp: Path
    gateway_port: int
    admin_port: int = field(default_factory=free_port)
    smsbox_port: int = field(default_factory=free_port)
    smsc_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def write_config(self) -> Path:
        get_url = (f"http://127.0.0.1:{self.gateway_port}/sms/kannel/mo?secret={SECRET}"
                   "&from=%p&to=%P&text=%a&coding=%c&charset=%C&id=%I")
        conf = f"""
group = core
admin-port = {self.admin_port}
admin-password = admin-pw
admin-interface = 127.0.0.1
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{self.tmp}/bearerbox.log"
log-level = 0
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{self.tmp}/smsbox.log"
log-level = 0

group = sendsms-user
username = {USER}
password = {PASSWORD}
max-messages = 1

group = sms-service
keyword = default
catch-all = true
max-messages = 0
concatenation = true
get-url = "{get_url}"
"""
        path = self.tmp / "kannel.conf"
        path.write_text(conf)
        return path

    def start_bearerbox(self) -> None:
        conf = self.write_config()
        self.procs["bearerbox"] = subprocess.Popen([BEARERBOX, str(conf)], stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL)
        wait_port(self.smsbox_port)

    def start_smsbox(self) -> None:
        self.procs["smsbox"] = subprocess.Popen([SMSBOX, str(self.tmp / "kannel.conf")], stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
        wait_port(self.sendsms_port)

    def status(self) -> str:
        """The plain-text status page of bearerbox ('' while it does not answer)."""
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password=admin-pw"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode("utf-8", "replace"))
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until smsbox is connected to bearerbox and the fake SMSC link is online.

        smsbox opens its sendsms port about a second before it connects to bearerbox; an MO sent in
        that second waits in bearerbox's queue, which a loaded machine can stretch past a test's wait.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.status()
            boxes = page.partition("Box connections:")[2].partition("SMSC connections:")[0]
            smscs = page.partition("SMSC connections:")[2]
            if "smsbox:" in boxes and "on-line" in boxes and "(online" in smscs:
                return
            time.sleep(0.05)
        raise AssertionError(f"Kannel not ready after {timeout:.0f} s:\n{self.status()}\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of bearerbox's and smsbox's logs (for a failing test's message)."""
        out = []
        for name in ("bearerbox", "smsbox"):
            path = self.tmp / f"{name}.log"
            text = path.read_text("utf-8", "replace").splitlines()[-lines:] if path.exists() else []
            out.append(f"--- {name}.log\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self, name: str, graceful: bool = True) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if not graceful:
            proc.kill()
            proc.wait(timeout=5)
            return
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        """End the test's Kannel at once (nothing in it needs to survive the test)."""
        for name in ("smsbox", "bearerbox"):
            self.stop(name, graceful=False)


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Block until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


class FakeSmsc:
    """A phone network on Kannel's fake-SMSC protocol: sends MO lines, collects MT lines."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mt: list[tuple[str, str, bytes]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            line = await self._reader.readline()
            if not line:
                return
            fields = line.decode("latin-1").rstrip("\n").split(" ", 3)
            if self.mt and (len(fields) != 4 or fields[2] not in ("text", "data", "ucs-2", "ucs2")):
                # Kannel 1.4.5 writes a "text" message holding a newline as is: the next line continues it.
                sender, receiver, raw = self.mt.pop()
                self.mt.append((sender, receiver, raw + b"\n" + line.rstrip(b"\n")))
                continue
            sender, receiver, kind, data = fields
            # Kannel URL-encodes data and UCS-2 lines with '+' for a space byte.
            encoded = kind in ("data", "ucs-2", "ucs2")
            raw = urllib.parse.unquote_to_bytes(data.replace("+", "%20")) if encoded else data.encode("latin-1")
            self.mt.append((sender, receiver, raw))

    async def send_mo(self, number: str, text: str) -> None:
        """One MO from ``number`` to the short code (UTF-8, URL-encoded like fakesmsc's ``data`` type)."""
        assert self._writer is not None
        data = urllib.parse.quote(text.encode("utf-8"), safe="")
        self._writer.write(f"{number} {SHORT_CODE} data {data}\n".encode("ascii"))
        await self._writer.drain()

    def to(self, number: str, encoding: str = "utf-8") -> list[str]:
        """Texts received by ``number`` (GSM texts arrive as Latin-1/ASCII, UCS-2 as UTF-16BE bytes)."""
        return [raw.decode(encoding, "replace") for _, receiver, raw in self.mt if receiver == number]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
