"""``python -m connectors.voice``: run the voice gateway (SIP on UDP, /health on HTTP)."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from common.rasa import RasaClient
from common.settings import load_or_exit, use_settings
from connectors.voice.asr import BASE_PHRASES, load_asr
from connectors.voice.call import PROMPTS
from connectors.voice.catalogue import ProcedureMatcher, load_procedures
from connectors.voice.config import VoiceSettings
from connectors.voice.gateway import VoiceGateway
from connectors.voice.menu import FIXED
from connectors.voice.normalize import render_for_speech
from connectors.voice.tts import load_tts

log = logging.getLogger("connectors.voice")


def health_app(gateway: VoiceGateway) -> web.Application:
    """A tiny HTTP app: GET /health for scripts/run.sh and monitoring."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "active_calls": gateway.active_calls(), **gateway.stats})

    app = web.Application()
    app.router.add_get("/health", health)
    return app


async def serve(settings: VoiceSettings) -> None:
    """Load the engines once, start SIP and HTTP, run until SIGINT/SIGTERM."""
    from knowledge.config import KnowledgeSettings

    procedures = await asyncio.to_thread(load_procedures, KnowledgeSettings.from_env().catalogue_db_url)
    matcher = ProcedureMatcher(procedures) if procedures and settings.menu else None
    phrases = matcher.phrases() if matcher is not None else list(BASE_PHRASES)
    asr = await asyncio.to_thread(load_asr, settings, phrases)
    voice = load_tts(settings)
    await voice.warm([*PROMPTS.values(), *(render_for_speech(t) for t in FIXED)])
    rasa = RasaClient(settings.rasa_url, settings.rasa_timeout)
    await rasa.start()
    gateway = VoiceGateway(settings, asr, voice, rasa, matcher=matcher)
    await gateway.start()
    runner = web.AppRunner(health_app(gateway))
    await runner.setup()
    await web.TCPSite(runner, settings.sip_host, settings.http_port).start()
    log.info("voice gateway ready: sip udp:%s:%d, health http://%s:%d/health, ASR %s, TTS %s",
             settings.sip_host, gateway.local_port, settings.sip_host, settings.http_port, settings.asr_engine,
             settings.tts_engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await gateway.stop()
    await runner.cleanup()
    await rasa.close()


def main() -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_or_exit(VoiceSettings.from_env)
    use_settings(settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
