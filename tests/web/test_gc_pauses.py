"""web.gc_pauses: the worker's own collection schedule freezes what survives a round, frees
cyclic garbage made since, and lets go of everything when stopped."""

from __future__ import annotations

import gc
import threading
import weakref

from openjpki.web import gc_pauses


class Node:
    pass


def test_rounds_freeze_survivors_and_collect_young_cycles(monkeypatch):
    monkeypatch.setattr(gc_pauses, "ROUND", 0.05)
    stop = threading.Event()
    worker = threading.Thread(target=gc_pauses.keep_pauses_short, args=(stop,))
    kept = [Node() for _ in range(10)]
    worker.start()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle only a collection frees
        gone = weakref.ref(a)
        del a, b
        deadline = threading.Event()
        for _ in range(100):
            if gone() is None and gc.get_freeze_count() > 0:
                break
            deadline.wait(0.05)
        assert gone() is None
        assert gc.get_freeze_count() > 0
    finally:
        stop.set()
        worker.join(5)
    assert gc.get_freeze_count() == 0  # unfrozen when stopped
    assert len(kept) == 10
