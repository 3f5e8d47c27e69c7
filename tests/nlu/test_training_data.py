"""The training data keeps the bar the product needs: enough examples, enough typed without accents."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

from common.text import fold_diacritics, normalize_query

ROOT = Path(__file__).resolve().parents[2]
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def examples(path: Path) -> dict[str, list[str]]:
    """Plain example texts per intent in a Rasa NLU YAML file."""
    out: dict[str, list[str]] = defaultdict(list)
    for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
        if "intent" in block:
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    out[block["intent"]].append(ANNOTATION.sub(r"\1", line.strip()[2:]))
    return out


def training() -> dict[str, list[str]]:
    """All training examples per intent."""
    merged: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for intent, texts in examples(path).items():
            merged[intent].extend(texts)
    return merged


def test_every_domain_intent_has_40_examples_and_35_percent_unaccented() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    data = training()
    for intent in domain["intents"]:
        texts = data.get(intent, [])
        assert len(texts) >= 40, f"{intent}: {len(texts)} examples"
        plain = sum(fold_diacritics(t) == t for t in texts)
        assert plain / len(texts) >= 0.35, f"{intent}: only {plain}/{len(texts)} without diacritics"


def test_held_out_set_is_not_training_data() -> None:
    seen = {normalize_query(t) for texts in training().values() for t in texts}
    held_out = examples(ROOT / "tests" / "nlu" / "test_nlu.yml")
    leaked = [t for texts in held_out.values() for t in texts if normalize_query(t) in seen]
    assert not leaked, leaked
    assert sum(len(v) for v in held_out.values()) >= 200
