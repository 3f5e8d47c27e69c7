"""Send messages made only of words never seen in training to the fallback.

DIET spreads its confidence over the intents it knows even for keyboard mashes ("asdkjh qwe" came out
as ``affirm`` at 0.77). A message without a single known word carries no evidence for any intent,
so its intent confidence is set to 0 and the FallbackClassifier after this component takes over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT, TEXT_TOKENS
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.segmentation import PLACEHOLDERS

_PLACEHOLDER_LEMMAS = {*PLACEHOLDERS.values(), "__bon_so__"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsGuard(GraphComponent):
    """Zeroes the intent confidence of messages none of whose words occur in the training data."""

    VOCABULARY_FILE = "vocabulary.json"

    @classmethod
    def required_components(cls) -> list[type]:
        """Needs tokens (with folded lemmas)."""
        return [Tokenizer]

    def __init__(self, model_storage: ModelStorage, resource: Resource, vocabulary: set[str] | None = None) -> None:
        """Create the guard with a known vocabulary (empty until trained)."""
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsGuard:
        """Create an untrained component."""
        return cls(model_storage, resource)

    @staticmethod
    def _words(message: Message) -> list[str]:
        """The message's word lemmas, without placeholders for codes, numbers and dates."""
        return [t.lemma for t in message.get(TEXT_TOKENS) or [] if t.lemma not in _PLACEHOLDER_LEMMAS]

    def train(self, training_data: TrainingData) -> Resource:
        """Collect the folded words of all training examples and persist them."""
        vocabulary = sorted({w for m in training_data.training_examples for w in self._words(m)})
        with self._model_storage.write_to(self._resource) as directory:
            (Path(directory) / self.VOCABULARY_FILE).write_text(json.dumps(vocabulary), encoding="utf-8")
        self.vocabulary = set(vocabulary)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsGuard:
        """Load the persisted vocabulary."""
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((Path(directory) / cls.VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            words = []
        return cls(model_storage, resource, set(words))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add to training data."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Zero the confidence of messages with words but none of them known."""
        if not self.vocabulary:
            return messages
        for message in messages:
            words = self._words(message)
            if not words or any(w in self.vocabulary for w in words) or not message.get(TEXT):
                continue
            intent = message.get(INTENT) or {}
            if intent.get("name"):
                message.set(INTENT, {**intent, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                ranking = message.get(INTENT_RANKING_KEY) or []
                message.set(
                    INTENT_RANKING_KEY,
                    [{**r, PREDICTED_CONFIDENCE_KEY: 0.0} for r in ranking],
                    add_to_output=True,
                )
        return messages
