"""The script sandbox: every BPMN script, condition, timer, payload and service parameter runs here.

Process administrators edit BPMN in a browser, so nothing they write may reach the host.  Source is
compiled with RestrictedPython under a stricter policy (no imports, no classes, no names or
attributes starting with ``_``, no ``str.format``) and runs against a curated set of builtins and
guard functions:

* attribute access is default-deny: only plain data (str, numbers, dict, list, tuple, set,
  date/time, Decimal, UUID, exceptions) and the exposed builtin classes have readable attributes,
  and never ``format``/``format_map``/``mro`` or the inspect attributes (``gi_frame``...);
* ``*``, ``**``, ``<<``, ``+``, ``%``, f-string format specs, ``range``, ``pow``, ``round``,
  ``sum`` and the size-driven str/bytes/list methods refuse results over fixed size limits;
* every loop body, comprehension, function and lambda calls a per-run *tick* that enforces the
  time limit (and samples memory growth).  ``sys.settrace`` is not used: CPython 3.11 emits no
  line event for a single-instruction loop (``while True: pass``) and switches tracing off for
  the whole thread when the trace function raises, so a caught timeout would run on unlimited.
  A timeout the script swallows (bare ``except:``) is still reported when the script ends.

Compiled code is cached by (source, mode), so re-evaluating a gateway condition costs a dict
copy and an ``eval``.  In-process, limits are best effort against cheap bombs: a single long
C-level operation (``str()`` of a huge shared nested list) cannot be interrupted.  The engine
therefore runs this sandbox inside worker processes under OS limits (engine/_sandbox_pool.py),
which are killed and replaced when a call overruns.
"""

from __future__ import annotations

import ast
import collections.abc
import datetime
import decimal
import functools
import json
import logging
import operator
import os
import re
import textwrap
import threading
import time
import types
import uuid
from typing import Any, NamedTuple, NoReturn

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = ["RESERVED_NAMES", "SandboxEnvironment", "SandboxScriptEngine", "ScriptError", "check_source"]

log = logging.getLogger(__name__)

# -- limits --------------------------------------------------------------------------------------

FILENAME = "<bpmn-script>"
MAX_SOURCE_LENGTH = 100_000  # characters of script/expression source
MAX_SEQUENCE_ITEMS = 1_000_000  # list/tuple items made by *, +, range(), extend(), sum()
MAX_STRING_LENGTH = 10_000_000  # str/bytes length made by *, +, join, replace, ljust...
MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_FORMAT_WIDTH = 999_999  # width/precision in f-strings and %-formatting
MAX_ROUND_DIGITS = 1_000
MAX_DATA_ITEMS = 1_000_000  # values in task data after a script (or in an expression result)
MAX_DATA_CHARS = 50_000_000  # characters of strings in the same
MAX_DATA_DEPTH = 100  # nesting of the same (also catches reference cycles)
MAX_PRINT_CHARS = 100_000
MEMORY_CHECK_INTERVAL = 0.005  # seconds between RSS samples in the tick

_KINDS = ("syntax", "forbidden", "timeout", "runtime")


class ScriptError(Exception):
    """A script or expression failed inside the sandbox. .message is one clear English line
    (e.g. "Script exceeded its 2.0 s time limit", "Access to '__subclasses__' is not allowed",
    "Imports are not allowed", "name 'open' is not defined"), .kind is one of
    'syntax', 'forbidden', 'timeout', 'runtime'; .line is the 1-based line or None."""

    def __init__(self, message: str, kind: str = "runtime", line: int | None = None):
        if kind not in _KINDS:
            raise ValueError(f"unknown ScriptError kind {kind!r}")
        self.message = message
        self.kind = kind
        self.line = line
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ScriptError({self.message!r}, kind={self.kind!r}, line={self.line!r})"


class _Violation(BaseException):
    """Raised by guards.  A BaseException, so ``except Exception`` in a script does not swallow it."""

    def __init__(self, message: str, kind: str = "forbidden"):
        super().__init__(message)
        self.message = message
        self.kind = kind


class _Abort(_Violation):
    """Raised by the tick (time/memory limit); remembered by the run, so swallowing it is useless."""


def _forbid(message: str) -> NoReturn:
    raise _Violation(message, "forbidden")


def _too_large(what: str, size: int, limit: int):
    raise _Violation(f"{what} would be too large ({size:,} > limit {limit:,})", "forbidden")


# -- guards used by compiled code -----------------------------------------------------------------

_STRINGS = (str, bytes, bytearray)
_SEQUENCES = (list, tuple)


def _check_len(value, extra_len: int):
    if isinstance(value, _STRINGS):
        if extra_len > MAX_STRING_LENGTH:
            _too_large("String", extra_len, MAX_STRING_LENGTH)
    elif extra_len > MAX_SEQUENCE_ITEMS:
        _too_large(type(value).__name__.capitalize(), extra_len, MAX_SEQUENCE_ITEMS)


