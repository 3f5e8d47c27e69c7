"""A spoken test set of hotline requests for bench/voice_bench.py (synthetic: espeak-ng through G.711).

No natural recordings of callers exist here, so every utterance is synthesised with espeak-ng's
Vietnamese voice at 8 kHz and passed through G.711 µ-law, as on a phone line. espeak-ng is far less
intelligible than a person (see shared notes: ASR round-trip WER 57-92 %), so speech figures from this
set are a pessimistic floor, not a forecast for real callers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from knowledge.schema import Procedure

STATUS = ["tôi muốn tra cứu hồ sơ", "cho tôi hỏi tình trạng hồ sơ", "hồ sơ của tôi đến đâu rồi",
          "tra cứu hồ sơ giúp tôi", "kiểm tra kết quả hồ sơ", "tôi muốn biết hồ sơ của tôi đã xong chưa",
          "tra cứu mã hồ sơ", "hồ sơ của em giải quyết đến đâu rồi ạ", "xem tình trạng hồ sơ", "tra cứu hồ sơ đã nộp"]
OPERATOR = ["gặp nhân viên", "cho tôi gặp tổng đài viên", "tôi muốn gặp nhân viên", "chuyển máy cho tổng đài viên",
            "gặp người thật", "cho em nói chuyện với nhân viên", "gặp tư vấn viên", "nối máy cho nhân viên giúp tôi"]
YES = ["đúng rồi", "vâng", "đúng", "vâng đúng rồi", "có"]
NO = ["không", "không phải", "sai rồi", "không đúng", "không phải ạ"]
TEMPLATES = ["cho tôi hỏi {name}", "{name} cần giấy tờ gì", "tôi muốn {name}", "thủ tục {name}",
             "{name} làm ở đâu", "hỏi về {name}"]
CODES = ["000.00.20.H57-240101-0001", "000.00.12.H29-231215-0042", "000.00.05.H01-240305-1234",
         "000.00.31.H48-240110-0007", "000.00.20.H57-240202-0310", "000.00.08.G01-231130-0099",
         "000.00.14.H35-240415-2718", "000.00.20.H57-240520-0505", "000.00.11.H24-240611-0808",
         "000.00.27.H79-240701-1111"]


@dataclass(frozen=True)
class Utterance:
    """One request: what is said, what kind it is, and the right outcome."""

    text: str
    kind: str  # procedure | status | code | yes | no | operator
    expected: str = ""  # procedure code or dossier code


def build(procedures: list[Procedure], n_procedures: int = 24, seed: int = 7) -> list[Utterance]:
    """≥ 60 utterances: procedure questions (aliases and titles), status requests, codes, yes/no, operator."""
    from connectors.voice.normalize import read_dossier_code

    rng = random.Random(seed)
    named = [(p, min(p.aliases, key=len) if p.aliases else p.title) for p in procedures if not p.retired]
    rng.shuffle(named)
    out = []
    for i, (p, name) in enumerate(named[:n_procedures]):
        short = name if len(name) <= 60 else p.title.split("(")[0].split(";")[0][:60]
        out.append(Utterance(TEMPLATES[i % len(TEMPLATES)].format(name=short.lower()), "procedure", p.code))
    out += [Utterance(t, "status") for t in STATUS]
    out += [Utterance(read_dossier_code(c), "code", c) for c in CODES]
    out += [Utterance(t, "yes") for t in YES] + [Utterance(t, "no") for t in NO]
    out += [Utterance(t, "operator") for t in OPERATOR]
    return out
