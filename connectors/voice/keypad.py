"""Keypad input of a call: collecting DTMF digits into one input, and turning them into text for the bot."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

_GROUP_LENGTHS = (3, 2, 2, 2, 6, 4)


def keypad_to_text(keys: str, default_letter: str = "H") -> str:
    """Turn keypad input into the text sent to the bot.

    - 19 digits, or groups separated by ``*`` (3*2*2*2*6*4 digits) → a dossier code; the agency
      letter cannot be typed as a digit, so it defaults to ``default_letter`` (H: provinces), or the
      caller may type it as its own group: ``4`` = G, ``44`` = H (multi-tap on key 4).
    - Anything else: the digits themselves (e.g. the 4 verification digits).
    """
    keys = keys.strip("#*")
    groups = [g for g in keys.split("*") if g]
    letter = default_letter
    if len(groups) == 7 and groups[3] in ("4", "44"):
        letter = "G" if groups[3] == "4" else "H"
        groups = groups[:3] + groups[4:]
    digits = "".join(groups)
    if not digits.isdigit():
        return re.sub(r"\D", "", digits)
    lengths = tuple(len(g) for g in groups)
    if len(digits) == 19 and (lengths == _GROUP_LENGTHS or len(groups) == 1):
        d = digits
        return f"{d[0:3]}.{d[3:5]}.{d[5:7]}.{letter}{d[7:9]}-{d[9:15]}-{d[15:19]}"
    return digits


class Keypad:
    """Collects digits until '#', or until a pause (short when one digit picks a menu button)."""

    def __init__(self, submit: Callable[[str], None], button_wait_s: float, timeout_s: float) -> None:
        """``submit`` receives each completed input."""
        self.submit = submit
        self.button_wait_s, self.timeout_s = button_wait_s, timeout_s
        self.keys = ""
        self.task: asyncio.Task[None] | None = None

    def press(self, key: str, buttons: int, single_keys: bool = False) -> None:
        """One digit; ``buttons`` is how many choices the last reply offered; ``single_keys``: any one key is."""
        if self.task is not None:
            self.task.cancel()
        if key == "#":
            keys, self.keys = self.keys, ""
            if keys:
                self.submit(keys)
            return
        self.keys += key
        choice = len(self.keys) == 1 and (single_keys or (self.keys.isdigit() and 1 <= int(self.keys) <= buttons))
        wait = self.button_wait_s if choice else self.timeout_s
        self.task = asyncio.get_running_loop().create_task(self._timeout(wait))

    async def _timeout(self, wait: float) -> None:
        """Submit collected keys after the inter-digit timeout."""
        await asyncio.sleep(wait)
        keys, self.keys = self.keys, ""
        if keys:
            self.submit(keys)

    def close(self) -> None:
        """Stop waiting for more digits."""
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
