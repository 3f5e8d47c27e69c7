"""A tracker's applied events and past states, continued from the last call instead of replayed (Rasa 3.6).

A turn asks for the tracker's past states about six times (each policy, rules twice, three predictions a
typed question) and for its applied events about eight times; Rasa replays every event of the tracker on a
fresh copy each time, so a turn cost more the longer the loaded window (bench/results/rasa_turn_profile.json:
the states were the largest part of what grew from turn 2 to turn 100). Here each tracker keeps where the
last call stopped: the events it had seen, and for the states Rasa's own fold (the replayed copy, the states
so far, the last ML action, whether the turn was hidden). A later call on the same tracker checks by
identity that the events it saw are still its first events, and folds in only the new ones; anything else
(a reverted event, a new loop name, another domain) starts over the way Rasa does. Callers get copies, so
what they change in the states never reaches the cache (tests/dialogue/test_rasa_history.py compares both
with Rasa's on every prefix of varied conversations).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

_APPLIED = "_tthc_applied"  # tracker attribute: (events seen, loop names, applied events)
_STATES = "_tthc_states"  # tracker attribute: {(omit_unset_slots, ignore_rule_only_turns): _StatesFold}
HISTORY_ATTRIBUTES = (_APPLIED, _STATES)
RASA_APPLIED_EVENTS = DialogueStateTracker.applied_events  # Rasa's own, for the tests' comparisons
RASA_PAST_STATES = DialogueStateTracker.past_states


def _starts_with(events: Iterable[Event], seen: Sequence[Event]) -> bool:
    """Whether the first events are the very objects seen (not equal ones: the same)."""
    prefix = list(itertools.islice(events, len(seen)))
    return len(prefix) == len(seen) and all(map(operator.is_, prefix, seen))


def _apply(tracker: DialogueStateTracker, event: Event, loop_names: set[str], applied: list[Event]) -> None:
    """One step of Rasa's ``applied_events`` loop (``loop_names`` being every loop activated in the tracker)."""
    if isinstance(event, (Restarted, SessionStarted)):
        applied.clear()
    elif isinstance(event, ActionReverted):
        tracker._undo_till_previous(ActionExecuted, applied)
    elif isinstance(event, UserUtteranceReverted):
        tracker._undo_till_previous(UserUttered, applied)
        tracker._undo_till_previous(ActionExecuted, applied)
    elif (isinstance(event, ActionExecuted) and event.action_name in loop_names
          and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)):
        tracker._undo_till_previous_loop_execution(event.action_name, applied)
    else:
        applied.append(event)


def applied_events(self: DialogueStateTracker) -> list[Event]:
    """Rasa's ``applied_events``, going on from the events seen by the last call when they are still the first."""
    cached = self.__dict__.get(_APPLIED)
    if cached is not None:
        seen, loop_names, applied = cached
        if _starts_with(self.events, seen):
            new = list(itertools.islice(self.events, len(seen), None))
            # A loop activated only now changes how its earlier executions count: replay then.
            if not any(isinstance(e, ActiveLoop) and e.name and e.name not in loop_names for e in new):
                for event in new:
                    _apply(self, event, loop_names, applied)
                seen.extend(new)
                return list(applied)
    seen = list(self.events)
    loop_names = {e.name for e in seen if isinstance(e, ActiveLoop) and e.name}
    applied = []
    for event in seen:
        _apply(self, event, loop_names, applied)
    setattr(self, _APPLIED, (seen, loop_names, applied))
    return list(applied)


class _StatesFold:
    """Rasa's ``Domain.states_for_tracker_history`` as a fold that can take more events later."""

    def __init__(self, tracker: DialogueStateTracker, domain: Domain, omit_unset_slots: bool,
                 ignore_rule_only_turns: bool, rule_only_data: dict[str, Any] | None) -> None:
        """Nothing folded yet: the replay starts from the tracker's initial copy, as Rasa's does."""
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data
        self.replay = tracker.init_copy()
        self.events: list[Event] = []
        self.states: list[State] = []
        self.last_ml_action: dict[str, Any] | None = None
        self.turn_was_hidden = False

    def fits(self, domain: Domain, rule_only_data: dict[str, Any] | None, applied: list[Event]) -> bool:
        """Whether this fold can go on to ``applied``: same domain and rule-only data, its events first."""
        return (domain is self.domain and rule_only_data == self.rule_only_data
                and len(applied) >= len(self.events) and all(map(operator.is_, applied, self.events)))

    def _step(self, hide_rule_turn: bool, commit: bool) -> State | None:
        """The state of the replayed tracker as it is now (the loop body of Rasa's method)."""
        domain, tracker = self.domain, self.replay
        last_ml_action, turn_was_hidden = self.last_ml_action, self.turn_was_hidden
        if self.ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and tracker.latest_action_name != tracker.active_loop_name:
                turn_was_hidden = hide_rule_turn
        if commit:
            self.last_ml_action, self.turn_was_hidden = last_ml_action, turn_was_hidden
        if self.ignore_rule_only_turns and turn_was_hidden:
            return None
        state = domain.get_active_state(tracker, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if last_ml_action:
                state[PREVIOUS_ACTION] = last_ml_action
        return domain._clean_state(state)

    def advance(self, applied: list[Event]) -> list[State]:
        """Fold in the applied events not seen yet; the states of the whole history, copied."""
        for event in applied[len(self.events):]:
            if isinstance(event, ActionExecuted):
                state = self._step(event.hide_rule_turn, commit=True)
                if state is not None:
                    self.states.append(state)
            self.replay.update(event)
            self.events.append(event)
        last = self._step(False, commit=False)
        return _copied(self.states if last is None else [*self.states, last])


def _copied(states: list[State]) -> list[State]:
    """The states with their own dictionaries, shared between states where Rasa's share them."""
    copies: dict[int, Any] = {}

    def copy_of(sub_state: Any) -> Any:
        if not isinstance(sub_state, dict):
            return sub_state
        if id(sub_state) not in copies:
            copies[id(sub_state)] = dict(sub_state)
        return copies[id(sub_state)]

    return [{kind: copy_of(sub_state) for kind, sub_state in state.items()} for state in states]


def past_states(self: DialogueStateTracker, domain: Domain, omit_unset_slots: bool = False,
                ignore_rule_only_turns: bool = False, rule_only_data: dict[str, Any] | None = None) -> list[State]:
    """Rasa's ``past_states``, folding in only the events added since the last call with the same arguments."""
    applied = self.applied_events()
    folds: dict[tuple[bool, bool], _StatesFold] = self.__dict__.setdefault(_STATES, {})
    key = (bool(omit_unset_slots), bool(ignore_rule_only_turns))
    fold = folds.get(key)
    if fold is None or not fold.fits(domain, rule_only_data, applied):
        fold = folds[key] = _StatesFold(self, domain, key[0], key[1], rule_only_data)
    return fold.advance(applied)


def install() -> None:
    """Replace the tracker's ``applied_events`` and ``past_states`` (calling it again is harmless)."""
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]
    DialogueStateTracker.past_states = past_states  # type: ignore[method-assign]
