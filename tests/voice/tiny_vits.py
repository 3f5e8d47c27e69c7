"""A tiny random-weight Piper voice in sherpa-onnx's VITS layout, written as raw ONNX protobuf (no onnx package).

The graph keeps Piper's interface: ``input (1, T) int64, input_lengths (1,), scales (3,) -> output (1, 1, T * HOP)``,
each phoneme id looking up ``HOP`` samples of a random waveform, and the metadata of sherpa-onnx's Piper conversions
(``comment=piper``). sherpa-onnx 2.x does not phonemize, so no ``espeak-ng-data`` is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tiny_transducer import FLOAT, INT64, _model, _node, _value_info

HOP, SAMPLE_RATE = 256, 22050
PIPER_METADATA = {"model_type": "vits", "comment": "piper", "language": "Vietnamese", "voice": "vi",
                  "has_espeak": "1", "n_speakers": "1", "sample_rate": str(SAMPLE_RATE), "add_blank": "0"}
# Piper's pad, bos, eos and space, then letters, IPA and the tone digits espeak-ng writes for Vietnamese.
SYMBOLS = ["_", "^", "$", " ", *"abcdefghijklmnopqrstuvwxyz", *"ɐɑɔəɛɜɡɣɤɪɯɲŋʂʃʈʊʐʒʔːˈˌ", *"0123456789", "-", ",", "."]


def write_tiny_vits(folder: Path, seed: int = 0, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model.onnx`` and ``tokens.txt`` into ``folder`` (``metadata`` replaces the Piper metadata)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    model = _model(
        [_node("Gather", ("waveforms", "input"), ("frames",), axis=0),
         _node("Tanh", ("frames",), ("bounded",)),
         _node("Reshape", ("bounded", "out_shape"), ("output",))],
        {"waveforms": (rng.standard_normal((len(SYMBOLS), HOP)) * 0.5).astype(np.float32),
         "out_shape": np.array([1, 1, -1], np.int64)},
        [_value_info("input", INT64, (1, "T")), _value_info("input_lengths", INT64, (1,)),
         _value_info("scales", FLOAT, (3,))],
        [_value_info("output", FLOAT, (1, 1, "S"))],
        PIPER_METADATA if metadata is None else metadata,
    )
    (folder / "model.onnx").write_bytes(model)
    (folder / "tokens.txt").write_text("".join(f"{s} {i}\n" for i, s in enumerate(SYMBOLS)), encoding="utf-8")
    return folder
