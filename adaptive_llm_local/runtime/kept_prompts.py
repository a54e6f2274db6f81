"""Keeping a conversation's evaluated prompt while other prompts use the model.

llama.cpp reuses the part of a new prompt that matches what its context already holds,
so a chat's follow-up turn only evaluates the new tokens — unless another prompt (a
diagnosis, another thread) ran on the same model in between. :class:`KeptPrompts`
saves the context's key/value cells of a conversation when another prompt is about to
replace them, and puts them back when that conversation continues. Saving happens only
at such a switch (never after every call), and a bounded number of conversations is kept.

The llama-cpp-python module is passed in: only ``runtime/llama.py`` imports it.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass
class _Saved:
    tokens: Any  # numpy array of the token ids the cells hold
    data: Any  # ctypes byte array from llama_state_seq_get_data
    size: int


class KeptPrompts:
    """The evaluated prompts of up to ``capacity`` conversations, keyed by conversation id.

    Call :meth:`switch` with the lock held, before a completion, with the id of the
    conversation it continues (``None`` for a one-off prompt such as a diagnosis).
    """

    def __init__(self, llama_cpp: Any, capacity: int = 4) -> None:
        self.llama_cpp = llama_cpp
        self.capacity = capacity
        self.holder: str | None = None  # the conversation the context holds now
        self._saved: OrderedDict[str, _Saved] = OrderedDict()
        self.saves = 0
        self.restores = 0

    def __len__(self) -> int:
        return len(self._saved)

    def clear(self) -> None:
        self._saved.clear()
        self.holder = None

    def switch(self, llama: Any, conversation: str | None) -> None:
        """Make the context hold ``conversation``'s prompt, if it was kept."""
        if conversation == self.holder:
            return
        if self.holder is not None and self.capacity > 0 and llama.n_tokens > 0:
            self._save(llama, self.holder)
        self.holder = conversation
        saved = self._saved.get(conversation) if conversation is not None else None
        if saved is not None and not self._restore(llama, saved):
            del self._saved[conversation]  # type: ignore[arg-type]

    def _save(self, llama: Any, conversation: str) -> None:
        ctx = llama.ctx
        size = int(self.llama_cpp.llama_state_seq_get_size(ctx, 0))
        data = (ctypes.c_uint8 * size)()
        written = int(self.llama_cpp.llama_state_seq_get_data(ctx, data, size, 0))
        if written <= 0:
            return
        self._saved[conversation] = _Saved(llama.input_ids[: llama.n_tokens].copy(), data, written)
        self._saved.move_to_end(conversation)
        while len(self._saved) > self.capacity:
            self._saved.popitem(last=False)
        self.saves += 1

    def _restore(self, llama: Any, saved: _Saved) -> bool:
        llama._ctx.kv_cache_clear()
        if int(self.llama_cpp.llama_state_seq_set_data(llama.ctx, saved.data, saved.size, 0)) <= 0:
            llama.reset()
            return False
        n = len(saved.tokens)
        llama.input_ids[:n] = saved.tokens
        llama.n_tokens = n
        llama._requires_eval = True  # the logits are not those of the last token: re-evaluate it
        self.restores += 1
        return True
