"""Train the learned re-ranker (knowledge/rerank.py) on pseudo-questions mined from the whole catalogue.

For every procedure of the catalogue (crawl + seed, as in ``bench/longtail_bench.py``) it generates
``--per-procedure`` citizen-like questions from the record (:mod:`knowledge.pseudo_questions`, fixed
seed), ranks them with the engine (re-ranker off), and fits the conditional logit on the features of
the fused top-k (a candidate is right when it is the procedure or has the same title). No hand labels.
The answer threshold is then chosen on the dev sets only (long-tail dev + curated dev + out-of-scope),
with the rule of ``decision.choose_threshold`` (one-sided 95 % lower bound of precision ≥ 0.95); the
held-out sets are never read.

Run: ``.venv/bin/python bench/train_reranker.py`` → knowledge/reranker.json (about 4 minutes on one
core of this machine once the passage vectors are cached; ``--dev-report`` also prints dev top-1).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from knowledge_bench import load_devset, merged_catalogue  # noqa: E402
from longtail_bench import CURATED_DEV, DEV, OUT_OF_SCOPE, CachedEncoder  # noqa: E402

from common.settings import get_settings  # noqa: E402
from common.text import normalize_query  # noqa: E402
from knowledge import decision, rerank  # noqa: E402
from knowledge.config import KnowledgeSettings  # noqa: E402
from knowledge.e5_folder import ensure_e5_folder  # noqa: E402
from knowledge.encoder import load_encoder  # noqa: E402
from knowledge.index import ProcedureIndex  # noqa: E402
from knowledge.lexical import SynonymTable  # noqa: E402
from knowledge.pseudo_questions import pseudo_questions  # noqa: E402
from knowledge.search import LEXICON, ProcedureSearcher, SearchConfig  # noqa: E402

log = logging.getLogger("train_reranker")
GRID = tuple(round(0.3 + 0.02 * i, 2) for i in range(34))  # 0.30 … 0.96
MIN_ANSWERED = 50  # fewer dev answers than this are too few to judge a threshold by


def top_candidates(searcher: ProcedureSearcher, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The fused top ``k`` of ``question`` (best first) and their re-ranker features."""
    scored = searcher.score_all(question)
    fused = scored.fused
    top = np.argpartition(-fused, k - 1)[:k]
    top = top[np.argsort(-fused[top], kind="stable")]
    return top, searcher.rerank_features(question, scored, top)


def training_groups(searcher: ProcedureSearcher, questions: list[tuple[str, str]], k: int) -> list[
        tuple[np.ndarray, np.ndarray]]:
    """``(features, right)`` per question; right: the asked procedure or one with the same title."""
    docs = searcher.index.docs
    title_of = {d.code: normalize_query(d.title) for d in docs}
    groups = []
    for n, (code, question) in enumerate(questions):
        top, x = top_candidates(searcher, question, k)
        want = title_of[code]
        groups.append((x, np.asarray([docs[i].code == code or normalize_query(docs[i].title) == want for i in top])))
        if n % 500 == 0:
            log.info("ranked %d/%d pseudo-questions", n, len(questions))
    return groups


