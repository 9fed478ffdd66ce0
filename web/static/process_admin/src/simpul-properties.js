/* The "Simpul" group of the properties panel: what the engine needs on each element, with
   choices taken from what this node really has (lanes -> roles, forms, service operators of
   the installed plugins, known messages and their correlation keys). */
import { h } from '@bpmn-io/properties-panel/preact';
import {
  SelectEntry, TextFieldEntry, TextAreaEntry, DescriptionEntry,
  isSelectEntryEdited, isTextFieldEntryEdited, isTextAreaEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

const SPIFF = 'spiffworkflow:';

// -- extension element helpers ---------------------------------------------------------------

function extValues(bo) {
  return (bo.extensionElements && bo.extensionElements.values) || [];
}

function findExt(bo, type) {
  return extValues(bo).find((v) => v.$type === SPIFF + type);
}

export function getProperty(bo, name) {
  const props = findExt(bo, 'Properties');
  const item = props && (props.properties || []).find((p) => p.name === name);
  return item ? item.value || '' : '';
}

function ensureExtensionElements(element, bo, moddle, modeling) {
  let ext = bo.extensionElements;
  if (!ext) {
    ext = moddle.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return ext;
}

function ensureExt(element, bo, type, attrs, moddle, modeling) {
  let found = findExt(bo, type);
  if (!found) {
    const ext = ensureExtensionElements(element, bo, moddle, modeling);
    found = moddle.create(SPIFF + type, attrs || {});
    found.$parent = ext;
    modeling.updateModdleProperties(element, ext, { values: [...(ext.values || []), found] });
  }
  return found;
}

export function setProperty(element, name, value, moddle, modeling) {
  const bo = getBusinessObject(element);
  const props = findExt(bo, 'Properties');
  const item = props && (props.properties || []).find((p) => p.name === name);
  if (!value) {
    if (item) {
      modeling.updateModdleProperties(element, props, { properties: props.properties.filter((p) => p !== item) });
    }
    return;
  }
  if (item) {
    modeling.updateModdleProperties(element, item, { value });
    return;
  }
  const target = ensureExt(element, bo, 'Properties', { properties: [] }, moddle, modeling);
  const created = moddle.create(SPIFF + 'Property', { name, value });
  created.$parent = target;
  modeling.updateModdleProperties(element, target, { properties: [...(target.properties || []), created] });
}

function messageHolder(bo) {
  if (is(bo, 'bpmn:ReceiveTask') || is(bo, 'bpmn:SendTask')) { return bo; }
  return (bo.eventDefinitions || []).find((d) => is(d, 'bpmn:MessageEventDefinition'));
}

function definitionsOf(bo) {
  let node = bo;
  while (node && !is(node, 'bpmn:Definitions')) { node = node.$parent; }
  return node;
}

// -- entry components ----------------------------------------------------------------------------

function PropertySelect(props) {
  const { element, id, name, label, options, description } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const translate = useService('translate');
  return h(SelectEntry, {
    id, element, label: translate(label), description,
    getValue: () => getProperty(getBusinessObject(element), name),
    setValue: (value) => setProperty(element, name, value, moddle, modeling),
    getOptions: () => {
      const current = getProperty(getBusinessObject(element), name);
      const values = options();
      if (current && !values.includes(current)) { values.push(current); }
      return [{ value: '', label: '—' }, ...values.map((v) => ({ value: v, label: v }))];
    }
  });
}

function PropertyText(props) {
  const { element, id, name, label, description } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    id, element, label, description, debounce,
    getValue: () => getProperty(getBusinessObject(element), name),
    setValue: (value) => setProperty(element, name, (value || '').trim(), moddle, modeling)
  });
}

function LaneRole(props) {
  const { element, catalogue } = props;
  const modeling = useService('modeling');
  return h(SelectEntry, {
    id: 'simpul-lane-role', element, label: 'Role (lane)',
    description: 'The lane\'s name maps to the role whose inbox gets its tasks.',
    getValue: () => getBusinessObject(element).name || '',
    setValue: (value) => modeling.updateProperties(element, { name: value }),
    getOptions: () => [{ value: '', label: '—' }, ...catalogue.lanes.map((l) => ({ value: l.name, label: l.name + ' → ' + l.role }))]
  });
}

function ServiceOperator(props) {
  const { element, catalogue } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  return h(SelectEntry, {
    id: 'simpul-operator', element, label: 'Service operator',
    description: 'Provided by the installed plugins.',
    getValue: () => { const op = findExt(getBusinessObject(element), 'ServiceTaskOperator'); return op ? op.id || '' : ''; },
    setValue: (value) => {
      const bo = getBusinessObject(element);
      const op = ensureExt(element, bo, 'ServiceTaskOperator', {}, moddle, modeling);
      modeling.updateModdleProperties(element, op, { id: value });
    },
    getOptions: () => [{ value: '', label: '—' }, ...catalogue.operators.map((o) => ({ value: o, label: o }))]
  });
}

function ResultVariable(props) {
  const { element } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    id: 'simpul-result-variable', element, label: 'Result variable', debounce,
    getValue: () => { const op = findExt(getBusinessObject(element), 'ServiceTaskOperator'); return op ? op.resultVariable || '' : ''; },
    setValue: (value) => {
      const op = ensureExt(element, getBusinessObject(element), 'ServiceTaskOperator', {}, moddle, modeling);
      modeling.updateModdleProperties(element, op, { resultVariable: value });
    }
  });
}

