"""Where Rasa's CPU goes in a turn: each NLU component, each policy, tracker load and save, the action calls.

Runs Rasa in this process (``.venv-rasa/bin/python``; the model models/tthc.tar.gz, the endpoints of a variant,
a private SQLite tracker store) against the real action server (started from .venv on a free loopback port,
over a private copy of var/), and times every stage of ``Agent.handle_message`` with the process's CPU clock
(all threads, TensorFlow's pools included; the action server's CPU is not counted). Stages nest (an action
call inside the prediction loop): each gets its own time, without what its inner stages took.
Messages go one at a time: typed procedure questions (5 per sender, as bench/efficiency_bench.py), the
button payloads of their answers, then one long conversation (efficiency_bench.py's growth cycle): the stages
at turns 2-6, 20-24 and the last 5 show what grows with the history. Variants as in efficiency_bench.py:
``baseline`` (Rasa's own paths, TensorFlow's default thread pools) and ``new`` (endpoints.yml,
credentials.yml and scripts/env.sh as they are); each runs in a process of its own, one after the other.
Run: ``.venv-rasa/bin/python bench/rasa_turn_profile.py`` (under ``flock /work/bench.lock``).
Writes bench/results/rasa_turn_profile.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import channels_bench as cb  # noqa: E402

QUESTIONS = cb.PROCEDURES_ACCENTED + cb.PROCEDURES_UNACCENTED
RESULTS = ROOT / "bench" / "results" / "rasa_turn_profile.json"
CYCLE = ["question", "thanks", "question", "help", "payload"]  # efficiency_bench.py's growth conversation
TF_VARS = ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS")


class StageClock:
    """Exclusive CPU time per stage: entering a stage pauses the one it runs in."""

    def __init__(self) -> None:
        """No stage open."""
        self.stack: list[list[Any]] = []  # [name, CPU at entry or resume]
        self.totals: dict[str, float] = defaultdict(float)

    def enter(self, name: str) -> None:
        """Open a stage inside the current one."""
        now = time.process_time()
        if self.stack:
            self.totals[self.stack[-1][0]] += now - self.stack[-1][1]
        self.stack.append([name, now])

    def leave(self) -> None:
        """Close the innermost stage and resume the one around it."""
        now = time.process_time()
        name, since = self.stack.pop()
        self.totals[name] += now - since
        if self.stack:
            self.stack[-1][1] = now

    def take(self) -> dict[str, float]:
        """The milliseconds per stage since the last call."""
        out = {k: v * 1000 for k, v in self.totals.items()}
        self.totals.clear()
        return out


CLOCK = StageClock()


def timed(owner: Any, method: str, stage: str | Callable[..., str]) -> None:
    """Replace ``owner.method`` (sync or async) by the same method timed as ``stage``."""
    original = getattr(owner, method)
    name_of = stage if callable(stage) else (lambda *_: stage)
    if asyncio.iscoroutinefunction(original):
        @functools.wraps(original)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            CLOCK.enter(name_of(*args))
            try:
                return await original(*args, **kwargs)
            finally:
                CLOCK.leave()

        setattr(owner, method, async_wrapper)
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CLOCK.enter(name_of(*args))
        try:
            return original(*args, **kwargs)
        finally:
            CLOCK.leave()

    setattr(owner, method, wrapper)


def instrument(agent: Any) -> None:
    """Time the stages of a turn (after Rasa and the speed-ups are loaded)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor
    from rasa.engine.graph import GraphNode
    from rasa.engine.runner.dask import DaskGraphRunner

    store = type(agent.tracker_store)
    timed(store, "retrieve", "tracker_load")
    timed(store, "save", "tracker_save")
    timed(GraphNode, "__call__", lambda node, *_: "graph:" + node._node_name.removeprefix("run_"))
    timed(DaskGraphRunner, "run", "graph_runner_other")
    timed(MessageProcessor, "parse_message", "nlu_other")
    timed(MessageProcessor, "_predict_next_with_tracker", "policies_other")
    timed(RemoteAction, "_action_call_format", "action_request_tracker_json")
    timed(RemoteAction, "_validate_action_result", "action_response_validation")
    timed(RemoteAction, "run", "action_call_http_and_events")


