"""The `math_verify` reward: Hugging Face's math-verify package (`pip install -e ".[math]"`), run in a pool of
worker processes.

math-verify bounds its own parse and compare with signal.alarm, which only works in a process's main thread:
called from a trainer's worker thread it raises, and with its timeouts off a pathological reply can hang the
run. Each worker process runs calls in its main thread, so math-verify's own timeouts work there; the caller
also waits at most `timeout` seconds more per reply and replaces the pool when a worker is stuck (as verl
does). A reply that times out or raises scores 0, and is counted and said in one warning line per call.
"""

from __future__ import annotations

import atexit
import importlib.util
import multiprocessing
import os
import threading
import warnings

from toolkit.checkers import gold_text, text_of, to_number

INSTALL = 'pip install -e ".[math]"  (or: pip install math-verify)'


def installed() -> bool:
    return importlib.util.find_spec("math_verify") is not None


def gold_for_math_verify(gold) -> str:
    """The gold as math-verify reads it: a number written plainly ("27,200" would read as a tuple), anything
    else boxed, as verl does."""
    text = gold_text(gold)
    value = to_number(text)
    if value is not None:
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return "\\boxed{" + text + "}"


def score_in_worker(reply: str, gold: str, seconds: int) -> tuple[float, str | None]:
    """(score, the answer read from the reply or None). Runs in a worker's main thread; errors and math-verify's
    own timeouts are raised (raise_on_error) so the caller counts them."""
    from math_verify import parse, verify

    gold_parsed = parse(gold, parsing_timeout=seconds, raise_on_error=True)
    answer = parse(reply, parsing_timeout=seconds, raise_on_error=True)
    read = str(answer[-1]) if answer else None
    if not gold_parsed or not answer:
        return 0.0, read
    return (1.0 if verify(gold_parsed, answer, timeout_seconds=seconds, raise_on_error=True) else 0.0), read


def read_in_worker(reply: str, seconds: int) -> str | None:
    from math_verify import parse

    answer = parse(reply, parsing_timeout=seconds, raise_on_error=True)
    return str(answer[-1]) if answer else None


def call(function, args):
    """Run in the worker: exceptions come back as values, since math-verify's TimeoutException is a
    BaseException that a pool would not pass back as a failed result."""
    try:
        return True, function(*args)
    except BaseException as error:  # noqa: B036 - TimeoutException derives from BaseException
        return False, f"{type(error).__name__}: {str(error)[:120]}"


class MathVerify:
    """A reward f(prompts, completions, answer, **columns) -> list[float] scored by math-verify.

    timeout: seconds for each reply (math-verify's own parse and compare limits, and the caller's wait).
    workers: processes in the pool. `failures` counts replies that timed out or raised since creation.
    """

    def __init__(self, timeout: int = 5, workers: int | None = None):
        self.__name__ = "math_verify"
        self.__doc__ = MathVerify.__doc__
        self.timeout = int(timeout)
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.failures = 0
        self.pool = None
        self.lock = threading.Lock()
        atexit.register(self.close)

    def start(self):
        with self.lock:
            if self.pool is None:
                import math_verify  # noqa: F401 - imported once here, so forked workers start with it loaded

                # fork: spawn and forkserver re-run the user's script in each worker when it has no __main__ guard
                self.pool = multiprocessing.get_context("fork").Pool(self.workers)
            return self.pool

    def close(self) -> None:
        with self.lock:
            if self.pool is not None:
                self.pool.terminate()
                self.pool = None

    def run(self, function, calls: list[tuple]) -> list[tuple[bool, object]]:
        """Each call's (ok, result or error), waiting at most a few seconds past math-verify's own limit."""
        pool = self.start()
        pending = [pool.apply_async(call, (function, args)) for args in calls]
        results, stuck = [], False
        for job in pending:
            try:
                results.append(job.get(timeout=self.timeout + 2))
            except multiprocessing.TimeoutError:
                results.append((False, f"no result within {self.timeout + 2} s"))
                stuck = True
        if stuck:
            self.close()  # a stuck worker would hold its slot for good; the next call starts a fresh pool
        return results

    def __call__(self, prompts, completions, answer, **_) -> list[float]:
        golds = [gold_for_math_verify(gold) for gold in answer]
        calls = [(text_of(c), g, self.timeout) for c, g in zip(completions, golds, strict=True)]
        results = self.run(score_in_worker, calls)
        failed = [result for ok, result in results if not ok]
        if failed:
            self.failures += len(failed)
            warnings.warn(f"math_verify: {len(failed)} of {len(results)} replies scored 0 because checking them "
                          f"failed (first: {failed[0]}); {self.failures} so far in this run.", RuntimeWarning,
                          stacklevel=2)
        return [result[0] if ok else 0.0 for ok, result in results]

    def parse(self, reply: str) -> str | None:
        """The answer math-verify reads from a reply (its last extraction), or None."""
        ok, result = self.run(read_in_worker, [(reply, self.timeout)])[0]
        return result if ok else None

    @staticmethod
    def gold(value) -> str:
        return gold_for_math_verify(value)
