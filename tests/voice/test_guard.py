"""Recogniser output checks: loops, prompt echoes and texts too long for the audio are discarded."""

from __future__ import annotations

import pytest

from connectors.voice.asr import build_prompt
from connectors.voice.guard import max_new_tokens, prompt_echo, rejection, repeats, syllables

PROMPT = build_prompt(["cấp lại căn cước", "đăng ký khai sinh", "mất sổ đỏ"])


@pytest.mark.parametrize(("text", "audio_s", "why"), [
    ("Cho em hỏi cấp lại căn cước cần gì ạ?", 3.0, ""),
    ("không không không", 1.5, ""),  # a real, emphatic answer
    ("không không không không không không", 2.5, "repetition"),
    ("đúng rồi đúng rồi đúng rồi", 2.5, "repetition"),
    ("bốn số cuối là một một một một", 2.5, ""),  # digits read one by one repeat for real
    ("không không không, chấm, không không, chấm, hai bảy, chấm, hát bảy chín, gạch ngang, hai bốn, không bảy, "
     "không một, gạch ngang, một một một một", 9.0, ""),
    ("hồ sơ của tôi hồ sơ của tôi hồ sơ của tôi", 6.0, "repetition"),
    ("Cảm ơn các bạn đã theo dõi và hẹn gặp lại các bạn trong những video tiếp theo nhé", 1.0,
     "too long for the audio"),
    ("tra cứu hồ sơ, mã hồ sơ, lệ phí", 3.0, "prompt echoed"),  # the prompt's own sequence
    ("Tổng đài thủ tục hành chính, tra cứu hồ sơ", 3.0, "prompt echoed"),
    ("tôi muốn tra cứu hồ sơ", 2.0, ""),  # one phrase of the prompt, said by the caller
    ("đăng ký khai sinh", 1.5, ""),
    ("", 1.0, ""),
])
def test_rejection(text: str, audio_s: float, why: str) -> None:
    assert rejection(text, audio_s, PROMPT) == why


def test_the_token_limit_grows_with_the_audio_and_is_capped() -> None:
    assert max_new_tokens(0.5) < max_new_tokens(2.0) < max_new_tokens(5.0) <= 200
    assert max_new_tokens(60.0) == 200 and max_new_tokens(0.0) >= 8


def test_repeats_and_syllables() -> None:
    assert syllables("Đăng ký, KHAI sinh!") == ["dang", "ky", "khai", "sinh"]
    assert repeats(list("abcabcabc")) and not repeats(list("abcabc"))


def test_a_single_phrase_is_not_an_echo() -> None:
    assert not prompt_echo(syllables("cho em hỏi đăng ký khai sinh"), PROMPT)
    assert prompt_echo(syllables("đăng ký khai sinh mất sổ đỏ"), PROMPT)