async def profile_variant(args: argparse.Namespace, endpoints: Path, parse_payloads: bool) -> dict[str, Any]:
    """Load the agent, warm it up, then time typed questions and button payloads."""
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    from bot.rest_channel import payload_parse

    agent = await load_agent(model_path=str(ROOT / "models" / "tthc.tar.gz"),
                             endpoints=AvailableEndpoints.read_endpoints(str(endpoints)))
    instrument(agent)

    async def turn(sender: str, text: str) -> tuple[float, dict[str, float], list[Any]]:
        output = CollectingOutputChannel()
        parse = payload_parse(text, agent.domain) if parse_payloads else None
        message = UserMessage(text, output, sender, parse_data=parse, metadata={"channel": "web"})
        CLOCK.take()
        t0 = time.process_time()
        CLOCK.enter("processor_other")
        await agent.handle_message(message)
        CLOCK.leave()
        return (time.process_time() - t0) * 1000, CLOCK.take(), output.messages

    for text in ("xin chào", "lam giay khai sinh can gi", "cảm ơn"):
        await turn(f"web:prof-warm-{os.getpid()}", text)
    results: dict[str, Any] = {}
    payloads: list[str] = []
    for kind in ("typed_question", "button_payload"):
        totals: list[float] = []
        stages: dict[str, list[float]] = defaultdict(list)
        texts = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)] if kind == "typed_question" else (
            payloads[: max(5, args.questions // 3)])
        for i, text in enumerate(texts):
            total, by_stage, answer = await turn(f"web:prof-{kind[0]}{i // 5}-{os.getpid()}", text)
            totals.append(total)
            for name in set(stages) | set(by_stage):
                stages[name].append(by_stage.get(name, 0.0))
            payload = next((str(b["payload"]) for m in answer for b in (m.get("buttons") or [])
                            if str(b.get("payload", "")).startswith("/ask_procedure{")), None)
            if kind == "typed_question" and payload:
                payloads.append(payload)
        means = {k: round(statistics.fmean(v), 2) for k, v in stages.items()}
        results[kind] = {
            "messages": len(totals),
            "cpu_ms_mean": round(statistics.fmean(totals), 1) if totals else None,
            "cpu_ms_median": round(statistics.median(totals), 1) if totals else None,
            "cpu_ms_by_stage_mean": dict(sorted(means.items(), key=lambda kv: -kv[1])),
        }
    results["growth"] = await growth(turn, args.growth_turns)
    return results


async def growth(turn: Any, turns: int) -> dict[str, Any]:
    """One conversation (efficiency_bench's cycle of 5 kinds of message): stages at turns 2-6, 20-24, the last 5."""
    texts = {"thanks": cb.THANKS, "help": cb.HELP, "question": QUESTIONS}
    payload = '/ask_procedure{"facet":"fee"}'
    totals: list[float] = []
    stages: list[dict[str, float]] = []
    for n in range(1, turns + 1):
        kind = CYCLE[(n - 2) % len(CYCLE)]
        text = payload if kind == "payload" else texts[kind][n % len(texts[kind])]
        total, by_stage, answer = await turn(f"web:prof-growth-{os.getpid()}", text)
        totals.append(total)
        stages.append(by_stage)
        payload = next((str(b["payload"]) for m in answer for b in (m.get("buttons") or [])
                        if str(b.get("payload", "")).startswith("/ask_procedure{")), payload)
    out: dict[str, Any] = {"turns": turns}
    for label, (a, b) in {"turn_2": (2, 6), "turn_20": (20, 24), "turn_last": (turns - 4, turns)}.items():
        names = {k for st in stages[a - 1:b] for k in st}
        means = {k: round(statistics.fmean(st.get(k, 0.0) for st in stages[a - 1:b]), 2) for k in names}
        out[label] = {"turns": [a, b], "cpu_ms_mean": round(statistics.fmean(totals[a - 1:b]), 1),
                      "cpu_ms_by_stage_mean": dict(sorted(means.items(), key=lambda kv: -kv[1]))}
    out["last_over_turn_2"] = round(out["turn_last"]["cpu_ms_mean"] / out["turn_2"]["cpu_ms_mean"], 2)
    return out


def variant_env(name: str, tmp: Path) -> tuple[Path, bool, dict[str, str | None]]:
    """Endpoints file, payload parsing and environment changes of a variant (efficiency_bench's)."""
    import yaml

    if name == "new":
        credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
        parse = credentials["bot.rest_channel.BoundedRestInput"].get("parse_payloads", True)
        return ROOT / "endpoints.yml", str(parse).lower() not in ("false", "0", "no"), {}
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["tracker_store"].update(window_turns=0, speedups=False)
    path = tmp / "endpoints-baseline.yml"
    path.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    return path, False, dict.fromkeys(TF_VARS)


def child(args: argparse.Namespace) -> None:
    """One variant in this process: action server up, Rasa in-process, the profile printed as JSON."""
    with tempfile.TemporaryDirectory(prefix="tthc-turn-profile-") as tmpdir:
        tmp = Path(tmpdir)
        data = tmp / "data"
        cb.prepare_data_dir(ROOT / "var", data)
        endpoints, parse_payloads, _ = variant_env(args.child, tmp)
        env = cb.base_env(data)
        port = cb.free_port()
        os.environ.update(TTHC_DATA_DIR=str(data), TRACKER_STORE_URL=env["TRACKER_STORE_URL"],
                          ACTION_SERVER_URL=f"http://127.0.0.1:{port}/webhook")
        log = (tmp / "actions.log").open("ab")
        actions = subprocess.Popen([str(ROOT / ".venv/bin/python"), "-m", "bot.action_server", "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=ROOT, env=dict(env, OMP_NUM_THREADS="1"), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            cb.wait_http(f"http://127.0.0.1:{port}/health", actions, 600, "actions")
            result = asyncio.run(profile_variant(args, endpoints, parse_payloads))
        finally:
            cb.stop_processes([actions])
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


def main() -> None:
    """Run each variant in a child process and write the breakdowns side by side."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--variants", default="baseline,new")
    p.add_argument("--questions", type=int, default=30, help="typed questions (a third as many payloads)")
    p.add_argument("--growth-turns", type=int, default=61, help="turns of the growth conversation")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    out: dict[str, Any] = {"benchmark": "rasa_turn_profile", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "method": __doc__,
                           "params": {"questions": args.questions, "growth_turns": args.growth_turns}}
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        with tempfile.TemporaryDirectory() as tmp:
            _, _, changes = variant_env(name, Path(tmp))
        env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1",
                   PYTHONWARNINGS="ignore")
        for key, value in changes.items():
            env.pop(key, None) if value is None else env.__setitem__(key, value)
        print(f"== {name}", file=sys.stderr, flush=True)
        run = subprocess.run([sys.executable, __file__, "--child", name, "--questions", str(args.questions),
                              "--growth-turns", str(args.growth_turns)],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
        if run.returncode or not lines:
            raise SystemExit(f"{name} failed:\n{run.stderr[-3000:]}")
        out[name] = json.loads(lines[-1].removeprefix("RESULT "))
        print(json.dumps({name: {k: v.get("cpu_ms_mean", v.get("last_over_turn_2")) for k, v in out[name].items()}}),
              file=sys.stderr, flush=True)
    out["load_avg_at_end"] = os.getloadavg()
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: out[k] for k in out if k not in ("method",)}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