def _sb_add_(a, b):
    if isinstance(a, (_STRINGS, _SEQUENCES)) and isinstance(b, (_STRINGS, _SEQUENCES)):
        _check_len(a, len(a) + len(b))
    return a + b


def _check_mul(a, b):
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            _too_large("Integer (bits)", a.bit_length() + b.bit_length(), MAX_INT_BITS)
    elif isinstance(a, (_STRINGS, _SEQUENCES)) and isinstance(b, int):
        if b > 0:
            _check_len(a, len(a) * b)
    elif isinstance(b, (_STRINGS, _SEQUENCES)) and isinstance(a, int):
        if a > 0:
            _check_len(b, len(b) * a)


def _sb_mul_(a, b):
    _check_mul(a, b)
    return a * b


def _check_pow(a, b):
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        bits = a.bit_length() * b
        if bits > MAX_INT_BITS:
            _too_large("Integer (bits)", bits, MAX_INT_BITS)


def _sb_pow_(a, b, mod=None):
    if mod is None:
        _check_pow(a, b)
        return a**b
    return pow(a, b, mod)


def _check_lshift(a, b):
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        _too_large("Integer (bits)", a.bit_length() + b, MAX_INT_BITS)


def _sb_lshift_(a, b):
    _check_lshift(a, b)
    return a << b


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def _check_printf(fmt, args):
    if isinstance(fmt, (bytes, bytearray)):
        fmt = bytes(fmt).decode("latin-1")
    if "%" not in fmt:
        return
    argv = args if isinstance(args, tuple) else (args,)
    i = 0
    for m in _PRINTF.finditer(fmt):
        if m.group(3) == "%":
            continue
        for spec in (m.group(1), m.group(2)):
            if not spec:
                continue
            if spec == "*":
                n = argv[i] if i < len(argv) else 0
                i += 1
                if isinstance(n, int) and abs(n) > MAX_FORMAT_WIDTH:
                    _too_large("Format width", abs(n), MAX_FORMAT_WIDTH)
            elif len(spec) > len(str(MAX_FORMAT_WIDTH)) or int(spec) > MAX_FORMAT_WIDTH:
                _forbid(f"Format width or precision in '%' formatting is too large (limit {MAX_FORMAT_WIDTH:,})")
        i += 1


def _sb_mod_(a, b):
    if isinstance(a, _STRINGS):
        _check_printf(a, b)
    return a % b


_BIG_NUMBER = re.compile(rf"\d{{{len(str(MAX_FORMAT_WIDTH)) + 1},}}")


def _sb_format_(value, conversion, spec):
    """One f-string field with a format spec: f"{value!conversion:spec}"."""
    if conversion == 115:
        value = str(value)
    elif conversion == 114:
        value = repr(value)
    elif conversion == 97:
        value = ascii(value)
    if _BIG_NUMBER.search(spec):
        _forbid(f"Format width or precision in an f-string is too large (limit {MAX_FORMAT_WIDTH:,})")
    return format(value, spec)


def _sb_range(*args):
    try:
        r = range(*args)
        n = len(r)
    except OverflowError:
        n = MAX_SEQUENCE_ITEMS + 1
    if n > MAX_SEQUENCE_ITEMS:
        _too_large("range()", n, MAX_SEQUENCE_ITEMS)
    return r


def _sb_pow(base, exp, mod=None):
    return _sb_pow_(base, exp, mod)


