"""Sandbox worker processes: every script, condition and timer expression of a case runs in one.

The in-process sandbox (engine/_sandbox.py) enforces its time and memory limits with a tick
between Python instructions, so one long C-level call (``str()`` of a huge nested list, a
giant ``sorted()``) runs on unchecked and holds the interpreter.  Here each call is sent to
one of a few worker processes:

* the worker runs it in the same sandbox (its rules and ticks unchanged) under OS limits:
  ``RLIMIT_AS`` (the memory limit on top of the worker's size at start) and ``RLIMIT_CPU``
  (re-armed before every call: the time limit plus one second of CPU);
* the caller waits at most the time limit plus a short grace; a worker that has not answered
  by then is killed and replaced, and the call fails as a timeout (the case goes to incident
  as for any script over its limit).  A worker the OS killed (CPU or memory limit) is
  replaced the same way;
* the caller waits on a pipe, not on the interpreter: the web server's other requests and
  the worker's other cases go on meanwhile, and other calls use the other workers.

Workers come from a ``forkserver`` that preloads the sandbox, so a replacement starts in
milliseconds and never inherits the web server's threads or open database connections.
Written by hand because the standard ``concurrent.futures`` pools cannot kill one task's
process on a deadline and keep the others.
"""

from __future__ import annotations

import ast
import functools
import logging
import multiprocessing
import os
import queue
import resource
import threading

from ._sandbox import SandboxEnvironment, ScriptError

log = logging.getLogger(__name__)

#: seconds past the time limit before a worker that did not answer is killed.
GRACE_SECONDS = 0.5
#: seconds a new worker may take to start (forkserver start, imports) before its first call;
#: not counted against the script's time limit, so a loaded office PC just after a power cut
#: does not fail its first scripts as timeouts.
START_SECONDS = 30.0
#: address space a worker may take beyond its size at start, besides the script's limit.
WORKER_HEADROOM_MB = 256


def _address_space() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _read_setting(settings: dict, name, default=None):
    return settings.get(name, default)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_main(conn, time_limit: float, memory_limit_mb: int | None) -> None:
    """One worker: apply the OS limits, then answer calls until the pipe closes."""
    if memory_limit_mb:
        base = _address_space()
        if base:
            limit = base + (memory_limit_mb + WORKER_HEADROOM_MB) * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send("ready")
    environments: dict = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        mode, source, context, external, settings = request
        key = tuple(sorted(settings.items()))
        env = environments.get(key)
        if env is None:
            if len(environments) > 32:
                environments.clear()

            setting = functools.partial(_read_setting, dict(settings))

            env = environments[key] = SandboxEnvironment(
                helpers={"setting": setting}, time_limit=time_limit, memory_limit_mb=memory_limit_mb
            )
        soft = int(_cpu_seconds() + time_limit + 1.5)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        try:
            if mode == "eval":
                answer = ("ok", env.evaluate(source, context, external), None)
            else:
                env.execute(source, context, external)
                answer = ("ok", None, context)
        except ScriptError as err:
            answer = ("error", (err.message, err.kind, err.line), context if mode == "exec" else None)
        except MemoryError:
            answer = ("error", (f"Script used more than {memory_limit_mb} MB of memory", "forbidden", None), None)
        try:
            conn.send(answer)
        except MemoryError:
            conn.send(("error", (f"Script used more than {memory_limit_mb} MB of memory", "forbidden", None), None))
        except (TypeError, ValueError, AttributeError) as err:  # a result that cannot travel
            conn.send(("error", (f"Script produced a value that cannot be kept: {err}"[:300], "runtime", None), None))


class _Worker:
    def __init__(self, ctx, time_limit, memory_limit_mb):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, time_limit, memory_limit_mb), daemon=True, name="simpul-sandbox"
        )
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> bool:
        """Wait for the worker's start signal (once); False if it did not start in time."""
        if not self.ready:
            try:
                self.ready = self.conn.poll(START_SECONDS) and self.conn.recv() == "ready"
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def kill(self):
        try:
            self.process.kill()
            self.process.join(timeout=5)
        except Exception:  # pragma: no cover - already gone
            pass
        self.conn.close()


