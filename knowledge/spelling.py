"""Typos and missing accents, repaired against the catalogue's own vocabulary.

Citizens type without accents, drop or swap a letter, or leave Telex keys in a word ("dangw kys").
Both are repaired from the words the index already holds, with no dictionary of their own:

* :func:`write_out_abbreviations` writes out what citizens abbreviate ("dk", "ko", "gplx", "cccd") in the
  text the encoder reads, so that accent restoration and the encoder see whole words (lexical search
  keeps the abbreviation, which titles use too: "thẻ BHYT", and reads the lexicon's expansion of it);
* :meth:`Speller.correct` repairs a folded syllable the catalogue never uses: Telex or VNI keys left in
  it ("giaasy", "thuongf", "d9ang"), two syllables typed as one ("khaisinh"), or else the catalogue
  syllable one edit away (a deletion, insertion, substitution or swap; a neighbouring key preferred)
  that fits best between its neighbours (the catalogue's bigrams); a well-formed Vietnamese syllable
  ("ghe", "via") is more often a word the catalogue lacks than a typo: it is repaired only into a
  syllable that makes a catalogue bigram with a neighbour;
* :meth:`Speller.restore_accents` puts the accents back on an unaccented question by choosing,
  for each syllable, the accented form that makes the most frequent catalogue bigrams (a Viterbi
  pass), so the dense encoder, which reads accented text far better, sees "đăng ký khai sinh".

Both tables are built once per index version from the lexical matrices (document frequencies), plus
the citizen phrases of the lexicon and synonyms ("định danh mức 1", "visa"), which the catalogue's
formal text lacks.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse

from common.text import fold_diacritics, nfc
from knowledge.lexical import STOPWORDS, LexicalIndex

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"\w+")
_FOLDED_WORD = re.compile(r"[a-z0-9]+")
# Syllables this short are too ambiguous to correct ("ko", "dc" are teencode, not typos).
MIN_CORRECT_LEN = 3
MAX_CANDIDATES = 6
# A citizen phrase counts as this many catalogue documents in the bigram and syllable tables.
PHRASE_COUNT = 5
# Weight of the neighbours' bigrams against a candidate's own frequency when repairing a typo.
CONTEXT_WEIGHT = 2.0
FAR_KEY_PENALTY = 2.0
# A folded Vietnamese syllable: initial consonant, vowel group, final consonant.
_SYLLABLE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
    r"(?:ieu|yeu|oai|oay|oeo|uay|uoi|uou|uya|uye|uyu|uai|ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|uo|"
    r"uu|uy|ye|ya|[aeiouy])(?:ng|nh|ch|[cmnpt])?$")
_TELEX_TONES = re.compile(r"(?<=[aeiouy])([a-z]*?)[fjrsxz]+")
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_AT = {c: (r, i) for r, row in enumerate(_KEYBOARD) for i, c in enumerate(row)}
# What citizens abbreviate, written out in place (folded key → words); folded in an unaccented question.
CITIZEN_ABBREVIATIONS = {
    "ko": "không", "k": "không", "hok": "không", "dc": "được", "đc": "được",
    "dk": "đăng ký", "đk": "đăng ký", "dky": "đăng ký", "đky": "đăng ký", "dki": "đăng ký",
    "lm": "làm", "ng": "người", "nc": "nước", "xn": "xác nhận", "vp": "văn phòng", "bn": "bao nhiêu",
    "ntn": "như thế nào", "j": "gì", "mk": "mình", "sdt": "số điện thoại", "cty": "công ty",
    "gplx": "giấy phép lái xe", "cmnd": "chứng minh nhân dân", "cmt": "chứng minh nhân dân",
    "cccd": "căn cước công dân", "bhxh": "bảo hiểm xã hội", "bhyt": "bảo hiểm y tế",
    "sdd": "sử dụng đất", "qsdd": "quyền sử dụng đất", "gcn": "giấy chứng nhận", "gp": "giấy phép",
    "tncn": "thu nhập cá nhân", "tnld": "tai nạn lao động", "tnlđ": "tai nạn lao động", "hkd": "hộ kinh doanh",
    "qsdđ": "quyền sử dụng đất", "sdđ": "sử dụng đất", "ubnd": "ủy ban nhân dân", "onl": "trực tuyến",
    "online": "trực tuyến", "pp": "hộ chiếu", "passport": "hộ chiếu",
    # Session 7. Ambiguous alone, so only in a phrase: ck (chuyển khoản), ks (khách sạn, kỹ sư), kh (không,
    # khách hàng), bs (bổ sung), tn (thanh niên, tốt nghiệp), đt/dt (đầu tư, diện tích), ca (ca làm, ca sĩ).
    "vk": "vợ", "vk ck": "vợ chồng", "ck vk": "chồng vợ", "ck tôi": "chồng tôi", "ck toi": "chồng tôi",
    "ck em": "chồng em", "ck e": "chồng em", "ck mình": "chồng mình", "ck minh": "chồng mình",
    "giấy ks": "giấy khai sinh", "giay ks": "giấy khai sinh", "làm ks": "làm khai sinh", "lam ks": "làm khai sinh",
    "gks": "giấy khai sinh", "đkkh": "đăng ký kết hôn", "dkkh": "đăng ký kết hôn", "giấy kh": "giấy kết hôn",
    "giay kh": "giấy kết hôn", "lltp": "lý lịch tư pháp", "llttp": "lý lịch tư pháp",
    "gpkd": "giấy phép kinh doanh", "đkkd": "đăng ký kinh doanh", "dkkd": "đăng ký kinh doanh",
    "gpxd": "giấy phép xây dựng", "mst": "mã số thuế", "blx": "bằng lái xe", "bhtn": "bảo hiểm thất nghiệp",
    "xkld": "xuất khẩu lao động", "xklđ": "xuất khẩu lao động", "giấy bs": "giấy bác sĩ", "giay bs": "giấy bác sĩ",
    "bhxh tn": "bảo hiểm xã hội tự nguyện", "bhyt tn": "bảo hiểm y tế tự nguyện",
    "qua đt": "qua điện thoại", "qua dt": "qua điện thoại", "trên đt": "trên điện thoại",
    "tren dt": "trên điện thoại", "ca xã": "công an xã", "ca xa": "công an xã", "ca phường": "công an phường",
    "ca phuong": "công an phường", "đk kh": "đăng ký kết hôn", "dk kh": "đăng ký kết hôn",
    "đăng ký kh": "đăng ký kết hôn", "dang ky kh": "đăng ký kết hôn", "lấy ck": "lấy chồng", "lay ck": "lấy chồng",
    "lấy vk": "lấy vợ", "lm ks": "làm khai sinh", "đk ks": "đăng ký khai sinh", "dk ks": "đăng ký khai sinh",
    # Session 9: chat shorthand. Left alone as ambiguous: gđ (gia đình, giám đốc), hs (hồ sơ, học sinh),
    # bv (bệnh viện, bảo vệ), tp (thành phố, thực phẩm), tk (tài khoản, tham khảo), so only in a phrase.
    "sđ": "sổ đỏ", "hộ gđ": "hộ gia đình", "ho gd": "ho gia dinh", "hgđ": "hộ gia đình", "antt": "an ninh trật tự",
    "nộp hs": "nộp hồ sơ", "nop hs": "nộp hồ sơ", "bv tỉnh": "bệnh viện tỉnh", "bv tinh": "bệnh viện tỉnh",
    "bv huyện": "bệnh viện huyện", "bv huyen": "bệnh viện huyện", "mún": "muốn", "hộ kd": "hộ kinh doanh",
    "ho kd": "hộ kinh doanh", "oto": "ô tô", "cq": "cơ quan", "qđ": "quyết định", "attp": "an toàn thực phẩm",
    "sđt": "số điện thoại", "tk vneid": "tài khoản VNeID", "tk ngân hàng": "tài khoản ngân hàng",
    "tk ngan hang": "tài khoản ngân hàng", "mở tk": "mở tài khoản", "mo tk": "mở tài khoản",
    "ub xã": "ủy ban xã", "ub xa": "ủy ban xã", "ub phường": "ủy ban phường", "ub phuong": "ủy ban phường",
    "hchieu": "hộ chiếu", "hso": "hồ sơ", "đki": "đăng ký", "xnc": "xuất nhập cảnh",
    "tthc": "thủ tục hành chính", "hđlđ": "hợp đồng lao động", "hdld": "hợp đồng lao động",
    "nvqs": "nghĩa vụ quân sự", "qsd": "quyền sử dụng", "kcn": "khu công nghiệp", "pccc": "phòng cháy chữa cháy",
    "gcnqsdđ": "giấy chứng nhận quyền sử dụng đất", "gcnqsdd": "giấy chứng nhận quyền sử dụng đất",
    "gtgt": "giá trị gia tăng", "tndn": "thu nhập doanh nghiệp", "tđc": "tái định cư", "tdc": "tái định cư",
    "gpmb": "giải phóng mặt bằng", "lđtbxh": "lao động thương binh và xã hội",
    "ldtbxh": "lao động thương binh và xã hội", "bnhiu": "bao nhiêu", "bít": "biết", "bik": "biết",
    "bjo": "bây giờ", "bgio": "bây giờ", "ngta": "người ta", "bme": "bố mẹ", "tgian": "thời gian", "trc": "trước",
}
# Only in capitals: a lower-case "ca" is a word (ca làm việc, ca sĩ).
CASED_ABBREVIATIONS = {"CA": "công an"}
_CASED = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, CASED_ABBREVIATIONS)) + r")(?!\w)")
_CITIZEN_KEYS = frozenset(fold_diacritics(k) for k in CITIZEN_ABBREVIATIONS)
_ABBREVIATION = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, CITIZEN_ABBREVIATIONS), key=len, reverse=True))
                           + r")(?!\w)", re.IGNORECASE)


def write_out_abbreviations(text: str) -> str:
    """``text`` with citizens' abbreviations written out (without accents when ``text`` has none)."""
    text = nfc(text)
    accented = fold_diacritics(text) != text

    def whole(match: re.Match[str]) -> str:
        words = CITIZEN_ABBREVIATIONS[match.group(1).lower()]
        return words if accented else fold_diacritics(words)

    def cased(match: re.Match[str]) -> str:
        words = CASED_ABBREVIATIONS[match.group(1)]
        return words if accented else fold_diacritics(words)

    return _ABBREVIATION.sub(whole, _CASED.sub(cased, text))


