"""Fixed prompts are synthesised once at start-up and never evicted by the per-sentence cache."""

from __future__ import annotations

from connectors.voice.menu import FIXED
from connectors.voice.normalize import render_for_speech
from connectors.voice.tts import EspeakTTS, Voice, prompt_key, split_sentences


async def test_warm_pins_fixed_prompts() -> None:
    voice = Voice(EspeakTTS(), None, cache_size=2)
    await voice.warm([render_for_speech(t) for t in FIXED])
    sentences = [s for t in FIXED for s in split_sentences(render_for_speech(t))]
    assert {prompt_key(s) for s in sentences} <= set(voice.pinned)
    first = voice.pinned[prompt_key(sentences[0])]
    for i in range(5):  # other sentences churn the small LRU cache
        await voice.sentence(f"Câu thứ {i}.")
    assert len(voice.cache) <= 2
    assert await voice.sentence(sentences[0]) is first
