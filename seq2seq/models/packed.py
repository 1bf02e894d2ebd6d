"""Weights derived from parameters once, for search on a CPU: oneDNN's packed layouts
(onednn.py) and int8 copies (int8.py), kept per module as long as it lives and made
again only when a parameter changes (an in-place update bumps its version counter, a
move or a new parameter changes its storage).
"""
from __future__ import annotations

import weakref
from typing import Callable

import torch
from torch import nn

_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # module -> {name: entry}


def derived(module: nn.Module, name: str, params: tuple[torch.Tensor, ...], make: Callable):
    """`make(*params)`, computed again only when one of `params` has changed. Parameters
    made under inference mode keep no version counter: for them it is computed each time."""
    if any(p.is_inference() for p in params):
        return make(*params)
    stamp = tuple((id(p), p._version, p.data_ptr()) for p in params)
    entries = _PACKED.setdefault(module, {})
    if name not in entries or entries[name][0] != stamp:
        entries[name] = (stamp, make(*params))
    return entries[name][1]
