"""The script sandbox: escapes, bombs and endless loops end in ScriptError; ordinary scripts,
conditions and SpiffWorkflow processes work."""

import sys
import threading
import time
from xml.sax.saxutils import escape, quoteattr

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from simpul.engine import _sandbox as sandbox
from simpul.engine._sandbox import RESERVED_NAMES, SandboxEnvironment, SandboxScriptEngine, ScriptError, check_source


@pytest.fixture
def env():
    return SandboxEnvironment(helpers={"setting": lambda key, default=None: {"sla": "P7D"}.get(key, default)})


def run(env, script, **data):
    env.execute(script, data)
    return data


def fails(env, script, mode="exec", **data):
    with pytest.raises(ScriptError) as info:
        if mode == "exec":
            env.execute(script, data)
        else:
            env.evaluate(script, data)
    err = info.value
    assert err.kind in ("syntax", "forbidden", "timeout", "runtime")
    assert err.message and "\n" not in err.message and str(err) == err.message
    return err


# -- escapes -------------------------------------------------------------------------------------

ESCAPES = [
    ("().__class__.__base__.__subclasses__()", "forbidden", "Access to '__subclasses__' is not allowed"),
    ("[].__class__.__mro__[-1].__subclasses__()", "forbidden", "Access to '__subclasses__' is not allowed"),
    ("import os", "forbidden", "Imports are not allowed"),
    ("from os import system", "forbidden", "Imports are not allowed"),
    ("__import__('os')", "forbidden", "Access to '__import__' is not allowed"),
    ("open('/etc/passwd').read()", "forbidden", "name 'open' is not defined"),
    ('"{0.__class__}".format(1)', "forbidden", "Access to 'format' is not allowed"),
    ('"{0.__globals__}".format(lambda: 1)', "forbidden", "Access to 'format' is not allowed"),
    ("'{x.__class__}'.format_map({'x': 1})", "forbidden", "Access to 'format_map' is not allowed"),
    ("fmt = str.format\nfmt('{0.__class__}', 1)", "forbidden", "Access to 'format' is not allowed"),
    ('f"{(1).__class__}"', "forbidden", "Access to '__class__' is not allowed"),
    ("getattr(1, '__class__')", "forbidden", "name 'getattr' is not defined"),
    ("type(1)", "forbidden", "name 'type' is not defined"),
    ("eval('1')", "forbidden", "Eval calls are not allowed"),
    ("exec('x=1')", "forbidden", "Exec calls are not allowed"),
    ("compile('1', 'f', 'eval')", "forbidden", "name 'compile' is not defined"),
    ("globals()", "forbidden", "name 'globals' is not defined"),
    ("vars()", "forbidden", "name 'vars' is not defined"),
    ("breakpoint()", "forbidden", "'breakpoint' is not available in scripts"),
    ("input()", "forbidden", "name 'input' is not defined"),
    ("x = str.mro()", "forbidden", "Access to 'mro' is not allowed"),
    ("g = (i for i in [1])\nf = g.gi_frame", "forbidden", "Access to 'gi_frame' is not allowed"),
    ("class A:\n    pass", "forbidden", "Class definitions are not allowed"),
    ("x = setting.__globals__", "forbidden", "Access to '__globals__' is not allowed"),
]


@pytest.mark.parametrize("script,kind,message", ESCAPES, ids=[e[0][:40] for e in ESCAPES])
def test_escape_attempts_are_refused(env, script, kind, message):
    err = fails(env, script)
    assert err.kind == kind
    assert message in err.message
    assert err.line == (1 if "\n" not in script else err.line)


def test_forbidden_source_is_refused_before_running(env):
    data = {"ran": False}
    with pytest.raises(ScriptError):
        env.execute("ran = True\nimport os", data)
    assert data == {"ran": False}


@pytest.mark.parametrize(
    "template",
    [
        "import os\nos.system('touch {canary}')",
        "__import__('os').system('touch {canary}')",
        "open('{canary}', 'w').write('x')",
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{canary}'])",
        "f = setting.__globals__['__builtins__']['open']\nf('{canary}', 'w')",
    ],
)
def test_nothing_happens_outside_the_sandbox(env, tmp_path, template):
    canary = tmp_path / "canary"
    with pytest.raises(ScriptError):
        env.execute(template.format(canary=canary), {})
    assert not canary.exists()


