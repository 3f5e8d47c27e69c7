"""Voice benchmarks → bench/results/voice.json, today's code path (baseline) and the new one in the same run.

- ASR: word error rate and real-time factor on the natural recordings (vieneu, Apache-2.0) at 8 kHz
  through G.711 µ-law, as on a phone line (and at 16 kHz for reference).
- Tasks: a synthetic spoken test set (bench/voice_testset.py, espeak-ng through G.711): WER, intent,
  procedure top-1 and after the confirm turn, dossier codes — baseline decoding vs bounded + biased.
- Turn latency: caller's end of input → first reply RTP packet, measured inside the gateway over real
  SIP/RTP on 127.0.0.1 (fake Rasa answering instantly, espeak-ng TTS), at 1, 2 and 4 concurrent calls,
  speech and keypad turns apart; CPU seconds per call-minute (whole process); peak memory.

Baseline = the decoder settings before bounded decoding (temperature fallback, no token limit, the old
fixed prompt), no menu, no catalogue; both share one loaded model (same weights, same threads).
"""

from __future__ import annotations

import asyncio
import copy
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
from connectors.voice.asr import ASR, Transcript, load_asr  # noqa: E402
from connectors.voice.assets import assemble_whisper_base, extract_vieneu_samples  # noqa: E402
from connectors.voice.audio import RATE, resample  # noqa: E402
from connectors.voice.catalogue import Match, ProcedureMatcher, load_procedures  # noqa: E402
from connectors.voice.config import VoiceSettings  # noqa: E402
from connectors.voice.gateway import VoiceGateway  # noqa: E402
from connectors.voice.guard import rejection  # noqa: E402
from connectors.voice.menu import ASK_AGAIN, FIXED, Dialogue, is_status_request, with_code  # noqa: E402
from connectors.voice.normalize import normalize_spoken, render_for_speech  # noqa: E402
from connectors.voice.tts import EspeakTTS, load_tts  # noqa: E402

OUT = ROOT / "bench" / "results" / "voice.json"
OLD_PROMPT = "Tổng đài thủ tục hành chính. Tra cứu hồ sơ, mã hồ sơ, giấy khai sinh, căn cước, lệ phí."