def dev_rows(searcher: ProcedureSearcher, model: rerank.RerankModel, k: int) -> list[tuple[str, bool, bool, float]]:
    """Per dev question: its set, fused top-1 right, re-ranked top-1 right, re-ranked top probability."""
    sets = {"longtail_dev": load_devset(DEV), "curated_dev": load_devset(CURATED_DEV)}
    sets["out_of_scope"] = [([], "oos", line.strip()) for line in OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines()
                            if line.strip() and not line.startswith("#")]
    rows = []
    for name, devset in sets.items():
        for codes, _, question in devset:
            top, x = top_candidates(searcher, question, k)
            probs = model.probabilities(x)
            best = int(np.argmax(probs))
            rows.append((name, searcher.index.docs[top[0]].code in codes,
                         searcher.index.docs[top[best]].code in codes, float(probs[best])))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Generate, rank, fit, choose the threshold on dev, write the weights."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-procedure", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=rerank.WEIGHTS)
    parser.add_argument("--groups-cache", type=Path, default=None, help="reuse ranked pseudo-questions (npz)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.perf_counter()
    settings = get_settings(KnowledgeSettings)
    model_dir = str(ensure_e5_folder(settings.data_dir / "models" / "multilingual-e5-small"))
    procs, _ = merged_catalogue()
    cached = settings.data_dir / "cache" / f"passages-{Path(model_dir).name}.npz"
    encoder = CachedEncoder(load_encoder(model_dir), cached)
    encoder.memo = None
    index = ProcedureIndex.build(procs, encoder)
    searcher = ProcedureSearcher.from_index(index, encoder, config=SearchConfig(use_reranker=False))
    k = rerank.RERANK_K
    cache = args.groups_cache
    if cache is not None and cache.exists():
        data = np.load(cache)
        xs, ys, starts = data["x"], data["y"], data["starts"]  # each read of an npz key reads the whole array
        groups = [(xs[a:b], ys[a:b]) for a, b in itertools.pairwise(starts)]
    else:
        rng = random.Random(args.seed)
        lexicon = SynonymTable(SynonymTable.load(LEXICON).entries + SynonymTable.default().entries)
        questions = [(p.code, q) for p in sorted(procs, key=lambda p: p.code)
                     for q in pseudo_questions(p, lexicon, rng, args.per_procedure)]
        groups = training_groups(searcher, questions, k)
        if cache is not None:
            starts = np.cumsum([0] + [len(y) for _, y in groups])
            np.savez(cache, x=np.vstack([x for x, _ in groups]), y=np.concatenate([y for _, y in groups]),
                     starts=starts)
    ranked_s = time.perf_counter() - t0
    mean, scale, weights, bias = rerank.fit(groups, args.l2)
    model = rerank.RerankModel(mean, scale, weights, bias, decision.ANSWER_THRESHOLD, {})
    train_top1 = float(np.mean([y[0] for _, y in groups]))
    rerank_top1 = float(np.mean([y[int(np.argmax(model.logits(x)))] for x, y in groups]))
    log.info("pseudo-questions: fused top-1 %.3f, re-ranked %.3f", train_top1, rerank_top1)
    rows = dev_rows(searcher, model, k)
    for name in ("longtail_dev", "curated_dev"):
        of_set = [r for r in rows if r[0] == name]
        log.info("%s: fused top-1 %.3f, re-ranked %.3f", name, np.mean([r[1] for r in of_set]),
                 np.mean([r[2] for r in of_set]))
    probs = np.asarray([r[3] for r in rows])
    right = np.asarray([r[2] for r in rows])
    threshold = decision.choose_threshold(probs, right, GRID, min_answered=MIN_ANSWERED)
    names = np.asarray([r[0] for r in rows])
    for t in GRID:
        sel = probs >= t
        per_set = "; ".join(f"{n} answered {sel[names == n].mean():.3f} precision "
                            f"{right[sel & (names == n)].mean() if (sel & (names == n)).any() else float('nan'):.3f}"
                            for n in ("longtail_dev", "curated_dev", "out_of_scope"))
        log.info("threshold %.2f: answered %d, lower bound %.3f; %s", t, int(sel.sum()),
                 decision.wilson_lower(int(right[sel].sum()), int(sel.sum())), per_set)
    chosen = max(GRID) if threshold is None else threshold
    model = rerank.RerankModel(mean, scale, weights, bias, chosen, {
        "trained_by": "bench/train_reranker.py", "seed": args.seed, "per_procedure": args.per_procedure,
        "l2": args.l2, "procedures": len(procs), "questions": len(groups), "k": k,
        "pseudo_top1_fused": round(train_top1, 3), "pseudo_top1_reranked": round(rerank_top1, 3),
        "threshold_rule": f"lowest of the grid from which on the dev precision's lower bound stays >= 0.95 "
                          f"(thresholds answering < {MIN_ANSWERED} skipped; dev + out-of-scope only)",
    })
    args.out.write_text(json.dumps(model.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("wrote %s (threshold %.2f) in %.0f s (ranking %.0f s)", args.out, chosen, time.perf_counter() - t0,
             ranked_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