def typed_with_accents(text: str) -> list[bool]:
    """For each folded word of ``text`` (as :func:`knowledge.lexical.tokens` splits it), whether it carried accents."""
    typed = nfc(text).lower()
    return [typed[m.start():m.end()] != m.group() for m in _FOLDED_WORD.finditer(fold_diacritics(typed))]


def well_formed(syllable: str) -> bool:
    """Whether a folded syllable is shaped like a Vietnamese one (a word the catalogue may just lack)."""
    return _SYLLABLE.match(syllable) is not None


def keyboard_fold(word: str) -> str:
    """``word`` without Telex or VNI keys: tone letters after the vowel, w, doubled vowels, digits."""
    if word.isdigit():
        return word
    word = re.sub(r"\d", "", word).replace("w", "")
    word = _TELEX_TONES.sub(r"\1", word)
    word = re.sub(r"^dd", "d", word)
    return re.sub(r"([aeo])\1", r"\1", word)


def _adjacent(a: str, b: str) -> bool:
    """Whether two letters are neighbouring keys of a QWERTY keyboard."""
    (ra, ia), (rb, ib) = _KEY_AT.get(a, (9, 0)), _KEY_AT.get(b, (-9, 0))
    return abs(ra - rb) <= 1 and abs(ia - ib) <= 1


