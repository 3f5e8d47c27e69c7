"""A tiny random-weight transducer folder in sherpa-onnx's layout, written as raw ONNX protobuf (no onnx package).

Encoder ``x (N, T, 80), x_lens -> encoder_out (N, T, C), encoder_out_lens`` (no subsampling), decoder
``y (N, 2) -> decoder_out (N, C)``, joiner ``encoder_out, decoder_out -> logit (N, V)``; the decoder carries
the ``vocab_size``/``context_size`` metadata and the encoder ``model_type`` as icefall's exports do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES, DIM, CONTEXT = 80, 8, 2
TOKENS = ("<blk>", "▁một", "▁hai", "▁ba", "▁thủ", "▁tục")
FLOAT, INT64 = 1, 7


def _varint(n: int) -> bytes:
    """Protobuf base-128 varint."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | str | int) -> bytes:
    """One protobuf field: an integer as a varint, text or bytes length-delimited."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, elem_type: int, dims: tuple[int | str, ...]) -> bytes:
    """ValueInfoProto of a tensor; a str dim is symbolic."""
    shape = b"".join(_field(1, _field(2 if isinstance(d, str) else 1, d)) for d in dims)
    return _field(1, name) + _field(2, _field(1, _field(1, elem_type) + _field(2, shape)))


def _tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data."""
    kind = INT64 if array.dtype == np.int64 else FLOAT
    return b"".join(_field(1, d) for d in array.shape) + _field(2, kind) + _field(8, name) + _field(9, array.tobytes())


def _node(op: str, inputs: tuple[str, ...], outputs: tuple[str, ...], **ints: list[int] | int) -> bytes:
    """NodeProto with integer (list) attributes."""
    attrs = b""
    for key, value in ints.items():
        if isinstance(value, list):
            attrs += _field(5, _field(1, key) + b"".join(_field(8, v) for v in value) + _field(20, 7))
        else:
            attrs += _field(5, _field(1, key) + _field(3, value) + _field(20, 2))
    return b"".join(_field(1, i) for i in inputs) + b"".join(_field(2, o) for o in outputs) + _field(4, op) + attrs


def _model(nodes: list[bytes], weights: dict[str, np.ndarray], inputs: list[bytes], outputs: list[bytes],
           meta: dict[str, str]) -> bytes:
    """ModelProto (IR 7, opset 11) of one graph with its metadata."""
    graph = (b"".join(_field(1, n) for n in nodes) + _field(2, "g")
             + b"".join(_field(5, _tensor(k, v)) for k, v in weights.items())
             + b"".join(_field(11, i) for i in inputs) + b"".join(_field(12, o) for o in outputs))
    props = b"".join(_field(14, _field(1, k) + _field(2, v)) for k, v in meta.items())
    return _field(1, 7) + _field(8, _field(1, "") + _field(2, 11)) + _field(7, graph) + props


def write_tiny_transducer(folder: Path, winner: int = 0, margin: float = 10.0, seed: int = 0) -> Path:
    """Write the three ``.onnx`` and ``tokens.txt``; the joiner favours ``winner`` (0: blank), by ``margin``."""
    rng = np.random.default_rng(seed)
    vocab = len(TOKENS)
    folder.mkdir(parents=True, exist_ok=True)
    encoder = _model(
        [_node("MatMul", ("x", "w_enc"), ("encoder_out",)), _node("Identity", ("x_lens",), ("encoder_out_lens",))],
        {"w_enc": (rng.standard_normal((FEATURES, DIM)) * 0.01).astype(np.float32)},
        [_value_info("x", FLOAT, ("N", "T", FEATURES)), _value_info("x_lens", INT64, ("N",))],
        [_value_info("encoder_out", FLOAT, ("N", "T", DIM)), _value_info("encoder_out_lens", INT64, ("N",))],
        {"model_type": "zipformer2"},
    )
    decoder = _model(
        [_node("Gather", ("embedding", "y"), ("embedded",), axis=0),
         _node("ReduceMean", ("embedded",), ("decoder_out",), axes=[1], keepdims=0)],
        {"embedding": (rng.standard_normal((vocab, DIM)) * 0.01).astype(np.float32)},
        [_value_info("y", INT64, ("N", CONTEXT))],
        [_value_info("decoder_out", FLOAT, ("N", DIM))],
        {"vocab_size": str(vocab), "context_size": str(CONTEXT)},
    )
    bias = np.zeros(vocab, np.float32)
    bias[winner] = margin
    joiner = _model(
        [_node("Add", ("encoder_out", "decoder_out"), ("summed",)), _node("Tanh", ("summed",), ("hidden",)),
         _node("MatMul", ("hidden", "w_out"), ("scores",)), _node("Add", ("scores", "b_out"), ("logit",))],
        {"w_out": (rng.standard_normal((DIM, vocab)) * 0.01).astype(np.float32), "b_out": bias},
        [_value_info("encoder_out", FLOAT, ("N", DIM)), _value_info("decoder_out", FLOAT, ("N", DIM))],
        [_value_info("logit", FLOAT, ("N", vocab))],
        {},
    )
    for name, data in (("encoder", encoder), ("decoder", decoder), ("joiner", joiner)):
        (folder / f"{name}.onnx").write_bytes(data)
    (folder / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(TOKENS)), encoding="utf-8")
    return folder
