"""Voice benchmarks → bench/results/voice.json.

- ASR: word error rate and real-time factor on the natural recordings (vieneu, Apache-2.0) at 8 kHz
  through G.711 µ-law, as on a phone line (and at 16 kHz for reference), per engine.
- Turn latency: caller's end of speech → first reply RTP packet, measured inside the gateway over real
  SIP/RTP on 127.0.0.1 (fake Rasa answering instantly, espeak-ng TTS), at 1, 2 and 4 concurrent calls.
- CPU seconds per call-minute (whole process) and the concurrency at which p95 latency stays under 3 s.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "voice"))

from common.rasa import RasaClient  # noqa: E402
from connectors.voice import audio  # noqa: E402
from connectors.voice.asr import ASR, load_asr  # noqa: E402
from connectors.voice.assets import assemble_whisper_base, extract_vieneu_samples  # noqa: E402
from connectors.voice.config import VoiceSettings  # noqa: E402
from connectors.voice.gateway import VoiceGateway  # noqa: E402
from connectors.voice.tts import load_tts  # noqa: E402

OUT = ROOT / "bench" / "results" / "voice.json"


def wer_counts(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance, reference length) over lower-case words."""
    import re

    r, h = re.findall(r"\w+", ref.lower()), re.findall(r"\w+", hyp.lower())
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
            prev, row[j] = row[j], cur
    return row[len(h)], len(r)


def load_samples(settings: VoiceSettings) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """(name, 8 kHz µ-law-degraded audio, 16 kHz audio, transcript) per recording."""
    if len(list(settings.samples_dir.glob("*.wav"))) < 6:
        extract_vieneu_samples(settings.samples_dir)
    out = []
    for wav in sorted(settings.samples_dir.glob("*.wav")):
        pcm8 = audio.read_wav(wav, 8000)
        out.append((wav.stem, audio.decode(audio.encode(pcm8, "PCMU"), "PCMU"), audio.read_wav(wav, 16000),
                    wav.with_suffix(".txt").read_text().strip()))
    return out


def bench_asr(asr: ASR, samples: list[tuple[str, np.ndarray, np.ndarray, str]]) -> dict[str, Any]:
    """WER and RTF at 8 kHz (phone line) and 16 kHz."""
    result: dict[str, Any] = {"engine": asr.name, "utterances": len(samples)}
    asr.transcribe(samples[0][1])  # warm-up
    for label, index, rate in (("8k_ulaw", 1, 8000), ("16k", 2, 16000)):
        errors = words = 0
        audio_s = compute_s = 0.0
        per: list[dict[str, Any]] = []
        for name, *pcms, text in samples:
            pcm = pcms[index - 1]
            t0 = time.perf_counter()
            hyp = asr.transcribe(pcm, rate)
            dt = time.perf_counter() - t0
            e, n = wer_counts(text, hyp)
            errors, words, audio_s, compute_s = errors + e, words + n, audio_s + len(pcm) / rate, compute_s + dt
            per.append({"sample": name, "ref": text, "hyp": hyp, "wer": round(e / max(n, 1), 3), "s": round(dt, 2)})
        result[label] = {"wer": round(errors / words, 3), "rtf": round(compute_s / audio_s, 3),
                         "mean_s_per_utterance": round(compute_s / len(samples), 2), "per_utterance": per}
    return result


async def run_calls(asr: ASR, settings: VoiceSettings, samples: list[Any], concurrent: int) -> dict[str, Any]:
    """``concurrent`` calls at once, each speaking two recordings; latency per turn from the gateway."""
    from fakes import FakeRasa
    from sipclient import TestPhone

    fake = FakeRasa()
    url = await fake.start()
    s = settings.model_copy(update=dict(sip_port=0, rasa_url=url, greeting_payload="", silence_s=60.0,
                                        rtp_port_min=43000, rtp_port_max=43998, max_calls=max(8, concurrent)))
    client = RasaClient(url, 10.0)
    await client.start()
    gateway = VoiceGateway(s, asr, load_tts(s), client)
    await gateway.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()

    async def one_call(i: int) -> None:
        phone = TestPhone(gateway.local_port)
        await phone.open()
        phone.invite()
        await phone.final()
        for k in range(2):
            await phone.speak(samples[(i + k) % len(samples)][1], tail_s=0.0)
            # Keep streaming silence until the reply has started, then listen a little.
            for _ in range(60):
                record = next((r for r in gateway.records if r.call_id == phone.call_id), None)
                turns = [t for t in record.turns if t.source != "greeting"] if record else []
                if len(turns) > k and turns[k].first_audio:
                    break
                await phone.speak(np.zeros(audio.RATE // 2, np.int16), tail_s=0.0)
            await phone.speak(np.zeros(audio.RATE * 2, np.int16), tail_s=0.0)
        phone.send(phone.request("BYE").to_bytes())
        await phone.final("BYE")
        await phone.close()

    await asyncio.gather(*(one_call(i) for i in range(concurrent)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    latencies = [t.latency for r in gateway.records for t in r.turns if t.latency is not None]
    asr_s = [t.asr_s for r in gateway.records for t in r.turns if t.source in ("speech", "button")]
    call_minutes = sum((r.ended or time.time()) - r.started for r in gateway.records) / 60
    await gateway.stop()
    await client.close()
    await fake.stop()
    lat = sorted(latencies)
    return {
        "concurrent_calls": concurrent, "turns": len(lat),
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
        "asr_mean_s": round(statistics.mean(asr_s), 3) if asr_s else None,
        "cpu_s_per_call_minute": round(cpu / max(call_minutes, 1e-9), 1), "wall_s": round(wall, 1),
    }


def main() -> None:
    """Run everything and write the JSON."""
    settings = VoiceSettings.from_env()
    if settings.asr_model == settings.default_asr_model:
        assemble_whisper_base(settings.asr_model)
    samples = load_samples(settings)
    t0 = time.perf_counter()
    asr = load_asr(settings)
    load_s = time.perf_counter() - t0
    result: dict[str, Any] = {
        "machine": {"cores": __import__("os").cpu_count(), "asr_threads": settings.asr_threads},
        "asr_model": str(settings.asr_model), "asr_load_s": round(load_s, 2),
        "asr": bench_asr(asr, samples),
    }
    result["turns"] = [asyncio.run(run_calls(asr, settings, samples, n)) for n in (1, 2, 4)]
    ok = [t["concurrent_calls"] for t in result["turns"] if t["latency_p95_s"] and t["latency_p95_s"] < 3.0]
    result["max_concurrent_calls_p95_under_3s"] = max(ok) if ok else 0
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["notes"] = ("Turn latency = end of caller speech (VAD end minus VOICE_END_SILENCE_MS) to the first "
                       "reply RTP packet; includes the end-of-speech wait, ASR, Rasa (faked, instant) and TTS.")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "asr"}, indent=1))
    print("ASR 8k:", result["asr"]["8k_ulaw"]["wer"], result["asr"]["8k_ulaw"]["rtf"],
          "16k:", result["asr"]["16k"]["wer"], result["asr"]["16k"]["rtf"])


if __name__ == "__main__":
    main()