def test_attributes_of_helpers_and_functions_are_not_reachable(env):
    assert "not accessible" in fails(env, "x = setting.func").message
    assert "not accessible" in fails(env, "f = lambda: 1\nx = f.func_globals").message


def test_only_dicts_and_lists_can_be_modified(env):
    assert run(env, "d['a'] = 1\nl[0] = 2\ndel d['b']", d={"b": 0}, l=[1]) == {"d": {"a": 1}, "l": [2]}
    assert "Only dictionaries and lists" in fails(env, "x = 'abc'\nx.upper = 1").message


# -- time limit ----------------------------------------------------------------------------------


def test_endless_loop_times_out_with_the_default_limit(env):
    started = time.monotonic()
    err = fails(env, "while True: pass")
    assert time.monotonic() - started < 3.0
    assert err.kind == "timeout"
    assert err.message == "Script exceeded its 2.0 s time limit"
    assert err.line == 1


@pytest.mark.parametrize(
    "script",
    [
        "while True:\n    pass",
        "x = 0\nwhile True: x += 1",
        "x = [0 for a in range(10**6) for b in range(10**6)]",
        "def spin():\n    while 1: pass\nspin()",
        "def gen():\n    while True:\n        yield 1\nfor v in gen(): pass",
        "f = lambda n: n\nsorted(range(10**6), key=f)\nwhile True: sorted(range(1000), key=f)",
    ],
)
def test_other_endless_loops_time_out(script):
    env = SandboxEnvironment(time_limit=0.3)
    started = time.monotonic()
    err = fails(env, script)
    assert time.monotonic() - started < 1.5
    assert err.kind == "timeout" and err.message == "Script exceeded its 0.3 s time limit"


def test_a_swallowed_timeout_is_still_reported():
    env = SandboxEnvironment(time_limit=0.2)
    script = (
        "done = False\nfor i in range(3):\n    try:\n        while True: pass\n    except:\n        pass\ndone = True"
    )
    data = {}
    with pytest.raises(ScriptError) as info:
        env.execute(script, data)
    assert info.value.kind == "timeout"


def test_expressions_have_the_time_limit_too():
    env = SandboxEnvironment(time_limit=0.2)
    err = fails(env, "any(False for a in range(10**6) for b in range(10**6))", mode="eval")
    assert err.kind == "timeout" and err.message == "Expression exceeded its 0.2 s time limit"


def test_timeout_in_a_worker_thread_does_not_hang_it():
    env = SandboxEnvironment(time_limit=0.2)
    outcome = []

    def work():
        try:
            env.execute("while True: pass", {})
        except ScriptError as err:
            outcome.append(err.kind)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and outcome == ["timeout"]


def test_scripts_leave_the_trace_function_alone(env):
    before = sys.gettrace()
    run(env, "x = [i for i in range(10)]")
    assert sys.gettrace() is before


# -- cheap bombs ---------------------------------------------------------------------------------

BOMBS = [
    ("x = 'a' * 10**10", "too large"),
    ("x = [0] * 10**10", "too large"),
    ("list(range(10**9))", "range() would be too large"),
    ("x = 2 ** 10**10", "too large"),
    ("x = pow(2, 10**10)", "too large"),
    ("x = 1 << 10**10", "too large"),
    ("x = 7\nx **= 10**10", "too large"),
    ("x = 'ab'\nx *= 10**10", "too large"),
    ("x = 'a'.ljust(10**10)", "too large"),
    ("x = str.zfill('1', 10**10)", "too large"),
    ("x = ('a' * 1000).replace('', 'a' * 10**6)", "too large"),
    ("x = ','.join(['a' * 10**6] * 10**5)", "too large"),
    ("x = (1).to_bytes(10**10, 'big')", "too large"),
    ("x = f'{1:>10000000000}'", "too large"),
    ("x = '%*d' % (10**10, 1)", "too large"),
    ("x = '%10000000000d' % 1", "too large"),
    ("x = round(10, -10**9)", "round() digits"),
    ("x = sum([[0] * 10**6] * 1000, [])", "too large"),
    ("x = [0]\nwhile True: x = x + x", "too large"),
]