def _sb_round(number, ndigits=None):
    if ndigits is None:
        return round(number)
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        _forbid(f"round() digits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    return round(number, ndigits)


def _sb_sum(iterable, /, start=0):
    if isinstance(start, (_STRINGS, _SEQUENCES)):
        items = list(iterable)
        total = len(start) + sum(len(x) for x in items if isinstance(x, (_STRINGS, _SEQUENCES)))
        _check_len(start, total)
        return sum(items, start)
    return sum(iterable, start)


# size-checked methods: checker(self, args, kwargs) -> args to call the method with


def _arg(args, kwargs, index, name, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _chk_width(obj, args, kwargs):
    width = _arg(args, kwargs, 0, "width")
    if isinstance(width, int) and width > len(obj):
        _check_len(obj, width)
    return args


def _chk_expandtabs(obj, args, kwargs):
    size = _arg(args, kwargs, 0, "tabsize", 8)
    if isinstance(size, int) and size > 0:
        tab = "\t" if isinstance(obj, str) else b"\t"
        _check_len(obj, len(obj) + obj.count(tab) * size)
    return args


def _chk_replace(obj, args, kwargs):
    old, new = _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new")
    count = _arg(args, kwargs, 2, "count", -1)
    if isinstance(old, _STRINGS) and isinstance(new, _STRINGS) and len(new) > len(old):
        hits = obj.count(old) if old else len(obj) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _check_len(obj, len(obj) + hits * (len(new) - len(old)))
    return args


def _chk_join(obj, args, kwargs):
    if not args:
        return args
    items = list(args[0])
    total = sum(len(x) for x in items if isinstance(x, _STRINGS)) + len(obj) * max(len(items) - 1, 0)
    _check_len(obj, total)
    return (items,) + tuple(args[1:])


def _chk_translate(obj, args, kwargs):
    table = _arg(args, kwargs, 0, "table")
    if isinstance(table, dict):
        widest = max((len(v) for v in table.values() if isinstance(v, _STRINGS)), default=1)
        _check_len(obj, len(obj) * widest)
    return args


def _chk_extend(obj, args, kwargs):
    if not args:
        return args
    items = list(args[0])
    _check_len(obj, len(obj) + len(items))
    return (items,) + tuple(args[1:])


def _chk_to_bytes(obj, args, kwargs):
    length = _arg(args, kwargs, 0, "length", 1)
    if isinstance(length, int) and length > MAX_STRING_LENGTH:
        _too_large("to_bytes() result", length, MAX_STRING_LENGTH)
    return args


_STRING_METHOD_CHECKS = {
    "ljust": _chk_width,
    "rjust": _chk_width,
    "center": _chk_width,
    "zfill": _chk_width,
    "expandtabs": _chk_expandtabs,
    "replace": _chk_replace,
    "join": _chk_join,
    "translate": _chk_translate,
}
_METHOD_CHECKS = {
    str: _STRING_METHOD_CHECKS,
    bytes: _STRING_METHOD_CHECKS,
    bytearray: _STRING_METHOD_CHECKS,
    list: {"extend": _chk_extend},
    int: {"to_bytes": _chk_to_bytes},
    bool: {"to_bytes": _chk_to_bytes},
}
_CHECKED_METHOD_NAMES = frozenset(n for table in _METHOD_CHECKS.values() for n in table)


def _size_checked(obj, name, method):
    if isinstance(obj, type):
        owner = next((t for t in obj.__mro__ if t in _METHOD_CHECKS), None)
        checker = _METHOD_CHECKS[owner].get(name) if owner is not None else None
        if owner is None or checker is None:
            return method
        kind, check = owner, checker

        def unbound(*args, **kwargs):
            if args and isinstance(args[0], kind):
                return method(args[0], *check(args[0], args[1:], kwargs), **kwargs)
            return method(*args, **kwargs)

        return unbound
    owner = next((t for t in type(obj).__mro__ if t in _METHOD_CHECKS), None)
    found = _METHOD_CHECKS[owner].get(name) if owner is not None else None
    if found is None:
        return method
    check_bound = found

    def bound(*args, **kwargs):
        return method(*check_bound(obj, args, kwargs), **kwargs)

    return bound


# Attribute access is default-deny: only these kinds of objects have readable attributes.
_DICT_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))
_ATTR_INSTANCE_TYPES = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    dict,
    list,
    tuple,
    set,
    frozenset,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.tzinfo,
    decimal.Decimal,
    uuid.UUID,
    BaseException,
) + _DICT_VIEWS
_ATTR_CLASSES = frozenset(
    {
        str,
        bytes,
        int,
        float,
        bool,
        dict,
        list,
        tuple,
        set,
        frozenset,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        uuid.UUID,
    }
)
_BLOCKED_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES | {"format", "format_map", "mro", "tb_frame", "tb_next"})


def _attr_denied_message(name: str) -> str:
    if name in ("format", "format_map"):
        return f"Access to '{name}' is not allowed (use an f-string instead)"
    return f"Access to '{name}' is not allowed"


def _sb_getattr_(obj, name, *default):
    if type(name) is not str:
        _forbid("Attribute names must be strings")
    if name.startswith("_") or name in _BLOCKED_ATTRIBUTES:
        _forbid(_attr_denied_message(name))
    if isinstance(obj, type):
        if obj not in _ATTR_CLASSES:
            _forbid(f"Attributes of {obj.__name__!r} are not accessible in scripts")
    elif not isinstance(obj, _ATTR_INSTANCE_TYPES) or callable(obj):
        _forbid(f"Attributes of {type(obj).__name__!r} objects are not accessible in scripts")
    value = getattr(obj, name, *default)
    if name in _CHECKED_METHOD_NAMES:
        return _size_checked(obj, name, value)
    return value


def _sb_getitem_(obj, key):
    return obj[key]


def _sb_write_(obj):
    if isinstance(obj, (dict, list)):
        return obj
    _forbid(f"Only dictionaries and lists can be changed by scripts, not {type(obj).__name__!r} objects")


def _inplace(check, op):
    def apply(a, b):
        check(a, b)
        return op(a, b)

    return apply


def _check_add(a, b):
    if isinstance(a, (_STRINGS, _SEQUENCES)) and isinstance(b, collections.abc.Sized):
        _check_len(a, len(a) + len(b))


def _check_mod(a, b):
    if isinstance(a, _STRINGS):
        _check_printf(a, b)


