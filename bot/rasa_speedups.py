"""Work Rasa 3.6 repeats on every custom action call, done once (runs inside Rasa on Python 3.10).

Profiled under load (bench/results/efficiency_profile_baseline.json), a call to the action server cost
Rasa more CPU than NLU and the policies together: ``RemoteAction`` checks the whole events JSON schema
against the JSON-Schema meta-schema before validating each response (``jsonschema.validate``), and
rebuilds the domain's dictionary (``Domain.as_dict``) for each request. Here the validators are built once,
each event of a response is checked against the schema of its own kind only (Rasa's ``oneOf`` tries all
23 kinds on each), the domain's dictionary is built once per loaded domain, and the calls go through one
kept-alive session (``bot.rasa_http``); requests and accepted or refused responses stay exactly as Rasa's
(tests/dialogue/test_rasa_speedups.py compares them).

TED, the costliest policy (a TensorFlow call per prediction, three predictions per typed question), can
never win where the rules or memoization predict with confidence 1: the ensemble picks the highest
confidence and breaks ties by priority, and TED's is the lowest. So the other policies run first, and TED
only when none of them is sure (or an action was just rejected, or the model is end-to-end); the
prediction is the one the whole ensemble would give (tests/dialogue/test_ted_deferral.py).
Every event read back (a stored tracker, an action server's response) is turned into an object by
``Event.resolve_by_type``, which walked every subclass of ``Event`` (``inspect.isabstract`` on each) per
event: a third of a millisecond each, the largest part of loading a tracker. The classes are looked up
in a table instead, built in Rasa's order and rebuilt when a name is missing.
The model's graphs (the NLU pipeline once per message, the policies once per prediction) were run by dask,
which builds and orders a task graph on every call (~2.5 ms a typed question); the same nodes are called
here in an order computed once per graph (tests/dialogue/test_graph_runner.py).
``install()`` is called by the tracker store when Rasa creates it at start-up; calling it again is harmless.
"""

from __future__ import annotations

from typing import Any

import rasa
import rasa.shared.utils.common
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.core.processor import MessageProcessor
from rasa.engine.constants import PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, Event
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.utils.schemas.events import EVENT_SCHEMA
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_history, rasa_http

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


_event_validators: dict[str, Any] = {}
_responses: list[Any] = []


def _event_validator(type_name: Any) -> Any:
    """A validator of one kind of event: the event schema with the one ``oneOf`` branch of that kind, or None."""
    if not _event_validators:
        from jsonschema.validators import validator_for

        base = {k: v for k, v in EVENT_SCHEMA.items() if k != "oneOf"}
        for branch in EVENT_SCHEMA["oneOf"]:
            schema = {**base, "allOf": [branch]}
            _event_validators[branch["properties"]["event"]["const"]] = validator_for(schema)(schema)
    return _event_validators.get(type_name) if isinstance(type_name, str) else None


def _surely_valid(result: Any) -> bool:
    """Whether a response passes Rasa's schema, checking each event against its own kind only.

    The ``oneOf`` of Rasa's event schema tries all 23 kinds on every event; their ``event`` constants differ, so
    an event matches the ``oneOf`` exactly when it matches the branch of its own kind. False means "check it
    the slow way", not "invalid".
    """
    if not isinstance(result, dict) or not _responses_validator().is_valid(
        {k: v for k, v in result.items() if k != "events"}
    ):
        return False
    events = result.get("events", [])
    if not isinstance(events, list):
        return False
    for event in events:
        validator = _event_validator(event.get("event")) if isinstance(event, dict) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _responses_validator() -> Any:
    """The response schema without its events (checked one by one), built once."""
    if not _responses:
        from jsonschema.validators import validator_for

        schema = RemoteAction.action_response_format_spec()
        schema = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "events"}}
        _responses.append(validator_for(schema)(schema))
    return _responses[0]


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server response: event by event, and the whole schema (Rasa's error) if that fails."""
    from jsonschema.exceptions import best_match

    if _surely_valid(result):
        return True

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


_plans: dict[int, tuple[GraphSchema, Any]] = {}  # id(schema) -> (schema, plan or None)


def _deferral_plan(schema: GraphSchema, target: str) -> tuple[list[str], int] | None:
    """The ensemble's other policy nodes, in its order, and TED's top priority; None when TED cannot wait."""
    node = schema.nodes.get(target)
    if node is None or node.uses is not DefaultPolicyPredictionEnsemble or "end_to_end_features_provider" in (
        schema.nodes
    ):
        return None
    policies = [name for key, name in node.needs.items() if key not in ("domain", "tracker")]
    deferred = [name for name in policies if issubclass(schema.nodes[name].uses, TEDPolicy)]
    if not deferred or len(deferred) == len(policies):
        return None
    priority = max(int({**TEDPolicy.get_default_config(), **schema.nodes[n].config}["priority"]) for n in deferred)
    return [name for name in policies if name not in deferred], priority


def _last_action_rejected(tracker: DialogueStateTracker) -> bool:
    """Whether the latest action event is a rejection (the ensemble then zeroes that action everywhere)."""
    for event in reversed(tracker.events):
        if isinstance(event, (ActionExecuted, ActionExecutionRejected)):
            return isinstance(event, ActionExecutionRejected)
    return False


_original_predict = MessageProcessor._predict_next_with_tracker


def _predict_next_with_tracker(self: MessageProcessor, tracker: DialogueStateTracker) -> PolicyPrediction:
    """The ensemble's prediction, running TED only when no policy that outranks it is sure."""
    schema, target = self.model_metadata.predict_schema, self.model_metadata.core_target
    cached = _plans.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = (schema, _deferral_plan(schema, target) if target else None)
        _plans[id(schema)] = cached
    plan = cached[1]
    if plan is None or tracker.followup_action or _last_action_rejected(tracker):
        return _original_predict(self, tracker)
    first, ted_priority = plan
    results = self.graph_runner.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=first)
    predictions = [results[name] for name in first]
    if not any(p.max_confidence >= 1.0 and p.policy_priority > ted_priority and not p.is_end_to_end_prediction
               for p in predictions):
        return _original_predict(self, tracker)
    return DefaultPolicyPredictionEnsemble().combine_predictions(predictions, tracker, self.domain)