@pytest.mark.parametrize("script,message", BOMBS, ids=[b[0][:40] for b in BOMBS])
def test_cheap_bombs_are_refused_quickly(env, script, message):
    started = time.monotonic()
    err = fails(env, script)
    assert time.monotonic() - started < 1.0
    assert err.kind == "forbidden" and message in err.message


def test_deep_recursion_is_a_runtime_error(env):
    started = time.monotonic()
    err = fails(env, "def f(): return f()\nf()")
    assert time.monotonic() - started < 1.0
    assert err.kind == "runtime" and "recursion" in err.message


def test_memory_growth_is_stopped():
    env = SandboxEnvironment(time_limit=10, memory_limit_mb=64)
    started = time.monotonic()
    err = fails(env, "x = [0] * 10**6\nwhile True:\n    x = [*x, *x]")
    assert time.monotonic() - started < 5
    assert err.kind == "forbidden" and "64 MB of memory" in err.message


def test_oversized_or_unstorable_task_data_is_removed(env):
    data = {"keep": 1}
    with pytest.raises(ScriptError) as info:
        env.execute("x = [[0] * 1000] * 1000\ny = [x] * 1000\nok = 2", data)
    assert "more than 1,000,000 values" in info.value.message
    assert data == {"keep": 1, "ok": 2}
    data = {}
    with pytest.raises(ScriptError) as info:
        env.execute("a = []\na.append(a)\nb = {'f': lambda: 1}", data)
    assert "nested more than" in info.value.message and "also removed: b" in info.value.message
    assert data == {}


# -- ordinary scripts ----------------------------------------------------------------------------


def test_arithmetic_and_new_variables(env):
    data = run(
        env,
        "total = price * qty + 2 ** 3 - 10 // 3\nratio = round(total / 3, 2)\nlabel = f'{total:>6}'",
        price=10,
        qty=4,
    )
    assert data == {"price": 10, "qty": 4, "total": 45, "ratio": 15.0, "label": "    45"}


def test_extend_and_translate_work_in_scripts_within_the_size_checks(env):
    data = run(
        env,
        "names = ['Siti']\nnames.extend(n.title() for n in ['budi', 'andi'])\n"
        "plain = nik.translate({ord('-'): None, ord(' '): ''})\ncode = 'ab'.translate({97: 'xy'})",
        nik="6402-0545 07000001",
    )
    assert data["names"] == ["Siti", "Budi", "Andi"]
    assert data["plain"] == "6402054507000001" and data["code"] == "xyb"


def test_dict_and_list_manipulation(env):
    data = run(
        env,
        """
docs['ktp'] = True
docs.update(kk=False)
missing = sorted(k for k, v in docs.items() if not v)
items.append({'name': 'akta', 'n': len(items)})
items.sort(key=lambda i: i['name'])
first, *rest = [i['name'] for i in items]
counts = {}
for name in ['a', 'b', 'a']:
    counts[name] = counts.get(name, 0) + 1
text = ', '.join(missing) + ' | ' + '%s-%05d' % ('no', 42)
""",
        docs={"kk": None},
        items=[{"name": "surat", "n": 0}],
    )
    assert data["docs"] == {"kk": False, "ktp": True}
    assert data["missing"] == ["kk"]
    assert [i["name"] for i in data["items"]] == ["akta", "surat"]
    assert (data["first"], data["rest"]) == ("akta", ["surat"])
    assert data["counts"] == {"a": 2, "b": 1}
    assert data["text"] == "kk | no-00042"


def test_functions_and_exceptions_inside_scripts(env):
    data = run(
        env,
        """
def fact(n):
    return 1 if n < 2 else n * fact(n - 1)
try:
    bad = int('x')
except ValueError as e:
    bad = -1
result = fact(10)
""",
    )
    assert data == {"bad": -1, "result": 3628800}