function KnownMessage(props) {
  const { element, catalogue } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const known = catalogue.messages;
  return h(SelectEntry, {
    id: 'simpul-message', element, label: 'Message',
    description: 'Messages the installed plugins deliver, matched to the case by their correlation key.',
    getValue: () => {
      const holder = messageHolder(getBusinessObject(element));
      return (holder && holder.messageRef && holder.messageRef.name) || '';
    },
    setValue: (name) => {
      const bo = getBusinessObject(element);
      const holder = messageHolder(bo);
      if (!holder) { return; }
      const defs = definitionsOf(bo);
      let message = (defs.rootElements || []).find((e) => is(e, 'bpmn:Message') && e.name === name);
      if (!message && name) {
        message = moddle.create('bpmn:Message', { id: 'Message_' + name, name });
        message.$parent = defs;
        modeling.updateModdleProperties(element, defs, { rootElements: [...defs.rootElements, message] });
      }
      modeling.updateModdleProperties(element, holder, { messageRef: message || undefined });
    },
    getOptions: () => [{ value: '', label: '—' },
      ...known.map((m) => ({ value: m.name, label: m.name + ' (' + (m.correlation || 'no key') + ')' }))]
  });
}

function Correlation(props) {
  const { element, catalogue } = props;
  const holder = messageHolder(getBusinessObject(element));
  const name = holder && holder.messageRef && holder.messageRef.name;
  const found = catalogue.messages.find((m) => m.name === name);
  const text = !name ? 'Choose a message.' : found
    ? 'Correlation key: ' + found.correlation + ' (the case\'s receipt)' : 'Unknown message: it cannot be deployed.';
  return h(DescriptionEntry, { id: 'simpul-correlation', element, value: text });
}

function Condition(props) {
  const { element } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    id: 'simpul-condition', element, label: 'Condition (Python expression)', debounce,
    description: 'e.g. documents_complete == True; checked in the sandbox when saved.',
    getValue: () => { const c = getBusinessObject(element).conditionExpression; return (c && c.body) || ''; },
    setValue: (value) => {
      const expr = value ? moddle.create('bpmn:FormalExpression', { body: value }) : undefined;
      modeling.updateProperties(element, { conditionExpression: expr });
    }
  });
}

function Script(props) {
  const { element } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    id: 'simpul-script', element, label: 'Script (Python, sandboxed)', debounce, rows: 4,
    getValue: () => getBusinessObject(element).script || '',
    setValue: (value) => modeling.updateProperties(element, { script: value, scriptFormat: 'python' })
  });
}

// -- the provider ---------------------------------------------------------------------------------

export default function SimpulPropertiesProvider(propertiesPanel, injector) {
  this._catalogue = injector.get('config.simpul', false) || { lanes: [], forms: [], operators: [], messages: [] };
  this._formKeys = injector.get('config.simpulForms', false) || (() => []);
  propertiesPanel.registerProvider(500, this);
}

SimpulPropertiesProvider.$inject = ['propertiesPanel', 'injector'];

SimpulPropertiesProvider.prototype.getGroups = function (element) {
  const catalogue = this._catalogue;
  const formKeys = this._formKeys;
  return (groups) => {
    const bo = getBusinessObject(element);
    const entries = [];
    const add = (id, component, props, isEdited) => entries.push({ id, element, component: (p) => h(component, { ...p, ...props }), isEdited });
    if (is(element, 'bpmn:Lane')) {
      add('simpul-lane-role', LaneRole, { element, catalogue }, isSelectEntryEdited);
    }
    if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask') || (is(element, 'bpmn:StartEvent') && !(bo.eventDefinitions || []).length)) {
      add('simpul-form', PropertySelect, {
        element, id: 'simpul-form', name: 'formKey', label: 'Form',
        description: 'The form the clerk fills in; edit it with "Edit form of selected task".',
        options: () => Array.from(new Set([...catalogue.forms, ...formKeys()])).sort()
      }, isSelectEntryEdited);
    }
    if (is(element, 'bpmn:UserTask')) {
      add('simpul-due', PropertyText, { element, id: 'simpul-due', name: 'dueIn', label: 'Due in (ISO 8601, e.g. P3D)' }, isTextFieldEntryEdited);
    }
    if (is(element, 'bpmn:Activity') || is(element, 'bpmn:Event')) {
      add('simpul-name-en', PropertyText, { element, id: 'simpul-name-en', name: 'name_en', label: 'Name in English' }, isTextFieldEntryEdited);
    }
    if (is(element, 'bpmn:ServiceTask')) {
      add('simpul-operator', ServiceOperator, { element, catalogue }, isSelectEntryEdited);
      add('simpul-result-variable', ResultVariable, { element }, isTextFieldEntryEdited);
    }
    if (is(element, 'bpmn:ScriptTask')) {
      add('simpul-script', Script, { element }, isTextAreaEntryEdited);
    }
    if (messageHolder(bo)) {
      add('simpul-message', KnownMessage, { element, catalogue }, isSelectEntryEdited);
      add('simpul-correlation', Correlation, { element, catalogue });
    }
    if (is(element, 'bpmn:SequenceFlow') && bo.sourceRef &&
        (is(bo.sourceRef, 'bpmn:ExclusiveGateway') || is(bo.sourceRef, 'bpmn:InclusiveGateway'))) {
      add('simpul-condition', Condition, { element }, isTextFieldEntryEdited);
    }
    if (entries.length) {
      groups.splice(1, 0, { id: 'simpul', label: 'Simpul', entries });
    }
    return groups;
  };
};