class BaselineWhisper:
    """Today's decoding before this change: fallback temperatures, no token limit, the fixed prompt."""

    name = "faster-whisper (baseline settings)"

    def __init__(self, model: Any) -> None:
        """Share the loaded WhisperModel."""
        self.model = model

    def decode(self, pcm: np.ndarray, rate: int = RATE) -> Transcript:
        """The old call, unchanged (no output checks either)."""
        t0 = time.perf_counter()
        audio16 = resample(pcm, rate, 16000).astype(np.float32) / 32768.0
        segments, _ = self.model.transcribe(audio16, language="vi", beam_size=1, vad_filter=False,
                                            condition_on_previous_text=False, initial_prompt=OLD_PROMPT,
                                            without_timestamps=True)
        texts = [x.text.strip() for x in segments if x.no_speech_prob < 0.8 or x.avg_logprob > -0.7]
        text = " ".join(t for t in texts if t).strip()
        return Transcript(text, "", time.perf_counter() - t0, text)

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Text only."""
        return self.decode(pcm, rate).text


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
    result["name"] = asr.name
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


def outcome(kind: str, expected: str, result: Transcript, matcher: ProcedureMatcher) -> dict[str, bool]:
    """Task success of one decode (best reading and n-best alternatives) as the menu would act on it."""
    text, hypotheses = result.text, result.hypotheses
    if kind in ("yes", "no"):
        dialogue = Dialogue(matcher)
        code = next(iter(matcher.procedures))
        dialogue.state, dialogue.candidates = "confirm", [Match(code, "x", 0.5)]
        step = dialogue.on_speech(text, result.alternatives) if text else None
        said_yes, said_no = dialogue.confirmed == [code], bool(step and step.say and step.say[0] == ASK_AGAIN)
        return {"intent": said_yes if kind == "yes" else said_no}
    if kind == "code":
        return {"intent": True, "code": bool(hypotheses) and expected in normalize_spoken(with_code(hypotheses))}
    dialogue = Dialogue(matcher)
    step = dialogue.on_speech(text, result.alternatives) if text else None
    if step is None:
        return {"intent": False, **({"top1": False, "after_confirm": False} if kind == "procedure" else {})}
    if kind == "operator":
        return {"intent": step.operator}
    if kind == "status":
        return {"intent": bool(step.bot) and is_status_request(step.bot)}
    top = matcher.match(dialogue._best_named(hypotheses), 3)
    reached = dialogue.confirmed[:1] == [expected] or (
        dialogue.state == "confirm" and expected in [c.code for c in dialogue.candidates[:2]])
    return {"intent": dialogue.state in ("answered", "confirm"), "top1": bool(top) and top[0].code == expected,
            "after_confirm": reached}


def bench_tasks(engines: dict[str, ASR], matcher: ProcedureMatcher, procedures: list[Any]) -> dict[str, Any]:
    """The synthetic spoken set through each engine: WER and task success per kind of request."""
    from voice_testset import build

    utterances = build(procedures)
    tts = EspeakTTS("vi", 160)
    clips = [audio.decode(audio.encode(asyncio.run(tts.synthesize(u.text)), "PCMU"), "PCMU") for u in utterances]
    out: dict[str, Any] = {"utterances": len(utterances), "source": "synthetic (espeak-ng vi, 160 wpm, G.711 µ-law)",
                           "natural_recordings": 0, "kinds": {}}
    for label, engine in engines.items():
        errors = words = 0
        rows: list[dict[str, Any]] = []
        scores: dict[str, dict[str, list[bool]]] = {}
        decode_s: list[float] = []
        for u, pcm in zip(utterances, clips, strict=True):
            result = engine.decode(pcm) if hasattr(engine, "decode") else Transcript(engine.transcribe(pcm))
            decode_s.append(result.seconds)
            e, n = wer_counts(u.text, result.text)
            errors, words = errors + e, words + n
            for key, ok in outcome(u.kind, u.expected, result, matcher).items():
                scores.setdefault(u.kind, {}).setdefault(key, []).append(ok)
            rows.append({"kind": u.kind, "ref": u.text, "hyp": result.text, "alternatives": result.alternatives,
                         "raw": result.raw, "rejected": result.rejected,
                         "prompt_echo_or_loop": bool(rejection(result.raw, len(pcm) / RATE, OLD_PROMPT.split(". ")))})
        out["kinds"][label] = {k: {m: round(sum(v) / len(v), 3) for m, v in metrics.items()}
                               for k, metrics in scores.items()}
        d = sorted(decode_s)
        out[label] = {"wer": round(errors / max(words, 1), 3), "decode_s_p50": round(statistics.median(d), 2),
                      "decode_s_max": round(d[-1], 2), "per_utterance": rows}
    return out


async def run_calls(asr: ASR, settings: VoiceSettings, samples: list[Any], concurrent: int,
                    matcher: ProcedureMatcher | None = None, speech_turns: int = 2) -> dict[str, Any]:
    """``concurrent`` calls at once, each speaking ``speech_turns`` recordings (with the menu, then 2 keypad turns)."""
    from fakes import FakeRasa
    from sipclient import TestPhone

    fake = FakeRasa()
    url = await fake.start()
    s = settings.model_copy(update=dict(sip_port=0, rasa_url=url, greeting_payload="", silence_s=60.0,
                                        rtp_port_min=43000, rtp_port_max=43998, max_calls=max(8, concurrent)))
    client = RasaClient(url, 10.0)
    await client.start()
    gateway = VoiceGateway(s, asr, load_tts(s), client, matcher=matcher)
    if s.menu:
        await gateway.voice.warm([render_for_speech(t) for t in FIXED])
    await gateway.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()

    async def one_call(i: int) -> None:
        phone = TestPhone(gateway.local_port)
        await phone.open()
        phone.invite()
        await phone.final()
        for k in range(speech_turns):
            await phone.speak(samples[(i + k) % len(samples)][1], tail_s=0.0)
            # Keep streaming silence until the reply has started, then listen a little.
            for _ in range(60):
                record = next((r for r in gateway.records if r.call_id == phone.call_id), None)
                turns = [t for t in record.turns if t.end_of_input] if record else []
                if len(turns) > k and turns[k].first_audio:
                    break
                await phone.speak(np.zeros(audio.RATE // 2, np.int16), tail_s=0.0)
            await phone.speak(np.zeros(audio.RATE * 2, np.int16), tail_s=0.0)
        if s.menu:
            for keys in ("*", "1"):  # back to the menu, then "1 thủ tục"
                await phone.keys(keys)
                await phone.speak(np.zeros(audio.RATE * 7, np.int16), tail_s=0.0)
        phone.send(phone.request("BYE").to_bytes())
        await phone.final("BYE")
        await phone.close()

    await asyncio.gather(*(one_call(i) for i in range(concurrent)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    latencies = [t.latency for r in gateway.records for t in r.turns if t.latency is not None and t.source == "speech"]
    keyed = sorted(t.latency for r in gateway.records for t in r.turns if t.latency is not None and t.source == "dtmf")
    asr_s = [t.asr_s for r in gateway.records for t in r.turns if t.source in ("speech", "button")]
    early_used = sum(t.early for r in gateway.records for t in r.turns)
    early = {"started": sum(r.early_decodes for r in gateway.records), "used": early_used,
             "wasted": sum(r.early_wasted for r in gateway.records)}
    call_minutes = sum((r.ended or time.time()) - r.started for r in gateway.records) / 60
    await gateway.stop()
    await client.close()
    await fake.stop()
    lat = sorted(latencies)
    return {
        "concurrent_calls": concurrent, "turns": len(lat), "keypad_turns": len(keyed),
        "keypad_latency_p50_s": round(statistics.median(keyed), 3) if keyed else None,
        "keypad_latency_p95_s": round(keyed[min(len(keyed) - 1, int(0.95 * len(keyed)))], 3) if keyed else None,
        "held": gateway.decoder.stats["held"], "over_budget": gateway.decoder.stats["over_budget"],
        "latency_p50_s": round(statistics.median(lat), 3) if lat else None,
        "latency_p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3) if lat else None,
        "asr_mean_s": round(statistics.mean(asr_s), 3) if asr_s else None, "early_decodes": early,
        "cpu_s_per_call_minute": round(cpu / max(call_minutes, 1e-9), 1), "wall_s": round(wall, 1),
    }


def variant(asr: ASR, n_best: int = 1, biased: bool = True, window_pad_s: float | None = None) -> ASR:
    """The loaded engine with other decode settings (same weights, same threads)."""
    engine = copy.copy(asr)
    engine.n_best = n_best  # type: ignore[attr-defined]
    if window_pad_s is not None:
        engine.window_pad_s = window_pad_s  # type: ignore[attr-defined]
    if not biased:
        engine.bias(())  # type: ignore[attr-defined]
    return engine


def stamp(part: str, started: float, load_before: tuple[float, float, float]) -> dict[str, Any]:
    """When a part ran, how long it took and the load average (1/5/15 min) before and after."""
    import os

    return {"part": part, "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "wall_s": round(time.time() - started, 1), "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    """Run the chosen parts (same process, same model for every variant) and merge them into the JSON."""
    import os

    from knowledge.config import KnowledgeSettings

    settings = VoiceSettings.from_env()
    if settings.asr_model == settings.default_asr_model:
        assemble_whisper_base(settings.asr_model)
    samples = load_samples(settings)
    procedures = load_procedures(KnowledgeSettings.from_env().catalogue_db_url)
    matcher = ProcedureMatcher(procedures)
    t0 = time.perf_counter()
    asr = load_asr(settings, matcher.phrases())
    load_s = time.perf_counter() - t0
    quick = os.environ.get("VOICE_BENCH_QUICK") == "1"
    parts = os.environ.get("VOICE_BENCH_PARTS", "asr,tasks,turns").split(",")  # e.g. "turns" alone
    n_best = int(os.environ.get("VOICE_BENCH_N_BEST", "4"))
    engines: dict[str, ASR] = {
        "baseline": BaselineWhisper(asr.model),  # type: ignore[attr-defined]
        "unbiased": variant(asr, biased=False), "new": variant(asr), "n_best": variant(asr, n_best),
        "window30": variant(asr, window_pad_s=30.0), "window5": variant(asr, window_pad_s=5.0),
    }
    chosen = os.environ.get("VOICE_BENCH_ENGINES", ",".join(engines)).split(",")
    fresh = os.environ.get("VOICE_BENCH_FRESH") == "1" or not OUT.exists()
    result: dict[str, Any] = {} if fresh else json.loads(OUT.read_text())
    result.update({
        "machine": {"cores": os.cpu_count(), "asr_threads": settings.asr_threads,
                    "note": "shared with other engineers' work during the runs: see runs[].load_*, compare "
                            "variants measured in the same run, not absolutes"},
        "asr_model": str(settings.asr_model), "asr_load_s": round(load_s, 2),
        "asr_prompt": asr.prompt,  # type: ignore[attr-defined]
        "n_best": n_best,
    })
    runs = result.setdefault("runs", [])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if "asr" in parts:
        started, load = time.time(), os.getloadavg()
        asr_part = result.setdefault("asr", {})
        for label in chosen:
            asr_part[label] = bench_asr(engines[label], samples)
        runs.append({**stamp("asr", started, load), "engines": chosen})
        OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1))  # partial results survive a stop
    if "tasks" in parts:
        started, load = time.time(), os.getloadavg()
        tasks = bench_tasks({label: engines[label] for label in chosen}, matcher, procedures)
        merged = result.setdefault("tasks", {})
        kinds = {**merged.get("kinds", {}), **tasks.pop("kinds")}
        merged.update(tasks)
        merged["kinds"] = kinds
        runs.append({**stamp("tasks", started, load), "engines": chosen})
        OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    if "rescore" in parts and "tasks" in result:
        # The stored readings of every variant through the current menu code (no decoding: the same transcripts),
        # beside the scores taken when they were decoded.
        from voice_testset import build

        utterances = build(procedures)
        tasks = result["tasks"]
        for label in [k for k, v in tasks.items() if isinstance(v, dict) and "per_utterance" in v]:
            scores: dict[str, dict[str, list[bool]]] = {}
            for u, row in zip(utterances, tasks[label]["per_utterance"], strict=True):
                decoded = Transcript(row["hyp"], row["rejected"], 0.0, row["hyp"], row.get("alternatives", []))
                for key, ok in outcome(u.kind, u.expected, decoded, matcher).items():
                    scores.setdefault(u.kind, {}).setdefault(key, []).append(ok)
            tasks.setdefault("kinds_rescored", {})[label] = {
                k: {m: round(sum(v) / len(v), 3) for m, v in metrics.items()} for k, metrics in scores.items()}
        runs.append({"part": "rescore", "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    if "turns" in parts:
        # Turn variants: "baseline" = the old decoder without the menu; "before" = the bounded decoder and the
        # menu with a 30 s encoder window and no early decoding; "new" = the settings as configured.
        started, load = time.time(), os.getloadavg()
        calls = [int(n) for n in os.environ.get("VOICE_BENCH_CALLS", "1,2" if quick else "1,2,4").split(",")]
        speech_turns = int(os.environ.get("VOICE_BENCH_TURNS", "3"))
        turn_variants = {
            "baseline": (engines["baseline"], settings.model_copy(update={"menu": False}), None),
            "before": (engines["window30"], settings.model_copy(update={"menu": True, "early_decode_ms": 0}), matcher),
            "new": (asr, settings.model_copy(update={"menu": True}), matcher),
        }
        chosen_turns = os.environ.get("VOICE_BENCH_TURN_VARIANTS", "before,new").split(",")
        turns = result.setdefault("turns", {})
        for label in chosen_turns:
            turns[label] = []
        for n in calls:
            for label in chosen_turns:
                engine, variant_settings, variant_matcher = turn_variants[label]
                turns[label].append(asyncio.run(run_calls(engine, variant_settings, samples, n, variant_matcher,
                                                          speech_turns)))
                OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1))
        runs.append({**stamp("turns", started, load), "variants": chosen_turns, "speech_turns_per_call": speech_turns,
                     "asr_threads": settings.asr_threads, "asr_workers": settings.asr_workers,
                     "window_pad_s": settings.asr_window_pad_s, "early_decode_ms": settings.early_decode_ms})
        result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["notes"] = ("Turn latency = end of caller input (VAD end minus the end-of-speech silence; keypad: when the "
                       "input completed) to the first reply RTP packet; includes ASR, Rasa (faked, instant) and TTS. "
                       "Speech turns speak the natural vieneu recordings; keypad turns are '*' (menu) and '1'. "
                       "Turn variants: baseline = old decoder, no menu; before = bounded decoder + menu, 30 s encoder "
                       "window, no early decoding; new = as configured (ASR_WINDOW_PAD_S, VOICE_EARLY_DECODE_MS). "
                       "Task variants: baseline = old decoder settings and fixed prompt; unbiased = bounded decoding, "
                       "no prompt; new = bounded + catalogue prompt (greedy); n_best = new with a beam search "
                       "returning n readings, re-scored by the menu against the catalogue, yes/no and codes.")
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    summary = {k: v for k, v in result.items() if k not in ("asr", "tasks")}
    if "tasks" in result:
        summary["tasks"] = {k: v for k, v in result["tasks"].items() if k == "kinds"}
        summary["tasks"]["wer"] = {k: v["wer"] for k, v in result["tasks"].items()
                                   if isinstance(v, dict) and "wer" in v}
    if "asr" in result:
        summary["asr_wer_8k"] = {k: v["8k_ulaw"]["wer"] for k, v in result["asr"].items()}
    print(json.dumps(summary, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