def test_helpers_are_callable_and_never_left_in_the_context(env):
    data = run(
        env,
        "sla = setting('sla', 'P14D')\nother = setting('x', 'P14D')\nf = setting\nsq = lambda v: v * v\n"
        "import_ok = sq(3)\nprint('hello', sla)",
    )
    assert data == {"sla": "P7D", "other": "P14D", "import_ok": 9}


def test_builtins_and_internals_never_remain(env):
    data = {"a": 1}
    env.execute("b = a + 1\nc = [x for x in range(3)]\nd = len\nr = range(3)\nit = iter_ok = map(str, c)", data)
    assert data == {"a": 1, "b": 2, "c": [0, 1, 2]}
    assert "__builtins__" not in data and not any(k.startswith("_") for k in data)


def test_task_data_with_internal_names_is_kept_but_not_used(env):
    data = {"_getattr_": "data", "__builtins__": "data", "x": 1}
    env.execute("y = x + 1\nz = 'abc'.upper()", data)
    assert data == {"_getattr_": "data", "__builtins__": "data", "x": 1, "y": 2, "z": "ABC"}


def test_conditions_over_task_data(env):
    data = {"documents_complete": True, "age": 17, "applicant": {"district": "Sleman"}, "tags": ["urgent"]}
    assert env.evaluate("documents_complete == True", data) is True
    assert env.evaluate("age >= 17 and applicant['district'].lower() == 'sleman'", data) is True
    assert env.evaluate("'urgent' in tags and len(tags) == 1", data) is True
    assert env.evaluate("any(t.startswith('urg') for t in tags)", data) is True
    assert env.evaluate("setting('sla', 'P14D')", data) == "P7D"
    assert env.evaluate("  age > 100\n", data) is False
    assert env.evaluate("counter + age", data, external_context={"counter": 3}) == 20
    assert data == {"documents_complete": True, "age": 17, "applicant": {"district": "Sleman"}, "tags": ["urgent"]}


def test_expression_errors(env):
    assert fails(env, "missing_field == 1", mode="eval").message == "name 'missing_field' is not defined"
    assert fails(env, "missing_field == 1", mode="eval").kind == "runtime"
    assert fails(env, "1 / 0", mode="eval").message == "ZeroDivisionError: division by zero"
    assert fails(env, "x = 1", mode="eval").kind == "syntax"
    assert fails(env, "print(1)", mode="eval").kind == "forbidden"
    assert "function" in fails(env, "lambda: 1", mode="eval").message
    assert fails(env, "", mode="eval").message == "Expression is empty"


def test_runtime_errors_carry_their_line(env):
    err = fails(env, "a = 1\nb = {}\nc = b['missing']")
    assert (err.kind, err.line, err.message) == ("runtime", 3, "KeyError: 'missing'")


def test_reserved_names():
    assert {"len", "sum", "range", "sorted", "ValueError", "print", "printed"} <= RESERVED_NAMES
    assert not {"open", "type", "getattr", "eval", "__import__"} & RESERVED_NAMES
    env = SandboxEnvironment(helpers={"setting": len})
    assert "setting" in env.reserved_names and "setting" not in RESERVED_NAMES
    with pytest.raises(ValueError):
        SandboxEnvironment(helpers={"_evil": len})


# -- check_source --------------------------------------------------------------------------------


def test_check_source_accepts_valid_code():
    assert check_source("x = 1\nif x:\n    y = [i * 2 for i in range(3)]") == []
    assert check_source("documents_complete == True", "eval") == []
    assert check_source("    x = 1\n    y = 2") == []  # uniformly indented BPMN text


def test_check_source_reports_syntax_errors_with_lines():
    errors = check_source("x = 1\ny = (")
    assert len(errors) == 1 and errors[0].startswith("Line 2: Syntax error")
    assert check_source("return 1")[0].startswith("Line 1: Syntax error")
    assert check_source("a ==", "eval")[0].startswith("Line 1: Syntax error")


