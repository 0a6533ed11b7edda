"""A micro-batcher in front of a model: distinct requests that arrive together run as one batch.

Thirty students send thirty different photos within a second. Run one by one, every request pays the
model's fixed costs (Python overhead, small matrix products that leave the CPU's vector units or the
GPU half idle); run as batches, they share them. `MicroBatcher.submit(key, item)` is called by each
request's own thread and blocks until that item's result is ready:

- the first request of a key becomes the *leader*: it waits up to `window_s` for company (or until
  `max_batch` items are there), takes the waiting items, and runs them as one batch in its own thread;
- requests arriving while a batch of their key runs wait; when the batch ends, the oldest of them
  leads the next batch (so whatever piled up while the model was busy runs together, at once);
- a batch only ever holds items of one key: the caller makes the key from what must not be mixed
  (for a CNN: the model and the layers it reads);
- each caller gets its own result, or its own exception: when a batch fails as a whole, its items are
  run again one by one, so one bad item (or a batch too large for memory) never fails the others.

No thread of its own: batches run in the callers' threads (one of them per batch), so thread-owned
state such as a request's forward hooks keeps working, and nothing needs starting or stopping.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class _Waiting:
    """One submitted item, waiting for its result (or for its turn to lead a batch)."""

    __slots__ = ("item", "arrived", "lead", "settled", "done", "result", "error")

    def __init__(self, item: Any):
        self.item = item
        self.arrived = time.monotonic()
        self.lead = False
        self.settled = False  # result or error set (by the leader's thread)
        self.done = False  # settled and handed back (under the lock): the waiter may return
        self.result: Any = None
        self.error: BaseException | None = None


class _Group:
    """The items of one key that wait for a batch, and whether a batch of that key is running."""

    __slots__ = ("waiting", "running")

    def __init__(self):
        self.waiting: list[_Waiting] = []
        self.running = False


class MicroBatcher:
    """run_batch(key, items) -> results, one per item, in order: runs one batch (all items share `key`).

    max_batch: the most items in one batch (1 = one by one, the baseline). window_s: how long the first
    item of a batch waits for others to arrive (a lone request pays at most this much).
    """

    def __init__(self, run_batch: Callable[[Hashable, list], list], max_batch: int = 8, window_s: float = 0.004,
                 name: str = "batcher"):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.run_batch = run_batch
        self.max_batch = int(max_batch)
        self.window_s = float(window_s)
        self.name = name
        self._groups: dict[Hashable, _Group] = {}
        self._changed = threading.Condition()
        self.sizes: dict[int, int] = {}  # batch size -> how many batches ran with it (bench and tests)
        self.split = 0  # batches that failed as a whole and were run again one by one

    def submit(self, key: Hashable, item: Any) -> Any:
        """The result of `item`, computed in a batch with other items of the same `key`."""
        waiting = _Waiting(item)
        with self._changed:
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group()
            group.waiting.append(waiting)
            if not group.running:
                group.running = True
                waiting.lead = True
            self._changed.notify_all()  # a leader gathering a batch may now have enough
            while not waiting.done and not waiting.lead:
                self._changed.wait()
        if not waiting.done:
            self._lead(key, group)
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def _lead(self, key: Hashable, group: _Group) -> None:
        """Gather a batch (up to `window_s` after its oldest item arrived), run it, hand over the lead."""
        batch: list[_Waiting] = []
        try:
            with self._changed:
                deadline = group.waiting[0].arrived + self.window_s
                while len(group.waiting) < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
                batch = group.waiting[:self.max_batch]
                del group.waiting[:self.max_batch]
                self.sizes[len(batch)] = self.sizes.get(len(batch), 0) + 1
            self._run(key, batch)
        except BaseException as exc:  # e.g. KeyboardInterrupt in the leader: no follower may wait forever
            for waiting in batch:
                if not waiting.settled:
                    waiting.error, waiting.settled = exc, True
            raise
        finally:
            with self._changed:
                for waiting in batch:
                    waiting.done = True
                if group.waiting:
                    group.waiting[0].lead = True  # the oldest waiting item runs the next batch
                else:
                    group.running = False
                    if self._groups.get(key) is group:
                        del self._groups[key]
                self._changed.notify_all()

    def _run(self, key: Hashable, batch: list[_Waiting]) -> None:
        try:
            results = self.run_batch(key, [waiting.item for waiting in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for a batch of {len(batch)}")
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].settled = exc, True
                return
            # Run each item alone: each caller gets its own result or its own exception.
            with self._changed:
                self.split += 1
            for waiting in batch:
                self._run(key, [waiting])
            return
        for waiting, result in zip(batch, results):
            waiting.result, waiting.settled = result, True

    def batches(self) -> int:
        """How many batches have run."""
        with self._changed:
            return sum(self.sizes.values())
