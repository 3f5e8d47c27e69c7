"""NLU benchmark (run in .venv-rasa): accented vs unaccented intent accuracy, ours vs a baseline.

Trains the project's pipeline and a plain baseline (whitespace tokens, raw text features) in one
process on data/nlu, evaluates both on the held-out set tests/nlu/test_nlu.yml as written and with
every accented example stripped of its diacritics, then runs a 3-fold cross-validation of our
pipeline. Results: bench/results/nlu.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from common.text import fold_diacritics  # noqa: E402

EPOCHS = 60


def pipeline_config(kind: str) -> dict[str, Any]:
    """Our pipeline (from config.yml) or the baseline, both with the same classifier budget."""
    ours = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    pipeline = [dict(c) for c in ours["pipeline"] if c["name"] != "FallbackClassifier"]
    if kind == "baseline":
        pipeline = [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
            {"name": "DIETClassifier", "epochs": EPOCHS, "random_seed": 42, "constrain_similarities": True},
        ]
    for component in pipeline:
        if component["name"] == "DIETClassifier":
            component["epochs"] = EPOCHS
    return {"recipe": "default.v1", "language": "vi", "pipeline": pipeline, "policies": []}


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU YAML file, entity annotations removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def has_diacritics(text: str) -> bool:
    """True when folding changes the text."""
    return fold_diacritics(text) != text


def train(kind: str, workdir: Path) -> tuple[Path, float]:
    """Train an NLU-only model; return its path and the seconds it took."""
    from rasa.model_training import train_nlu

    config = workdir / f"{kind}.yml"
    config.write_text(yaml.safe_dump(pipeline_config(kind), allow_unicode=True), encoding="utf-8")
    t0 = time.perf_counter()
    model = train_nlu(str(config), str(ROOT / "data" / "nlu"), str(workdir), fixed_model_name=kind)
    return Path(str(model)), time.perf_counter() - t0


async def predict(model: Path, texts: list[str]) -> list[str]:
    """Predicted intents for texts."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [(await agent.parse_message(t))["intent"]["name"] for t in texts]


def accuracy(pred: list[str], gold: list[str]) -> float:
    """Share of equal labels."""
    return round(sum(p == g for p, g in zip(pred, gold, strict=True)) / max(len(gold), 1), 4)


def evaluate(kind: str, workdir: Path, test: list[tuple[str, str]]) -> dict[str, Any]:
    """Train one config and measure it on the held-out set and its folded copy."""
    model, train_s = train(kind, workdir)
    texts = [t for t, _ in test]
    gold = [g for _, g in test]
    accented = [i for i, t in enumerate(texts) if has_diacritics(t)]
    plain = [i for i in range(len(texts)) if i not in set(accented)]
    folded_texts = [fold_diacritics(texts[i]) for i in accented]
    pred = asyncio.run(predict(model, texts + folded_texts))
    as_written, folded = pred[: len(texts)], pred[len(texts) :]
    acc_pred = [as_written[i] for i in accented]
    acc_gold = [gold[i] for i in accented]
    return {
        "train_seconds": round(train_s, 1),
        "accuracy_all": accuracy(as_written, gold),
        "accuracy_typed_with_diacritics": accuracy(acc_pred, acc_gold),
        "accuracy_typed_without_diacritics": accuracy([as_written[i] for i in plain], [gold[i] for i in plain]),
        "accuracy_accented_examples_stripped": accuracy(folded, acc_gold),
        "same_prediction_accented_vs_stripped": accuracy(folded, acc_pred),
        "n_with_diacritics": len(accented),
        "n_without_diacritics": len(plain),
    }


def cross_validation(workdir: Path) -> dict[str, Any]:
    """3-fold cross-validation of our pipeline with `rasa test nlu`."""
    config = workdir / "crossval.yml"
    config.write_text(yaml.safe_dump(pipeline_config("ours"), allow_unicode=True), encoding="utf-8")
    out = workdir / "crossval"
    t0 = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv-rasa/bin/rasa"), "test", "nlu", "--nlu", str(ROOT / "data/nlu"), "--config", str(config),
         "--cross-validation", "--folds", "3", "--out", str(out), "--no-plot"],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    return {
        "folds": 3,
        "seconds": round(time.perf_counter() - t0, 1),
        "intent_macro_f1": round(report["macro avg"]["f1-score"], 4),
        "intent_accuracy": round(report.get("accuracy", 0.0), 4),
        "per_intent_f1": {
            k: round(v["f1-score"], 3) for k, v in report.items() if isinstance(v, dict) and "avg" not in k
        },
    }


def main() -> None:
    """Run everything and write bench/results/nlu.json."""
    test = load_examples(ROOT / "tests" / "nlu" / "test_nlu.yml")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ours = evaluate("ours", workdir, test)
        baseline = evaluate("baseline", workdir, test)
        crossval = cross_validation(workdir)
    result = {
        "held_out_examples": len(test),
        "epochs": EPOCHS,
        "ours": ours,
        "baseline_whitespace_raw_text": baseline,
        "ratio_ours_over_baseline_stripped_accuracy": round(
            ours["accuracy_accented_examples_stripped"] / max(baseline["accuracy_accented_examples_stripped"], 1e-9), 3
        ),
        "cross_validation_ours": crossval,
    }
    out = ROOT / "bench" / "results" / "nlu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
