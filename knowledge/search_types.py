"""The search's settings and results: the fused score's weights, a hit, one query's component scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.query_text import DENSE_WORD_BUDGET, QUERY_CACHE_SIZE, whole_expansions

__all__ = ["Hit", "Scored", "SearchConfig", "whole_expansions"]


@dataclass(frozen=True)
class Hit:
    """One search result: procedure code, its title, and a calibrated 0..1 confidence."""

    code: str
    title: str
    score: float


@dataclass
class SearchConfig:
    """Weights of the fused score; the defaults are the measured best (bench/knowledge_bench.py)."""

    use_lexical: bool = True
    use_dense: bool = True
    use_synonyms: bool = True
    use_prior: bool = True
    lexical_weight: float = 1.0
    accent_weight: float = 0.5
    dense_weight: float = 1.3
    expansion_weight: float = 0.3
    prior_weight: float = 0.15
    qualifier_penalty: float = 0.15
    action_penalty: float = 0.2
    level_penalty: float = 0.05
    action_bonus: float = 0.1
    dense_passages: int = 256
    dense_floor: float = 0.78
    dense_span: float = 0.18
    # Logistic calibration into a confidence (fitted on the dev and out-of-scope sets, see bench).
    calib_slope: float = 12.0
    calib_offset: float = 0.55
    calib_margin_slope: float = 3.0
    # Long-tail components (bench/longtail_bench.py ablates each): citizen lexicon, aliases derived
    # from the record, result names, the province's scope, and the calibrated answer policy.
    use_lexicon: bool = True
    use_derived: bool = True
    use_result: bool = True
    use_scope: bool = True
    calibrated: bool = True
    # Uncurated procedures' core titles are also embedded with the encoder's query prompt (knowledge/derived.py).
    use_query_titles: bool = True
    lexicon_weight: float = 0.6
    derived_weight: float = 0.5
    result_weight: float = 0.1
    scope_penalty: float = 0.1
    scope_levels: tuple[str, ...] = ("cap tinh", "cap huyen", "cap xa")
    # Typos repaired against the catalogue's syllables; unaccented questions get their accents back
    # (from the catalogue's bigrams) before the dense encoder reads them (knowledge/spelling.py).
    use_spelling: bool = True
    use_accents: bool = True
    # Abbreviations citizens type ("dk", "ko", "gplx") written out in the text the encoder reads.
    use_abbreviations: bool = True
    # Lexical search reads the question with them written out as well (at this weight against its own words);
    # the lexicon and synonyms fire on the written-out text ("sđ" → "sổ đỏ" → giấy chứng nhận quyền sử dụng đất).
    lexical_abbreviations: bool = True
    abbreviation_weight: float = 1.0
    # Added to the dense weight for a question typed without accents (folded BM25 confuses bán/bạn/bản, the
    # encoder reads the re-accented text). Off: 0.5 gained only on dev questions folded by the bench (curated
    # 0.795 -> 0.821), nothing on the real unaccented dev questions, and lost 3 held-out ones (seen once).
    unaccented_dense_boost: float = 0.0
    # The encoder can also read the synonym and lexicon expansions, cut to whole ones within this many
    # characters. Off since session 8: within the 13-word budget they changed no dev answer (curated dev
    # 0.927 -> 0.932 without), and with the 391-entry lexicon they filled the budget more often (search
    # p50 35 ms -> 27 ms without, p95 41/40 -> 36 ms; bench/longtail_bench.py --latency-only, load ~1).
    dense_expansion_chars: int = 0
    # The encoder reads the question without courtesy phrases, cut with its expansions to this many
    # words (knowledge/query_text.py): most of a search's time is encoding, and it grows with the text.
    strip_courtesy: bool = True
    dense_word_budget: int = DENSE_WORD_BUDGET
    query_cache_size: int = QUERY_CACHE_SIZE
    # The learned re-ranker (knowledge/rerank.py) re-orders the fused top `rerank_k` and gives the
    # confidence; its answer threshold comes with its weights.
    use_reranker: bool = False
    rerank_k: int = 10
    # Pushes down titles by the share of their words the question (with its expansions) does not use:
    # of two sibling titles, the one without an unasked qualifier ("... thực hiện tại cấp tỉnh") wins.
    # Tuned on the dev sets (0.3: curated formal 0.737 -> 0.842; long-tail dev 0.788 -> 0.793 on its 193 rows).
    title_excess_weight: float = 0.3
    # The curated procedures are what citizens ask most; their crawl siblings (another level, a narrower
    # variant) rank below them at equal evidence. Dev (0.1): curated dev2 top-1 0.675 -> 0.713, long-tail dev
    # 0.865 -> 0.855, curated dev unchanged.
    curated_bonus: float = 0.1
    # Pushes down titles for the other kind of applicant when the question says who asks: "công ty", "trường học",
    # "hợp tác xã" against "... là cá nhân"; "hộ gia đình", "cộng đồng" against "... đối với tổ chức". Dev (0.1):
    # long-tail dev3 0.787 -> 0.794, the other tuning sets unchanged (0.2: dev3 0.800, curated dev2 0.887 -> 0.881,
    # "công ty mới nhận tôi vào làm" is a person asking).
    applicant_penalty: float = 0.1
    # Pushes down titles only for imports when the question is about exporting ("xuất lô thanh long", "bán ra nước
    # ngoài"), and the other way. Dev: long-tail dev3 0.794 -> 0.800, nothing else moved (0.1 and 0.2 alike).
    trade_penalty: float = 0.15
    # Pushes down procedures whose record lacks the level a question names ("do Bộ cấp", "Cục Quản lý xuất nhập
    # cảnh", "Công an tỉnh", "UBND xã"); a central one also lifts the scope penalty and asks for "... trung ương"
    # titles. Dev4: 0.681 -> 0.713 (0.1), 0.731 (0.2), 0.738 (0.3); 0.5 loses a long-tail dev and a dev3 question;
    # the other tuning sets never moved. Session 15, with dev5 and the narrowed lexicon: 0.3 (and 0.4) +1 on dev4 and
    # dev5 top-3 +1 over 0.2, no tuning set lower.
    level_cue_penalty: float = 0.3


@dataclass
class Scored:
    """Per-document component scores of one query (for fusion, diagnosis and the bench)."""

    lexical: np.ndarray
    dense: np.ndarray
    fused: np.ndarray
    query_terms: int
    query_columns: np.ndarray | None = None  # lexical columns of the question's own words
    query_words: int = 0  # the question's content words, known to the index or not
    folded: str = ""  # the question folded, after typo repair
    expansions: tuple[str, ...] = ()  # synonym and lexicon expansions found in it
    accented: bool = False  # whether the citizen typed accents