_INPLACE_OPS = {
    "+=": _inplace(_check_add, operator.iadd),
    "*=": _inplace(_check_mul, operator.imul),
    "**=": _inplace(_check_pow, operator.ipow),
    "<<=": _inplace(_check_lshift, operator.ilshift),
    "%=": _inplace(_check_mod, operator.imod),
    "-=": operator.isub,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _sb_inplacevar_(op, a, b):
    func = _INPLACE_OPS.get(op)
    if func is None:
        _forbid(f"Operator {op} is not allowed")
    return func(a, b)


def _sb_apply_(func, *args, **kwargs):
    return func(*args, **kwargs)


class _PrintCollector:
    """``print`` in scripts: text is collected (and logged at DEBUG), never written anywhere."""

    def __init__(self, _getattr_=None):
        self.parts: list[str] = []
        self.size = 0

    def write(self, text):
        if self.size < MAX_PRINT_CHARS:
            text = str(text)[: MAX_PRINT_CHARS - self.size]
            self.parts.append(text)
            self.size += len(text)

    def __call__(self):
        return "".join(self.parts)

    def _call_print(self, *objects, sep=" ", end="\n", **_ignored):
        self.write(str(sep).join(str(o) for o in objects) + str(end))


_GUARDS = {
    "_getattr_": _sb_getattr_,
    "_getitem_": _sb_getitem_,
    "_getiter_": iter,
    "_write_": _sb_write_,
    "_inplacevar_": _sb_inplacevar_,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_apply_": _sb_apply_,
    "_print_": _PrintCollector,
    "_sb_add_": _sb_add_,
    "_sb_mul_": _sb_mul_,
    "_sb_pow_": _sb_pow_,
    "_sb_lshift_": _sb_lshift_,
    "_sb_mod_": _sb_mod_,
    "_sb_format_": _sb_format_,
}
_TICK = "_sb_tick_"
# Names compiled code relies on; task data keys with these names are hidden while a script runs.
_INTERNAL_NAMES = frozenset(_GUARDS) | {"__builtins__", _TICK, "_print"}

# -- builtins ---------------------------------------------------------------------------------------

_REMOVED_SAFE_BUILTINS = {
    "__build_class__",
    "_getattr_",
    "setattr",
    "delattr",
    "id",
    "complex",
    "BaseException",
    "SystemExit",
    "KeyboardInterrupt",
    "GeneratorExit",
}
_BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in _REMOVED_SAFE_BUILTINS}
_BUILTINS.update(
    {
        "all": all,
        "any": any,
        "dict": dict,
        "enumerate": enumerate,
        "filter": filter,
        "frozenset": frozenset,
        "list": list,
        "map": map,
        "max": max,
        "min": min,
        "next": next,
        "reversed": reversed,
        "set": set,
        "sorted": sorted,
        "tuple": tuple,
        "zip": zip,
        "range": _sb_range,
        "pow": _sb_pow,
        "round": _sb_round,
        "sum": _sb_sum,
    }
)

RESERVED_NAMES: frozenset[str] = frozenset(_BUILTINS) | {"print", "printed"}
"""Names of the builtins exposed to scripts (plus ``print``/``printed``, which RestrictedPython
rewrites).  Task data fields may not use these.  An environment's own helpers are added in
``SandboxEnvironment.reserved_names``."""

# Builtins a script might reach for that do not exist in the sandbox: a NameError for one of these
# is reported as kind 'forbidden'.
_UNAVAILABLE_BUILTINS = frozenset(
    {
        "open",
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "__import__",
        "type",
        "breakpoint",
        "input",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "dir",
        "help",
        "memoryview",
        "object",
        "super",
        "id",
        "classmethod",
        "staticmethod",
        "property",
        "exit",
        "quit",
        "__build_class__",
        "__builtins__",
        "BaseException",
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
        "bytearray",
        "format",
        "iter",
        "aiter",
        "anext",
        "copyright",
        "credits",
        "license",
    }
)

# -- compilation -------------------------------------------------------------------------------------


def _tick_call(node):
    call = ast.Call(func=ast.Name(_TICK, ast.Load()), args=[], keywords=[])
    copy_locations(call, node)
    return call


def _tick_stmt(node):
    stmt = ast.Expr(value=_tick_call(node))
    copy_locations(stmt, node)
    return stmt


