"""Gate on `rasa test nlu` results: intent macro F1 must reach the threshold."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    """Print per-intent F1 and fail below the threshold."""
    out, threshold = Path(sys.argv[1]), float(sys.argv[2])
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    for intent, row in sorted(report.items()):
        if isinstance(row, dict) and "f1-score" in row and intent not in ("macro avg", "weighted avg", "micro avg"):
            print(f"  {intent:22s} f1={row['f1-score']:.3f} support={row.get('support')}")
    macro = report["macro avg"]["f1-score"]
    print(f"intent macro F1 = {macro:.3f} (gate {threshold:.2f}), accuracy = {report.get('accuracy', 0):.3f}")
    entity = out / "DIETClassifier_report.json"
    if entity.exists():
        rows = json.loads(entity.read_text(encoding="utf-8"))
        for name, row in rows.items():
            if isinstance(row, dict) and "f1-score" in row and "avg" not in name:
                print(f"  entity {name:15s} f1={row['f1-score']:.3f}")
    return 0 if macro >= threshold else 1


if __name__ == "__main__":
    sys.exit(main())