def test_check_source_reports_forbidden_constructs():
    assert check_source("import os") == ["Line 1: Imports are not allowed"]
    errors = check_source("x = 1\ny = x.__class__\nz = __import__('os')")
    assert errors == ["Line 2: Access to '__class__' is not allowed", "Line 3: Access to '__import__' is not allowed"]
    assert check_source("'{}'.format(1)", "eval") == [
        "Line 1: Access to 'format' is not allowed (use an f-string instead)"
    ]


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        42,
        b"x = 1",
        ["x"],
        "\x00",
        "(" * 5000,
        "x = 1" * 50_000,
        "\ufeff\x01",
        "def f(:",
        "yield 1",
        "nonlocal x",
        "async def f(): pass",
        "try:\n  pass\nexcept* E:\n  pass",
    ],
)
def test_check_source_never_raises(garbage):
    for mode in ("exec", "eval", "bogus"):
        result = check_source(garbage, mode)
        assert isinstance(result, list) and all(isinstance(m, str) for m in result)
        assert result, f"{garbage!r} in {mode} should not be accepted"


@pytest.mark.parametrize("method", ["format", "format_map"])
def test_a_refused_format_call_tells_the_process_admin_to_use_an_f_string(env, method):
    err = fails(env, f"label = '{{x}}'.{method}({{'x': 1}})" if method == "format_map" else "label = '{}'.format(1)")
    assert err.message.endswith(f"Access to '{method}' is not allowed (use an f-string instead)")


def test_an_unbound_string_method_called_without_its_string_is_a_plain_type_error(env):
    err = fails(env, "x = str.join()")  # join is one of the size-checked methods
    assert err.kind == "runtime" and "needs an argument" in err.message


def test_a_source_that_is_not_text_is_refused_naming_script_or_expression():
    assert check_source(42, "exec") == ["Script must be text, not int"]
    assert check_source(b"x > 1", "eval") == ["Expression must be text, not bytes"]


def test_compiled_code_is_cached(env):
    sandbox._compile.cache_clear()
    data = {"documents_complete": True}
    for _ in range(50):
        env.evaluate("documents_complete == True", data)
    info = sandbox._compile.cache_info()
    assert info.misses == 1 and info.hits == 49


def test_gateway_condition_throughput(env):
    data = {"documents_complete": True, **{f"field{i}": i for i in range(30)}}
    env.evaluate("documents_complete == True", data)
    started = time.perf_counter()
    for _ in range(20_000):
        env.evaluate("documents_complete == True", data)
    assert time.perf_counter() - started < 1.0  # > 20,000 evaluations/s (typically ~1,000,000)


# -- SpiffWorkflow round trip ---------------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="proc" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:scriptTask id="compute" name="Compute total" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="notify"/>
    <bpmn:serviceTask id="notify" name="Notify">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify_office" resultVariable="receipt">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="amount" type="int" value={param}/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="notify" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" name="Large?" default="to_low">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>to_high</bpmn:outgoing><bpmn:outgoing>to_low</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="to_high" sourceRef="gw" targetRef="end_high">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="gw" targetRef="end_low"/>
    <bpmn:endEvent id="end_high">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="completed"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>to_high</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_low">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="completed"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>to_low</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def make_workflow(script, condition="total &gt; 100", param="total * 2", service_caller=None):
    calls = []

    def caller(operation_name, operation_params, task_data):
        calls.append((operation_name, operation_params, dict(task_data)))
        return '{"ok": true}'

    xml = BPMN.format(script=escape(script), condition=condition, param=quoteattr(param))
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode("utf-8"))
    spec = parser.get_spec("proc")
    env = SandboxEnvironment(
        helpers={"setting": lambda key, default=None: default}, time_limit=0.5, service_caller=service_caller or caller
    )
    return BpmnWorkflow(spec, script_engine=SandboxScriptEngine(environment=env)), calls


def finished_end(wf):
    return {t.task_spec.name for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.name.startswith("end_")}