_BINOP_GUARDS = {
    ast.Add: "_sb_add_",
    ast.Mult: "_sb_mul_",
    ast.Pow: "_sb_pow_",
    ast.LShift: "_sb_lshift_",
    ast.Mod: "_sb_mod_",
}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, with clearer messages, size-guarded operators and a
    time-limit tick in every loop, comprehension, function and lambda."""

    def check_name(self, node, name, allow_magic_methods=False):
        if name is not None and name.startswith("_") and name != "_":
            self.error(node, f"Access to '{name}' is not allowed")
            return
        if name in ("breakpoint", "builtins"):
            self.error(node, f"'{name}' is not available in scripts")
            return
        if name in ("print", "printed"):
            self.error(node, f"'{name}' is a reserved name")
            return
        super().check_name(node, name, allow_magic_methods=False)

    def visit_Import(self, node):
        self.error(node, "Imports are not allowed")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        self.error(node, "Class definitions are not allowed")
        return node

    def visit_Attribute(self, node):
        if node.attr.startswith("_") or node.attr in _BLOCKED_ATTRIBUTES:
            self.error(node, _attr_denied_message(node.attr))
            self.node_contents_visit(node)
            return node
        return super().visit_Attribute(node)

    def visit_Expression(self, node):
        node = super().visit_Expression(node)
        if self.print_info.print_used or self.print_info.printed_used:
            self.error(node.body, "print() is not available in expressions")
        return node

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        return call

    def visit_FormattedValue(self, node):
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        call = ast.Call(
            func=ast.Name("_sb_format_", ast.Load()),
            args=[node.value, ast.Constant(node.conversion), node.format_spec],
            keywords=[],
        )
        copy_locations(call, node)
        node.value, node.conversion, node.format_spec = call, -1, None
        return node

    def visit_While(self, node):
        node = super().visit_While(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_For(self, node):
        node = super().visit_For(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_FunctionDef(self, node):
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_stmt(node))
        return node

    def visit_Lambda(self, node):
        node = super().visit_Lambda(node)
        body = ast.BoolOp(op=ast.And(), values=[_tick_call(node), node.body])
        copy_locations(body, node)
        node.body = body
        return node

    def visit_comprehension(self, node):
        node = super().visit_comprehension(node)
        node.ifs.insert(0, _tick_call(node.iter))
        return node


class _Problem(NamedTuple):
    message: str
    line: int | None
    kind: str

    def text(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


class _Compiled(NamedTuple):
    code: types.CodeType | None
    problems: tuple[_Problem, ...]
    uses_tick: bool


_LINE_PREFIX = re.compile(r"^Line (\d+|None): (.*)$", re.S)
_LOOPING_NODES = (ast.While, ast.For, ast.FunctionDef, ast.Lambda, ast.comprehension)


def _syntax_problem(err: SyntaxError) -> _Problem:
    label = "Indentation error" if isinstance(err, IndentationError) else "Syntax error"
    msg = err.msg if isinstance(getattr(err, "msg", None), str) else str(err)
    line = err.lineno if isinstance(err.lineno, int) and err.lineno > 0 else None
    return _Problem(f"{label}: {msg}", line, "syntax")


def _parse(source: str, mode: str) -> ast.Module | ast.Expression:
    if mode == "eval":
        return ast.parse(source.strip(), FILENAME, "eval")
    try:
        return ast.parse(source, FILENAME, "exec")
    except IndentationError:
        dedented = textwrap.dedent(source)
        if dedented == source:
            raise
        return ast.parse(dedented, FILENAME, "exec")


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: str) -> _Compiled:
    what = "Script" if mode == "exec" else "Expression"
    if len(source) > MAX_SOURCE_LENGTH:
        return _Compiled(
            None,
            (
                _Problem(
                    f"{what} is too long ({len(source):,} characters, limit {MAX_SOURCE_LENGTH:,})", None, "syntax"
                ),
            ),
            False,
        )
    if mode == "eval" and not source.strip():
        return _Compiled(None, (_Problem("Expression is empty", None, "syntax"),), False)
    try:
        tree = _parse(source, mode)
        uses_tick = any(isinstance(n, _LOOPING_NODES) for n in ast.walk(tree))
        compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
        result = compiler(tree, filename=FILENAME, policy=_SandboxPolicy)
    except SyntaxError as err:  # from the parser, or compile() ('return' outside function...)
        return _Compiled(None, (_syntax_problem(err),), False)
    except (RecursionError, MemoryError):
        return _Compiled(None, (_Problem(f"{what} is nested too deeply", None, "syntax"),), False)
    except ValueError as err:  # e.g. null bytes in the source
        return _Compiled(None, (_Problem(f"Syntax error: {err}", None, "syntax"),), False)
    except Exception as err:  # noqa: BLE001 - never let a compiler quirk escape as a raw error
        return _Compiled(None, (_Problem(f"Could not compile: {type(err).__name__}: {err}", None, "syntax"),), False)
    if result.errors or result.code is None:
        problems = []
        for text in result.errors or ("Could not compile",):
            m = _LINE_PREFIX.match(text)
            line = int(m.group(1)) if m and m.group(1) != "None" else None
            message = (m.group(2) if m else text).rstrip(".") if text else "Could not compile"
            problems.append(_Problem(message, line, "forbidden"))
        return _Compiled(None, tuple(problems), False)
    return _Compiled(result.code, (), uses_tick)


def _get_compiled(source, mode: str) -> _Compiled:
    if mode not in ("exec", "eval"):
        return _Compiled(
            None, (_Problem(f"Unknown compile mode {mode!r} (use 'exec' or 'eval')", None, "syntax"),), False
        )
    if not isinstance(source, str):
        what = "Script" if mode == "exec" else "Expression"
        return _Compiled(None, (_Problem(f"{what} must be text, not {type(source).__name__}", None, "syntax"),), False)
    return _compile(source, mode)


def _problems(source, mode: str) -> tuple[_Problem, ...]:
    return _get_compiled(source, mode).problems


def check_source(source: str, mode: str = "exec") -> list[str]:
    """Compile-check (mode 'exec' for scripts, 'eval' for expressions) without running; returns a list of
    error messages (empty when fine), each "Line N: message" when the line is known. Never raises."""
    try:
        return [p.text() for p in _problems(source, mode)]
    except Exception as err:  # noqa: BLE001 - must never raise
        return [f"Could not check the script: {type(err).__name__}: {err}"]


# -- running ----------------------------------------------------------------------------------------

_NON_DATA_TYPES = (
    types.ModuleType,
    type,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    collections.abc.Iterator,
    BaseException,
    range,
    types.FrameType,
    types.CodeType,
    types.TracebackType,
    types.EllipsisType,
    type(NotImplemented),
    _PrintCollector,
) + _DICT_VIEWS


def _is_non_data(value) -> bool:
    return callable(value) or isinstance(value, _NON_DATA_TYPES)


def _describe_kind(value) -> str:
    if isinstance(value, type):
        return "a class"
    if callable(value):
        return "a function"
    if isinstance(value, types.ModuleType):
        return "a module"
    return f"a {type(value).__name__} object"


def _check_data(value, budget: list[int]) -> str | None:
    """Walk ``value``; return why it cannot be kept as task data, or None.  ``budget`` is
    [items left, characters left] and is shared across calls."""
    stack = [(value, 0)]
    while stack:
        obj, depth = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            return f"more than {MAX_DATA_ITEMS:,} values"
        if isinstance(obj, (str, bytes, bytearray)):
            budget[1] -= len(obj)
            if budget[1] < 0:
                return f"more than {MAX_DATA_CHARS:,} characters of text"
            continue
        if obj is None or isinstance(obj, (bool, int, float)):
            continue
        if _is_non_data(obj):
            return f"it contains {_describe_kind(obj)}, which cannot be stored"
        if isinstance(obj, (dict, list, tuple, set, frozenset)):
            if depth >= MAX_DATA_DEPTH:
                return f"it is nested more than {MAX_DATA_DEPTH} levels deep (or refers to itself)"
            if len(obj) * (2 if isinstance(obj, dict) else 1) > budget[0]:
                return f"more than {MAX_DATA_ITEMS:,} values"
            if isinstance(obj, dict):
                for k, v in obj.items():
                    stack.append((k, depth + 1))
                    stack.append((v, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in obj)
    return None


def _new_budget() -> list[int]:
    return [MAX_DATA_ITEMS, MAX_DATA_CHARS]


_statm: dict[str, Any] = {"pid": None, "fd": None}
_statm_lock = threading.Lock()
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int | None:
    """Resident set size of this process (Linux), or None where unavailable.  The /proc file is
    kept open per process (reopened after a fork) because a pread costs ~1 us, an open ~8 us."""
    try:
        pid = os.getpid()
        if _statm["pid"] != pid:
            with _statm_lock:
                if _statm["pid"] != pid:
                    _statm["fd"] = os.open("/proc/self/statm", os.O_RDONLY)
                    _statm["pid"] = pid
        return int(os.pread(_statm["fd"], 128, 0).split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class _RunState:
    """Per-run limits; ``tick`` is injected into compiled code as ``_sb_tick_``.  Memory growth is
    sampled every MEMORY_CHECK_INTERVAL seconds against the RSS at the first tick (process-wide
    RSS, so a concurrent thread's allocations count too: keep the limit generous)."""

    __slots__ = ("deadline", "what", "time_limit", "memory_limit", "memory_base", "next_memory_check", "abort", "tick")

    def __init__(self, what: str, time_limit: float, memory_limit: int | None):
        monotonic = time.monotonic
        self.what = what
        self.time_limit = time_limit
        self.deadline = deadline = monotonic() + time_limit
        self.abort: _Abort | None = None
        self.memory_limit = memory_limit
        self.memory_base: int | None = None
        self.next_memory_check = 0.0
        if not memory_limit:

            def tick():
                if monotonic() > deadline:
                    self._fail_time()
                return True
        else:

            def tick():
                now = monotonic()
                if now > deadline:
                    self._fail_time()
                if now >= self.next_memory_check:
                    self._check_memory(now)
                return True

        self.tick = tick

    def _fail_time(self):
        self.abort = _Abort(f"{self.what} exceeded its {float(self.time_limit)} s time limit", "timeout")
        raise self.abort

    def _check_memory(self, now):
        self.next_memory_check = now + MEMORY_CHECK_INTERVAL
        rss = _rss_bytes()
        if rss is None:
            self.next_memory_check = float("inf")
        elif self.memory_base is None:
            self.memory_base = rss
        elif rss - self.memory_base > (limit := self.memory_limit or 0):  # checked only with a limit
            self.abort = _Abort(f"{self.what} used more than {limit // 2**20} MB of memory", "forbidden")
            raise self.abort


def _script_line(tb) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line if line and line > 0 else None


def _first_line(text: str, limit: int = 300) -> str:
    text = (text.strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _convert(err: BaseException) -> ScriptError:
    line = _script_line(err.__traceback__)
    if isinstance(err, ScriptError):
        return err
    if isinstance(err, _Violation):
        return ScriptError(err.message, err.kind, line)
    if isinstance(err, RecursionError):
        return ScriptError("Maximum recursion depth exceeded", "runtime", line)
    if isinstance(err, NameError):
        name = getattr(err, "name", None)
        kind = "forbidden" if name in _UNAVAILABLE_BUILTINS else "runtime"
        return ScriptError(_first_line(str(err)) or f"name {name!r} is not defined", kind, line)
    detail = _first_line(str(err))
    return ScriptError(f"{type(err).__name__}: {detail}" if detail else type(err).__name__, "runtime", line)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Runs scripts and expressions for SpiffWorkflow inside the sandbox."""

    def __init__(
        self,
        helpers: dict | None = None,
        time_limit: float = 2.0,
        service_caller=None,
        memory_limit_mb: int | None = 512,
    ):
        helpers = dict(helpers or {})
        for name, _value in helpers.items():
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"helper name {name!r} must be a plain identifier not starting with '_'")
        if not time_limit or time_limit <= 0:
            raise ValueError("time_limit must be a positive number of seconds")
        super().__init__(environment_globals=dict(helpers))
        self.helpers = helpers
        self.time_limit = float(time_limit)
        self.service_caller = service_caller
        self.memory_limit = int(memory_limit_mb * 2**20) if memory_limit_mb else None
        self._builtins = dict(_BUILTINS)
        self._builtins.update(helpers)
        self._internal = dict(_GUARDS)
        self._internal["__builtins__"] = self._builtins
        self.reserved_names: frozenset[str] = RESERVED_NAMES | frozenset(helpers)

    # -- expressions ---------------------------------------------------------------------------

    def evaluate(self, expression, context, external_context=None):
        compiled = _compile_or_raise(expression, "eval")
        scope = dict(external_context) if external_context else {}
        scope.update(context)
        scope.update(self._internal)
        result = self._run(compiled, scope, "Expression")
        if result is not None and not isinstance(result, (bool, int, float, str)):
            if _is_non_data(result):
                raise ScriptError(f"Expression produced {_describe_kind(result)}, not a value", "runtime")
            problem = _check_data(result, _new_budget())
            if problem:
                raise ScriptError(f"Expression result is not usable: {problem}", "forbidden")
        return result

    # -- scripts -------------------------------------------------------------------------------

    def execute(self, script, context, external_context=None):
        if script is None or (isinstance(script, str) and not script.strip()):
            return True
        compiled = _compile_or_raise(script, "exec")
        external_context = external_context or {}
        clash = set(external_context).intersection(context)
        if clash:
            raise ScriptError(
                f"Task data field(s) {', '.join(sorted(clash))} clash with data object(s) of the same name", "runtime"
            )
        hidden = {k: context.pop(k) for k in [k for k in _INTERNAL_NAMES if k in context]}
        before = set(context)
        context.update(external_context)
        context.update(self._internal)
        error: ScriptError | None = None
        try:
            self._run(compiled, context, "Script")
        except ScriptError as err:
            error = err
        finally:
            data_error = self._clean_context(context, before, external_context, hidden)
        if error is not None:
            raise error
        if data_error is not None:
            raise data_error
        return True

    def _clean_context(self, context, before, external_context, hidden) -> ScriptError | None:
        printed = context.get("_print")
        if isinstance(printed, _PrintCollector) and printed.parts:
            log.debug("script printed: %s", printed())
        for key in list(context):
            if (
                key in self._internal
                or key in external_context
                or key in self.reserved_names
                or (key not in before and key.startswith("_"))
                or _is_non_data(context[key])
            ):
                del context[key]
        budget = _new_budget()
        removed = []
        for key in list(context):
            saved = list(budget)
            problem = _check_data(context[key], budget)
            if problem:
                del context[key]
                budget[:] = saved
                removed.append((key, problem))
        context.update(hidden)
        if not removed:
            return None
        key, problem = removed[0]
        message = f"Task data field '{key}' was removed: {problem}"
        if len(removed) > 1:
            message += f" (also removed: {', '.join(k for k, _ in removed[1:])})"
        return ScriptError(message, "forbidden")

    # -- services ------------------------------------------------------------------------------

    def call_service(self, context, operation_name=None, operation_params=None, task_data=None, **kwargs):
        """SpiffWorkflow 3.2's spiff ServiceTask calls ``script_engine.call_service(task,
        operation_name=..., operation_params=...)`` with parameters already evaluated (through
        this sandbox) as ``{name: {"value": ..., "type": ...}}``; the script engine passes
        ``task.data`` as ``context``.  Returns the JSON text SpiffWorkflow ``json.loads``."""
        if self.service_caller is None:
            raise ScriptError(
                f"Service task operation {operation_name!r} cannot run: no service caller is configured", "runtime"
            )
        result = self.service_caller(
            operation_name, dict(operation_params or {}), context if task_data is None else task_data
        )
        if result is None:
            return "null"
        if isinstance(result, (bytes, bytearray)):
            return bytes(result).decode("utf-8")
        if not isinstance(result, str):
            return json.dumps(result)
        return result

    # -- internals -----------------------------------------------------------------------------

    def _run(self, compiled: _Compiled, scope: dict, what: str):
        state = None
        if compiled.uses_tick:
            state = _RunState(what, self.time_limit, self.memory_limit)
            scope[_TICK] = state.tick
        try:
            if compiled.code is None:  # callers run only what compiled; eval(None) would fail alike
                raise TypeError("nothing was compiled")
            result = eval(compiled.code, scope)  # noqa: S307 - restricted code, guarded globals
        except BaseException as err:  # noqa: BLE001 - everything from the script is converted
            if isinstance(err, (KeyboardInterrupt, SystemExit)) and not isinstance(err, _Violation):
                raise
            if state is not None and state.abort is not None:
                raise _convert(state.abort) from err
            raise _convert(err) from err
        if state is not None and state.abort is not None:  # the script swallowed its timeout
            raise _convert(state.abort)
        return result


def _compile_or_raise(source, mode: str) -> _Compiled:
    compiled = _get_compiled(source, mode)
    if compiled.problems:
        first = compiled.problems[0]
        raise ScriptError(first.message, first.kind, first.line)
    return compiled


# -- the SpiffWorkflow script engine --------------------------------------------------------------


def _source_line(source, line):
    if not isinstance(source, str) or not line:
        return ""
    lines = source.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


class SandboxScriptEngine(PythonScriptEngine):
    """Script engine that always uses a SandboxEnvironment and converts errors: SpiffWorkflow's
    create_task_exec_exception crashes when RestrictedPython's SyntaxError has lineno=None — avoid that;
    raise SpiffWorkflow's WorkflowTaskException(message, task=task, exception=ScriptError) with the clear
    message so the engine can turn it into an incident. Also override `validate(expression)` to use check_source.

    The raised WorkflowTaskException carries the ScriptError as ``.exception`` (and ``.script_error``,
    and ``__cause__``); its ``error_type`` is "ScriptError"."""

    def __init__(self, environment: SandboxEnvironment | None = None):
        if environment is None:
            environment = SandboxEnvironment()
        if not isinstance(environment, SandboxEnvironment):
            raise TypeError("SandboxScriptEngine needs a SandboxEnvironment")
        super().__init__(environment=environment)

    def validate(self, expression):
        """Raise SyntaxError (always with a line number) for unparsable expressions, as
        SpiffWorkflow's DMN engine expects, or ScriptError for forbidden ones."""
        problems = _problems(expression, "eval")
        if not problems:
            return
        first = problems[0]
        if first.kind == "syntax":
            text = expression if isinstance(expression, str) else None
            raise SyntaxError(first.message, (FILENAME, first.line or 1, 1, text))
        raise ScriptError(first.message, first.kind, first.line)

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except ScriptError as err:
            raise self._task_error(task, err, expression, f"Error evaluating expression '{expression}'") from err

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except SpiffWorkflowException:
            raise
        except ScriptError as err:
            raise self._task_error(task, err, script, None) from err

    def call_service(self, task, **kwargs):
        # (PythonScriptEngine.call_service references an undefined name on error.)
        name = kwargs.get("operation_name")
        try:
            return self.environment.call_service(task.data, **kwargs)
        except SpiffWorkflowException:
            raise
        except ScriptError as err:
            raise self._task_error(task, err, None, None) from err
        except Exception as err:  # noqa: BLE001 - the service's own failure
            wte = WorkflowTaskException(
                f"Service call {name!r} failed: {type(err).__name__}: {err}", task=task, exception=err
            )
            wte.exception = err
            raise wte from err

    @staticmethod
    def _task_error(task, err: ScriptError, source, note) -> WorkflowTaskException:
        wte = WorkflowTaskException(
            err.message, task=task, exception=err, line_number=err.line, error_line=_source_line(source, err.line)
        )
        wte.exception = err
        wte.script_error = err
        if err.message.startswith("name '"):
            hint = WorkflowTaskException.did_you_mean_from_name_error(err, list(task.data.keys()))
            if hint:
                wte.add_note(hint.strip())
        if note:
            wte.add_note(note)
        return wte
