"""Rule-based entity extractor for dossier codes (messy forms in, canonical value out)."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.segmentation import nfc_with_offsets
from common.text import find_dossier_codes


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class DossierCodeExtractor(GraphComponent):
    """Adds a ``dossier_code`` entity, valued with the canonical code, at the original offsets."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DossierCodeExtractor:
        """Create the component."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Append dossier_code entities to each message."""
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text:
                continue
            norm, starts, ends = nfc_with_offsets(text)
            found = [
                {
                    ENTITY_ATTRIBUTE_TYPE: "dossier_code",
                    ENTITY_ATTRIBUTE_START: starts[s],
                    ENTITY_ATTRIBUTE_END: ends[e - 1],
                    ENTITY_ATTRIBUTE_VALUE: code,
                    EXTRACTOR: self.__class__.__name__,
                }
                for s, e, code in find_dossier_codes(norm)
            ]
            if found:
                existing = [e for e in message.get(ENTITIES, []) if e.get(ENTITY_ATTRIBUTE_TYPE) != "dossier_code"]
                message.set(ENTITIES, existing + found, add_to_output=True)
        return messages