def _document_frequency(index: LexicalIndex) -> np.ndarray:
    """Number of documents containing each column's term."""
    matrix = index.matrix if sparse.isspmatrix_csc(index.matrix) else index.matrix.tocsc()
    return np.diff(matrix.indptr)


def edits1(word: str) -> set[str]:
    """Every string one deletion, swap, substitution or insertion of a letter away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


class Speller:
    """Syllable frequencies of one index, folded and accented, for typo repair and accent restoration."""

    def __init__(self, folded: LexicalIndex, accented: LexicalIndex | None, phrases: Iterable[str] = ()) -> None:
        """Count the syllables and bigrams of both lexical indexes and of the citizen ``phrases``."""
        df = _document_frequency(folded)
        self.unigrams: dict[str, int] = {}
        self.folded_bigrams: dict[str, int] = {}
        for t, c in folded.vocab.items():
            (self.folded_bigrams if "_" in t else self.unigrams)[t] = int(df[c])
        counts: dict[str, int] = {}
        self.bigrams: dict[str, int] = {}
        if accented is not None:
            adf = _document_frequency(accented)
            for term, col in accented.vocab.items():
                if "_" in term:
                    self.bigrams[term] = int(adf[col])
                elif term.isalpha():
                    counts[term] = int(adf[col])
        for phrase in phrases:
            words = _WORD.findall(nfc(phrase).lower())
            if fold_diacritics(" ".join(words)) == " ".join(words):
                # Folded spellings ("bang lai") and foreign words ("visa") are known words, not accented forms.
                for w in words:
                    self.unigrams[w] = self.unigrams.get(w, 0) + PHRASE_COUNT
                continue
            for w in words:
                counts[w] = counts.get(w, 0) + PHRASE_COUNT
                f = fold_diacritics(w)
                self.unigrams[f] = self.unigrams.get(f, 0) + PHRASE_COUNT
            for a, b in itertools.pairwise(words):
                self.bigrams[f"{a}_{b}"] = self.bigrams.get(f"{a}_{b}", 0) + PHRASE_COUNT
                key = f"{fold_diacritics(a)}_{fold_diacritics(b)}"
                self.folded_bigrams[key] = self.folded_bigrams.get(key, 0) + PHRASE_COUNT
        self.forms: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for term, n in counts.items():
            self.forms[fold_diacritics(term)].append((term, n))
        for key in self.forms:
            self.forms[key].sort(key=lambda f: -f[1])
            del self.forms[key][MAX_CANDIDATES:]

    def known(self, syllable: str) -> bool:
        """Whether the catalogue uses this folded syllable."""
        return syllable in self.unigrams

    def correction(self, syllable: str, left: str | None = None, right: str | None = None) -> str | None:
        """The repair of an unknown syllable between neighbours ``left`` and ``right`` (one or two words), or None."""
        if (self.known(syllable) or len(syllable) < MIN_CORRECT_LEN or syllable in STOPWORDS
                or syllable in _CITIZEN_KEYS):
            return None
        if not syllable.isalpha():
            unkeyed = keyboard_fold(syllable)
            return unkeyed if unkeyed != syllable and self.known(unkeyed) else None
        formed = well_formed(syllable)
        unkeyed = keyboard_fold(syllable)
        if unkeyed != syllable and self.known(unkeyed):
            return unkeyed
        split = None if formed else self._split(syllable)
        if split is not None:
            return split
        best, best_score = None, -math.inf
        for c in edits1(syllable):
            n = self.unigrams.get(c)
            # A slip of a Vietnamese word gives a Vietnamese word: an abbreviation the catalogue uses
            # ("cntt") is no repair of one the citizen typed ("antt": an ninh trật tự).
            if n is None or not well_formed(c):
                continue
            context = (math.log1p(self.folded_bigrams.get(f"{left}_{c}", 0) if left else 0)
                       + math.log1p(self.folded_bigrams.get(f"{c}_{right}", 0) if right else 0))
            if formed and not context:
                continue  # a well-formed syllable is repaired only into a word its neighbours confirm
            score = math.log1p(n) + CONTEXT_WEIGHT * context
            if len(c) == len(syllable):
                diff = [(a, b) for a, b in zip(syllable, c, strict=True) if a != b]
                # A letter typed for another far from it on the keyboard is the rarest slip.
                score -= FAR_KEY_PENALTY if len(diff) == 1 and not _adjacent(*diff[0]) else 0.0
            if score > best_score:
                best, best_score = c, score
        return best

    def _split(self, word: str) -> str | None:
        """Two catalogue syllables typed without the space between them ("khaisinh"), or None."""
        best = max(((self.folded_bigrams.get(f"{word[:k]}_{word[k:]}", 0), k) for k in range(2, len(word) - 1)
                    if word[:k] in self.unigrams and word[k:] in self.unigrams), default=(0, 0))
        return f"{word[:best[1]]} {word[best[1]:]}" if best[0] > 0 else None

    def correct(self, folded_words: list[str], with_accents: Sequence[bool] = ()) -> list[str]:
        """The words with every unknown syllable replaced by its repair (when there is one).

        ``with_accents[i]`` says the citizen typed word ``i`` with accents: a well-formed one is then
        meant as typed ("vài"), however rare in the catalogue.
        """
        out = list(folded_words)
        for i, w in enumerate(folded_words):
            if i < len(with_accents) and with_accents[i] and well_formed(w):
                continue
            left = out[i - 1].split()[-1] if i else None
            right = folded_words[i + 1] if i + 1 < len(folded_words) else None
            out[i] = self.correction(w, left, right) or w
        return out

    def restore_accents(self, text: str) -> str:
        """``text`` (unaccented) with the accents the catalogue's bigrams make most likely."""
        words = _WORD.findall(nfc(text).lower())
        if not words:
            return ""
        options = [[f for f, _ in self.forms.get(w, [])] or [w] for w in words]
        # Viterbi over accented forms: log document frequency of each bigram, a little of each unigram.
        unigram = [{f: math.log1p(n) * 0.1 for f, n in self.forms.get(w, [])} for w in words]
        score = [unigram[0].get(f, 0.0) for f in options[0]]
        back: list[list[int]] = []
        for i in range(1, len(words)):
            row, ptr = [], []
            for f in options[i]:
                best_j, best = 0, -math.inf
                for j, g in enumerate(options[i - 1]):
                    s = score[j] + math.log1p(self.bigrams.get(f"{g}_{f}", 0))
                    if s > best:
                        best_j, best = j, s
                row.append(best + unigram[i].get(f, 0.0))
                ptr.append(best_j)
            score, back = row, [*back, ptr]
        k = int(np.argmax(score))
        out = [options[-1][k]]
        for i in range(len(words) - 1, 0, -1):
            k = back[i - 1][k]
            out.append(options[i - 1][k])
        return " ".join(reversed(out))
