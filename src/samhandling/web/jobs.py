"""Computations for the portal, run on worker threads so that no request waits on another.

A page asks for a result by key (what, for which year, on which warehouse state). The first ask
starts the computation in a small thread pool; a request waits a moment for it and otherwise shows
a progress page that reloads itself. Results are kept (up to a limit) until the warehouse changes:
the key includes the ledger's last entry, so a new delivery makes fresh results.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from samhandling.engine import Engine, make_engine
from samhandling.rules import RuleSet
from samhandling.warehouse import Warehouse

__all__ = ["Computation", "Computations", "job", "report_progress"]

Compute = Callable[[Engine], Any]

# Where the running computation (on this worker thread) reports what it is doing.
_status: ContextVar[Callable[[str], None] | None] = ContextVar("computation_status", default=None)


def report_progress(text: str) -> None:
    """Tell the progress page what the running computation is doing (Norwegian, short)."""
    hook = _status.get()
    if hook is not None:
        hook(text)


@dataclass
class Computation:
    """One computation: running, done (``result``) or failed (``error``)."""

    label: str
    future: Future[Any]
    started: float = field(default_factory=time.monotonic)
    status: str = ""

    @property
    def done(self) -> bool:
        return self.future.done()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def result(self) -> Any:
        """The result (re-raises the computation's error)."""
        return self.future.result()


class Computations:
    """A bounded pool of worker threads and a cache of their results."""

    def __init__(self, warehouse: Warehouse, *, workers: int = 2, keep: int = 64) -> None:
        self.warehouse = warehouse
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="portal-compute")
        self._keep = keep
        self._lock = threading.Lock()
        self._cache: OrderedDict[Hashable, Computation] = OrderedDict()

    def state(self) -> str:
        """What the warehouse holds now: the ledger's length and last delivery."""
        entries = self.warehouse.deliveries()
        return f"{len(entries)}:{entries[-1].delivery_id if entries else ''}"

    def submit(self, key: Hashable, label: str, compute: Compute) -> Computation:
        """The computation for ``key`` on the current warehouse, started if it is not known."""
        full_key = (self.state(), key)
        with self._lock:
            known = self._cache.get(full_key)
            if known is not None and not (known.done and known.future.exception() is not None):
                self._cache.move_to_end(full_key)
                return known
            job = Computation(label, Future())
            job.future = self._pool.submit(self._run, compute, job)
            self._cache[full_key] = job
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
            return job

    def _run(self, compute: Compute, job: Computation) -> Any:
        token = _status.set(lambda text: setattr(job, "status", text))
        try:
            return self._compute(compute)
        finally:
            _status.reset(token)

    def _compute(self, compute: Compute) -> Any:
        # One engine per computation (instruments create working tables on their engine), the
        # one chosen for the portal's process (make_engine); a DuckDB one serves this thread.
        with make_engine(one_thread=True) as engine:
            self.warehouse.register(engine)
            result = compute(engine)
            if isinstance(result, pa.Table):
                # Materialise before the engine (and its Arrow buffers) goes away.
                return result.combine_chunks()
            return result

    def wait(self, jobs: list[Computation], seconds: float) -> bool:
        """Wait up to ``seconds`` for all ``jobs``; whether all are done."""
        deadline = time.monotonic() + seconds
        for job in jobs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                job.future.exception(timeout=remaining)
            except TimeoutError:
                break
        return all(j.done for j in jobs)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Portal(Protocol):
    """What :func:`job` needs of the portal: its computations and its rules."""

    @property
    def computations(self) -> Computations: ...

    @property
    def rules(self) -> RuleSet: ...


def job(
    portal: _Portal,
    label: str,
    compute: Callable[..., Any],
    *args: Hashable,
    **kwargs: Hashable,
) -> Computation:
    """The portal's one way to ask for a result: ``compute(engine, rules, *args, **kwargs)``.

    ``compute`` is a function of the instruments or indicators (or of the web modules) that
    takes an engine and the portal's rules first. The result is cached under the function's
    qualified name and its arguments, so every page that asks for the same thing shares one
    computation; ``label`` (Norwegian) is what the progress page shows while it runs.
    """
    rules = portal.rules
    key = (
        f"{compute.__module__}.{compute.__qualname__}",
        args,
        tuple(sorted(kwargs.items())),
    )
    return portal.computations.submit(
        key, label, lambda engine: compute(engine, rules, *args, **kwargs)
    )
