"""The action server's one settings object: every capability it runs, read once at start-up."""

from __future__ import annotations

from pydantic import Field

from desk.settings import DeskSettings
from dossier.settings import DossierSettings
from knowledge.config import KnowledgeSettings


class ActionServerSettings(KnowledgeSettings, DossierSettings, DeskSettings):
    """Settings of the action-server process: knowledge, dossier and desk, plus where it listens."""

    host: str = Field("127.0.0.1", alias="ACTION_SERVER_HOST")
    port: int = Field(5055, alias="ACTION_SERVER_PORT")