class SandboxPool:
    """A few sandbox worker processes shared by every case of one node (thread-safe)."""

    def __init__(self, size: int = 2, time_limit: float = 2.0, memory_limit_mb: int | None = 512):
        if size < 1:
            raise ValueError("a sandbox pool needs at least one worker")
        self.size = size
        self.time_limit = float(time_limit)
        self.memory_limit_mb = memory_limit_mb
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["simpul.engine._sandbox"])
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        self.replaced = 0  # workers killed and replaced (for tests and the log)

    def _new_worker(self) -> _Worker:
        return _Worker(self._ctx, self.time_limit, self.memory_limit_mb)

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise ScriptError("The node is shutting down; scripts cannot run", "runtime")
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                return self._new_worker()
        return self._idle.get()

    def call(self, mode: str, source, context: dict, external: dict | None, settings: dict):
        """Run one script (``mode="exec"``, ``context`` is updated in place) or expression
        (``"eval"``, its value returned) in a worker; ScriptError as the sandbox raises it."""
        worker = self._take()
        healthy = False
        try:
            if not worker.wait_ready():
                log.warning("a sandbox worker did not start within %.0f s: replaced", START_SECONDS)
                message = f"Scripts cannot run: a sandbox worker did not start within {START_SECONDS:.0f} s"
                raise ScriptError(message, "runtime")
            try:
                worker.conn.send((mode, source, context, external or {}, settings))
            except (BrokenPipeError, EOFError, OSError):
                raise self._died(worker) from None
            if not worker.conn.poll(self.time_limit + GRACE_SECONDS):
                what = "Expression" if mode == "eval" else "Script"
                log.warning("a sandbox worker ran past the %.1f s limit: killed and replaced", self.time_limit)
                raise ScriptError(f"{what} exceeded its {self.time_limit} s time limit", "timeout")
            try:
                status, value, new_context = worker.conn.recv()
            except (EOFError, OSError):
                raise self._died(worker) from None
            healthy = True
        finally:
            self._give_back(worker, healthy)
        if new_context is not None and new_context is not context:
            context.clear()
            context.update(new_context)
        if status == "error":
            message, kind, line = value
            raise ScriptError(message, kind, line)
        return value

    def _died(self, worker) -> ScriptError:
        code = worker.process.exitcode
        if code is None:
            worker.process.join(timeout=1)
            code = worker.process.exitcode
        log.warning("a sandbox worker died (exit code %s): replaced", code)
        return ScriptError(
            f"Script exceeded its {self.time_limit} s time limit or {self.memory_limit_mb} MB of memory", "timeout"
        )

    def _give_back(self, worker: _Worker, healthy: bool) -> None:
        if healthy:
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            self.replaced += 1
            if self._closed:
                self._started -= 1
                return
        self._idle.put(self._new_worker())

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            worker.kill()


#: AST nodes of an expression that cannot run long: no calls, no arithmetic, no loops; only
#: names, constants, comparisons, boolean logic and lookups on data the sandbox bounded.
_BOUNDED_NODES = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Compare,
    ast.BoolOp,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.And,
    ast.Or,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Is,
    ast.IsNot,
    ast.In,
    ast.NotIn,
    ast.Subscript,
    ast.Tuple,
)
_bounded_cache: dict = {}


def is_bounded(expression) -> bool:
    """True for an expression such as ``documents_complete == True and age >= 17``: it makes
    no call and no new value, so it costs at most a walk over the (size-limited) task data and
    runs in this process; everything else goes to a worker."""
    if not isinstance(expression, str) or len(expression) > 2000:
        return False
    cached = _bounded_cache.get(expression)
    if cached is None:
        try:
            tree = ast.parse(expression.strip(), mode="eval")
            cached = all(isinstance(node, _BOUNDED_NODES) for node in ast.walk(tree))
        except SyntaxError:
            cached = False
        if len(_bounded_cache) > 10_000:
            _bounded_cache.clear()
        _bounded_cache[expression] = cached
    return cached


class PooledSandboxEnvironment(SandboxEnvironment):
    """The sandbox environment of a case, with every script and expression run in the pool.

    ``settings`` gives the scalar node settings scripts read with ``setting(name, default)``
    (read at each call, so a changed setting is seen at once)."""

    def __init__(self, pool: SandboxPool, settings, service_caller=None):
        super().__init__(
            helpers={"setting": lambda name, default=None: None},
            time_limit=pool.time_limit,
            service_caller=service_caller,
            memory_limit_mb=pool.memory_limit_mb,
        )
        self.pool = pool
        self._settings = settings

    def _scalar_settings(self) -> dict:
        return {
            k: v
            for k, v in (self._settings() or {}).items()
            if isinstance(k, str) and isinstance(v, (str, int, float, bool, type(None)))
        }

    def evaluate(self, expression, context, external_context=None):
        if is_bounded(expression):  # a plain gateway condition: in this process, same sandbox
            return super().evaluate(expression, context, external_context)
        return self.pool.call("eval", expression, dict(context), external_context, self._scalar_settings())

    def execute(self, script, context, external_context=None):
        if script is None or (isinstance(script, str) and not script.strip()):
            return True
        self.pool.call("exec", script, context, external_context, self._scalar_settings())
        return True
