"""Diagrams typical of other modelling tools (tests/deploy_corpus: Camunda collaborations
without an executable process, Signavio and Bizagi exports with unsupported elements and
vendor extensions, a broken file with a long line) are refused with one line per problem,
at most 300 characters, naming the element by its label, then its id, in the user's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from simpul.engine import DeployError, check_process
from simpul.engine.i18n import gettext_for
from simpul.engine.refusals import MAX_LINE, refusal_line

CORPUS = sorted((Path(__file__).parent / "deploy_corpus").glob("*.bpmn"))


def _names(path: Path) -> dict:
    try:
        root = etree.fromstring(path.read_bytes())
    except etree.XMLSyntaxError:
        return {}
    return {el.get("id"): el.get("name") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}


def _indonesian(template, params):
    return gettext_for("id")(template).format(**params) if params else gettext_for("id")(template)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_refusal_is_one_short_line_naming_the_element(bare_runtime, path):
    with pytest.raises(DeployError) as refused:
        check_process(bare_runtime, path.read_bytes(), source=path.name)
    err = refused.value
    assert "\n" not in str(err) and "Traceback" not in str(err) and len(str(err)) <= MAX_LINE + 80
    names = _names(path)
    assert err.errors
    for problem in err.errors:
        for line in (refusal_line(problem), refusal_line(problem, _indonesian)):
            assert "\n" not in line and len(line) <= MAX_LINE and "Traceback" not in line
        element = problem.get("element")
        if names:  # a readable diagram: every refusal is pinned to an element, by id and name
            assert element in names, problem
            line = refusal_line(problem)
            label = f'"{names[element]}" ({element})' if names[element] else element
            assert line.startswith(label), (line, label)


def test_refusals_are_in_the_users_language(bare_runtime):
    path = Path(__file__).parent / "deploy_corpus" / "camunda_collaboration.bpmn"
    with pytest.raises(DeployError) as refused:
        check_process(bare_runtime, path.read_bytes(), source=path.name)
    lines = [refusal_line(p, _indonesian) for p in refused.value.errors]
    assert lines == [
        '"Warga mengajukan" (Process_citizen): Proses ini tidak dapat dijalankan (isExecutable bernilai false): '
        "Simpul hanya menjalankan proses yang dapat dijalankan.",
        '"Kantor memproses" (Process_office): Proses ini tidak dapat dijalankan (isExecutable bernilai false): '
        "Simpul hanya menjalankan proses yang dapat dijalankan.",
    ]


def test_a_parser_dump_is_cut_to_one_line():
    dump = {"element": "Task_1", "element_name": "Periksa", "message": "line one\n" + "x" * 5000}
    line = refusal_line(dump)
    assert line.startswith('"Periksa" (Task_1): line one x') and len(line) == MAX_LINE and "\n" not in line
