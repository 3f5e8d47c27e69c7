"""Rasa 3 tokenizer for Vietnamese: NFC first, protected codes/phones/dates, folded lemmas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.segmentation import merge_compounds, syllables


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Syllable (default) or pyvi word tokens; each token's lemma is its diacritic-folded form.

    Featurizers read ``lemma`` (``use_lemma: true``), so "làm giấy khai sinh" and
    "lam giay khai sinh" produce identical features, while entities keep the original offsets.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Return the component's default config."""
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # "syllable": syllables (+ n-gram features downstream); "pyvi": pyvi compounds.
            "segmenter": "syllable",
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        """Vietnamese only."""
        return ["vi"]

    def __init__(self, config: dict[str, Any]) -> None:
        """Create the tokenizer; load pyvi once if configured."""
        super().__init__(config)
        self._segment: Callable[[str], str] | None = None
        if config.get("segmenter", "syllable") == "pyvi":
            from pyvi import ViTokenizer

            self._segment = ViTokenizer.tokenize
        elif config.get("segmenter", "syllable") != "syllable":
            raise ValueError(f"unknown segmenter {config.get('segmenter')!r}: use 'syllable' or 'pyvi'")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        """Create a new component (see parent class)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenize the attribute's text; offsets refer to the text exactly as received."""
        text = message.get(attribute) or ""
        pieces = syllables(text)
        if self._segment is not None:
            pieces = merge_compounds(text, pieces, self._segment)
        tokens = [Token(p.text, p.start, p.end, lemma=p.lemma) for p in pieces]
        return self._apply_token_pattern(tokens)