@pytest.mark.parametrize("items,end", [([40, 70], "end_high"), ([10], "end_low")])
def test_workflow_runs_scripts_services_and_gateways_in_the_sandbox(items, end):
    wf, calls = make_workflow(f"items = {items!r}\ntotal = sum(items)\nsla = setting('sla', 'P14D')")
    wf.do_engine_steps()
    assert wf.is_completed() and finished_end(wf) == {end}
    total = sum(items)
    assert calls == [
        (
            "notify_office",
            {"amount": {"value": total * 2, "type": "int"}},
            {"items": items, "total": total, "sla": "P14D"},
        )
    ]
    assert wf.last_task.data["receipt"] == {"ok": True}


def test_workflow_script_import_becomes_a_workflow_task_exception():
    wf, calls = make_workflow("total = 1\nimport os")
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    exc = info.value
    assert str(exc).startswith("Imports are not allowed")
    assert isinstance(exc.exception, ScriptError) and exc.exception.kind == "forbidden"
    assert exc.line_number == 2 and exc.error_line == "import os"
    assert exc.task.task_spec.name == "compute" and calls == []


@pytest.mark.parametrize(
    "script,kind,start",
    [
        ("total = (", "syntax", "Syntax error"),
        ("total = 1\n  y = 2", "syntax", "Indentation error"),
        ("return 5", "syntax", "Syntax error"),
        ("x = ().__class__", "forbidden", "Access to '__class__' is not allowed"),
        ("while True: pass", "timeout", "Script exceeded its 0.5 s time limit"),
        ("total = totl + 1", "runtime", "name 'totl' is not defined"),
    ],
)
def test_bad_scripts_do_not_crash_spiffs_error_formatter(script, kind, start):
    wf, _ = make_workflow(script)
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert str(info.value).startswith(start)
    assert info.value.exception.kind == kind and info.value.error_type == "ScriptError"


def test_name_errors_suggest_task_data_fields():
    wf, _ = make_workflow("total = 1\nresult = totl + 1")
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert "Did you mean 'total'?" in str(info.value)


def test_gateway_conditions_and_service_parameters_are_sandboxed():
    wf, _ = make_workflow("total = 500", condition="total.__class__ == int")
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert info.value.exception.message == "Access to '__class__' is not allowed"
    assert info.value.task.task_spec.name == "gw"

    wf, calls = make_workflow("total = 500", param="__import__('os').getpid()")
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert info.value.exception.message == "Access to '__import__' is not allowed"
    assert info.value.task.task_spec.name == "notify" and calls == []


def test_service_task_without_a_caller_fails_clearly():
    env = SandboxEnvironment()
    with pytest.raises(ScriptError, match="no service caller"):
        env.call_service({}, operation_name="x", operation_params={})

    def broken(name, params, data):
        raise LookupError("no plugin")

    wf, _ = make_workflow("total = 1", service_caller=broken)
    with pytest.raises(WorkflowTaskException) as info:
        wf.do_engine_steps()
    assert "Service call 'notify_office' failed: LookupError: no plugin" in str(info.value)
    assert isinstance(info.value.exception, LookupError)


def test_call_service_signature_and_result_conversion():
    seen = []
    env = SandboxEnvironment(service_caller=lambda n, p, d: seen.append((n, p, d)) or {"a": 1})
    assert (
        env.call_service({"x": 1}, operation_name="op", operation_params={"p": {"value": 1, "type": "int"}})
        == '{"a": 1}'
    )
    assert seen == [("op", {"p": {"value": 1, "type": "int"}}, {"x": 1})]
    env = SandboxEnvironment(service_caller=lambda n, p, d: None)
    assert env.call_service({}, operation_name="op", operation_params={}, task_data={"y": 2}) == "null"


def test_validate_matches_spiffs_expectations():
    engine = SandboxScriptEngine()
    assert engine.validate("a > 5") is None
    with pytest.raises(SyntaxError) as info:
        engine.validate("> 5")
    assert info.value.lineno == 1
    with pytest.raises(ScriptError) as forbidden:
        engine.validate("a.__class__")
    assert forbidden.value.kind == "forbidden"


def test_engine_requires_a_sandbox_environment():
    assert isinstance(SandboxScriptEngine().environment, SandboxEnvironment)
    with pytest.raises(TypeError):
        SandboxScriptEngine(environment=object())