_original_remote_init = RemoteAction.__init__


def _remote_action_init(self: RemoteAction, name: str, action_endpoint: EndpointConfig | None) -> None:
    """Rasa's ``RemoteAction``, calling the action server through ``bot.rasa_http``'s kept-alive session."""
    _original_remote_init(self, name, rasa_http.kept_alive(action_endpoint))


_orders: dict[tuple[int, tuple[str, ...]], tuple[GraphSchema, list[tuple[str, tuple[str, ...]]]]] = {}


def _run_order(schema: GraphSchema, targets: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """The nodes the targets need, each after the nodes it needs, with the names of its inputs (once per schema)."""
    cached = _orders.get((id(schema), targets))
    if cached is not None and cached[0] is schema:
        return cached[1]
    order: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in schema.nodes:
            return
        seen.add(name)
        needs = tuple(schema.nodes[name].needs.values())
        for need in needs:
            visit(need)
        order.append((name, needs))

    for target in targets:
        visit(target)
    _orders[(id(schema), targets)] = (schema, order)
    return order


def _run_graph(self: DaskGraphRunner, inputs: dict[str, Any] | None = None,
               targets: list[str] | None = None) -> dict[str, Any]:
    """``DaskGraphRunner.run`` without building a dask graph per call: the same nodes, in dependency order."""
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    # As in dask: an input is the task ``(name, value)``; a node gets its parents' ``(name, output)`` pairs.
    results: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in self._graph_schema.nodes:
            raise GraphRunError(f"Input value '{value}' clashes with a node name. Make sure that none of the input "
                                f"names passed to the `run` method are the same as node names in the graph schema.")
        results[name] = (name, value)
    try:
        for name, needs in _run_order(self._graph_schema, run_targets):
            results[name] = self._instantiated_nodes[name](*[results.get(need, need) for need in needs])
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results[target] for target in run_targets)


_event_classes: dict[str, type[Event]] = {}


def _resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type`` from a table (the first subclass of that name, as Rasa's walk finds it)."""
    cls = _event_classes.get(type_name)
    if cls is None:
        for found in rasa.shared.utils.common.all_subclasses(Event):
            _event_classes.setdefault(found.type_name, found)
        cls = _event_classes.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install() -> None:
    """Replace two methods of ``RemoteAction``, the processor's prediction, the event lookup and the history (once)."""
    if getattr(RemoteAction, _INSTALLED, False):
        return
    rasa_history.install()
    Event.resolve_by_type = staticmethod(_resolve_event_type)  # type: ignore[method-assign,assignment]
    RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    RemoteAction.__init__ = _remote_action_init  # type: ignore[method-assign]
    DaskGraphRunner.run = _run_graph  # type: ignore[method-assign]
    MessageProcessor._predict_next_with_tracker = _predict_next_with_tracker  # type: ignore[method-assign]
    setattr(RemoteAction, _INSTALLED, True)
