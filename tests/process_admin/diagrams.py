"""Editing the bundled diagrams in tests, as an administrator would in the modeler."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}


def new_card_xml() -> str:
    return (ROOT / "processes" / "ektp_new_card.bpmn").read_text(encoding="utf-8")


def _tree(xml: str):
    return etree.fromstring(xml.encode("utf-8"))


def _dump(root) -> str:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def _by_id(root, element_id):
    found = root.xpath(f"//*[@id='{element_id}']")
    assert found, f"no element {element_id}"
    return found[0]


def _q(tag, ns=BPMN):
    return f"{{{ns}}}{tag}"


def _shape(root, element_id, x, y, w=100, h=80):
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    shape = etree.SubElement(plane, _q("BPMNShape", DI), id=f"{element_id}_di", bpmnElement=element_id)
    etree.SubElement(shape, _q("Bounds", DC), x=str(x), y=str(y), width=str(w), height=str(h))


def _edge(root, flow_id, points):
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    edge = etree.SubElement(plane, _q("BPMNEdge", DI), id=f"{flow_id}_di", bpmnElement=flow_id)
    for x, y in points:
        etree.SubElement(edge, _q("waypoint", "http://www.omg.org/spec/DD/20100524/DI"), x=str(x), y=str(y))


def add_user_task(
    xml: str,
    task_id="Task_field_check",
    name="Pemeriksaan lapangan",
    *,
    lane="Lane_verifier",
    flow="Flow_documents_complete",
    form_key: str | None = "residence_verification",
    name_en="Field check",
    at=(420, 715),
) -> str:
    """Insert a user task on ``flow``: flow -> new task -> the flow's old target."""
    root = _tree(xml)
    process = root.find("bpmn:process", NS)
    seq = _by_id(root, flow)
    old_target = seq.get("targetRef")
    seq.set("targetRef", task_id)
    target = _by_id(root, old_target)
    for inc in target.findall("bpmn:incoming", NS):
        if inc.text == flow:
            inc.text = f"Flow_{task_id}_out"
    task = etree.SubElement(process, _q("userTask"), id=task_id, name=name)
    ext = etree.SubElement(task, _q("extensionElements"))
    props = etree.SubElement(ext, _q("properties", SPIFF))
    if form_key:
        etree.SubElement(props, _q("property", SPIFF), name="formKey", value=form_key)
    etree.SubElement(props, _q("property", SPIFF), name="name_en", value=name_en)
    etree.SubElement(task, _q("incoming")).text = flow
    etree.SubElement(task, _q("outgoing")).text = f"Flow_{task_id}_out"
    etree.SubElement(process, _q("sequenceFlow"), id=f"Flow_{task_id}_out", sourceRef=task_id, targetRef=old_target)
    lane_node = _by_id(root, lane)
    etree.SubElement(lane_node, _q("flowNodeRef")).text = task_id
    _shape(root, task_id, *at)
    _edge(root, f"Flow_{task_id}_out", [(at[0] + 100, at[1] + 40), (600, 755)])
    return _dump(root)


def bypass(xml: str, element_id: str) -> str:
    """Remove a task with one incoming and one outgoing flow, joining its neighbours."""
    root = _tree(xml)
    node = _by_id(root, element_id)
    out_flow = _by_id(root, node.find("bpmn:outgoing", NS).text)
    next_id = out_flow.get("targetRef")
    nxt = _by_id(root, next_id)
    for inc in node.findall("bpmn:incoming", NS):
        flow = _by_id(root, inc.text)
        flow.set("targetRef", next_id)
        etree.SubElement(nxt, _q("incoming")).text = inc.text
    for inc in nxt.findall("bpmn:incoming", NS):
        if inc.text == out_flow.get("id"):
            nxt.remove(inc)
    for gone in (node, out_flow):
        gone.getparent().remove(gone)
    for ref in root.iterfind(".//bpmn:flowNodeRef", NS):
        if ref.text == element_id:
            ref.getparent().remove(ref)
    for di in root.xpath(f"//*[@bpmnElement='{element_id}' or @bpmnElement='{out_flow.get('id')}']"):
        di.getparent().remove(di)
    return _dump(root)


def set_property(xml: str, element_id: str, name: str, value: str | None) -> str:
    """Set (or with None remove) a spiffworkflow property of an element."""
    root = _tree(xml)
    node = _by_id(root, element_id)
    props = node.find("bpmn:extensionElements/spiffworkflow:properties", NS)
    if props is None:
        ext = node.find("bpmn:extensionElements", NS)
        if ext is None:
            ext = etree.Element(_q("extensionElements"))
            node.insert(0, ext)
        props = etree.SubElement(ext, _q("properties", SPIFF))
    for prop in props.findall("spiffworkflow:property", NS):
        if prop.get("name") == name:
            props.remove(prop)
    if value is not None:
        etree.SubElement(props, _q("property", SPIFF), name=name, value=value)
    return _dump(root)


def set_attr(xml: str, element_id: str, attr: str, value: str) -> str:
    root = _tree(xml)
    _by_id(root, element_id).set(attr, value)
    return _dump(root)


def set_text(xml: str, xpath: str, text: str) -> str:
    root = _tree(xml)
    nodes = root.xpath(xpath, namespaces=NS)
    assert nodes, xpath
    nodes[0].text = text
    return _dump(root)


def replace(xml: str, old: str, new: str) -> str:
    assert old in xml, old
    return xml.replace(old, new)
