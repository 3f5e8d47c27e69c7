"""Drive Debian's baresip (a real SIP user agent) from tests: dial, send DTMF, hang up, record audio.

baresip plays a WAV as its microphone (``aufile``), dumps what it hears to WAV (``sndfile``) and is
controlled over ``ctrl_tcp`` (netstring-framed JSON commands and events).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from connectors.voice.audio import read_wav

BARESIP = shutil.which("baresip")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free 127.0.0.1 port."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindable(port: int, kind: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_sip_port() -> int:
    """A port baresip can take for SIP: free for UDP and TCP, and the next one free for its TLS transport."""
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM)
        if port < 65535 and _bindable(port, socket.SOCK_STREAM) and _bindable(port + 1, socket.SOCK_STREAM):
            return port
    raise RuntimeError("no free SIP port pair on 127.0.0.1")


class Baresip:
    """One baresip process with its own config directory, ports and recordings."""

    def __init__(self, workdir: Path, source_wav: Path, codec: str = "PCMU", user: str = "caller") -> None:
        """Write the configuration."""
        self.dir = workdir
        self.rec = workdir / "rec"
        self.rec.mkdir(parents=True, exist_ok=True)
        self.sip_port, self.ctrl_port = free_sip_port(), free_port()
        rtp = 20000 + (self.sip_port % 2000) * 10
        (workdir / "config").write_text(
            "\n".join([
                "poll_method epoll", f"sip_listen 127.0.0.1:{self.sip_port}",
                "audio_player alsa,null", f"audio_source aufile,{source_wav}", "audio_alert alsa,null",
                "ausrc_srate 8000", "auplay_srate 8000", "ausrc_channels 1", "auplay_channels 1",
                f"rtp_ports {rtp}-{rtp + 8}", "module_path /usr/lib/baresip/modules",
                "module g711.so", "module aufile.so", "module alsa.so", "module sndfile.so", f"snd_path {self.rec}",
                "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
                f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}", "",
            ])
        )
        (workdir / "accounts").write_text(f"<sip:{user}@127.0.0.1>;regint=0;audio_codecs={codec}\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.events: list[dict[str, Any]] = []
        self.pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start baresip and connect to its control socket."""
        assert BARESIP, "baresip is not installed (apt-get install baresip)"
        self.log = (self.dir / "baresip.log").open("wb")
        self.proc = subprocess.Popen([BARESIP, "-f", str(self.dir)], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("baresip control socket did not open: " + self.logtext())
        self.pump = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        """Read netstrings from the control socket into ``events``."""
        assert self.reader is not None
        while True:
            length = await self.reader.readuntil(b":")
            data = await self.reader.readexactly(int(length[:-1]))
            await self.reader.readexactly(1)  # trailing comma
            try:
                self.events.append(json.loads(data))
            except ValueError:
                continue

    async def command(self, command: str, params: str = "") -> None:
        """Send a ctrl_tcp command."""
        assert self.writer is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.writer.write(str(len(body)).encode() + b":" + body + b",")
        await self.writer.drain()

    async def wait_event(self, kind: str, timeout: float = 45.0) -> dict[str, Any]:
        """Wait for an event type (e.g. CALL_ESTABLISHED, CALL_CLOSED)."""
        for _ in range(int(timeout / 0.05)):
            for event in self.events:
                if event.get("type") == kind:
                    return event
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind} from baresip; events {self.events}; log:\n{self.logtext()}")

    def logtext(self) -> str:
        """Baresip's output so far."""
        path = self.dir / "baresip.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def heard(self) -> np.ndarray:
        """What baresip received and decoded (its sndfile ``-dec.wav`` dump), 8 kHz int16."""
        files = sorted(self.rec.glob("*-dec.wav"))
        assert files, "baresip recorded nothing"
        return read_wav(files[-1].read_bytes())

    async def stop(self) -> None:
        """Quit baresip (terminate it if it does not exit)."""
        if self.pump is not None:
            self.pump.cancel()
        if self.writer is not None:
            self.writer.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
