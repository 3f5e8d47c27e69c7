"""Work Rasa 3.6 repeats on every custom action call, done once (runs inside Rasa on Python 3.10).

Profiled under load (bench/results/efficiency_profile_baseline.json), a call to the action server cost
Rasa more CPU than NLU and the policies together: ``RemoteAction`` checks the whole events JSON schema
against the JSON-Schema meta-schema before validating each response (``jsonschema.validate``), and
rebuilds the domain's dictionary (``Domain.as_dict``) for each request. Here the validator is built once
per response schema and the domain's dictionary once per loaded domain; requests and accepted or
refused responses stay exactly as Rasa's (tests/dialogue/test_rasa_speedups.py compares them).
``install()`` is called by the tracker store when Rasa creates it at start-up; calling it again is harmless.
"""

from __future__ import annotations

from typing import Any

import rasa
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

_INSTALLED = "_tthc_speedups"
_validators: dict[type, Any] = {}
_domain_dict: list[Any] = [None, None]  # [domain, its as_dict()]: one model is loaded at a time


def domain_dict(domain: Domain) -> dict[str, Any]:
    """``domain.as_dict()``, computed once per domain object (a new model brings a new one)."""
    if _domain_dict[0] is not domain:
        _domain_dict[:] = [domain, domain.as_dict()]
    return _domain_dict[1]  # type: ignore[no-any-return]


def _action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    """The request Rasa 3.6 sends to the action server, with the domain's dictionary reused."""
    return {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker.current_state(EventVerbosity.ALL),
        "domain": domain_dict(domain),
        "version": rasa.__version__,
    }


def _validator(action: RemoteAction) -> Any:
    """The response validator of this kind of action, built (and its schema checked) once."""
    kind = type(action)
    if kind not in _validators:
        from jsonschema.validators import validator_for

        schema = action.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validators[kind] = cls(schema)
    return _validators[kind]


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server response (``jsonschema.validate``) without re-checking the schema."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(self).iter_errors(result))
    if error is not None:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    """Replace the two methods of ``RemoteAction`` (once per process)."""
    if getattr(RemoteAction, _INSTALLED, False):
        return
    RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    setattr(RemoteAction, _INSTALLED, True)
