/* The "Simpul" group of the properties panel: what the engine needs on each element, with
   choices taken from what this node really has (lanes -> roles, forms, service operators of
   the installed plugins, known messages and their correlation keys). */
import { h } from '@bpmn-io/properties-panel/preact';
import { useState } from '@bpmn-io/properties-panel/preact/hooks';
import {
  SelectEntry, TextFieldEntry, TextAreaEntry, DescriptionEntry, NumberFieldEntry,
  isSelectEntryEdited, isTextFieldEntryEdited, isTextAreaEntryEdited, isNumberFieldEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

const SPIFF = 'spiffworkflow:';
/* A new form's key: snake_case, as the engine's form files are named. */
export const NEW_FORM_KEY = /^[a-z][a-z0-9_]{0,99}$/;

/* The group's labels come from the server in the user's language (modeler.html, #modeler-labels);
   the English here is only the fallback when a label is missing. */
function t(text, key, fallback, params) {
  let value = (text && text[key]) || fallback;
  Object.entries(params || {}).forEach(([k, v]) => { value = value.split('{' + k + '}').join(v); });
  return value;
}

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

function NewForm(props) {
  const { element, id, text, catalogue, formKeys, createForm } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const inputId = 'bio-properties-panel-' + id;
  const create = () => {
    const key = (value || '').trim();
    if (!NEW_FORM_KEY.test(key)) {
      setError(t(text, 'new_form_invalid', 'A form key is snake_case: lowercase letters, digits and underscores, starting with a letter.'));
      return;
    }
    if (catalogue.forms.includes(key) || formKeys().includes(key)) {
      setError(t(text, 'new_form_exists', 'A form {key} already exists; choose another key.', { key }));
      return;
    }
    setError('');
    setValue('');
    setProperty(element, 'formKey', key, moddle, modeling);
    createForm(key);
  };
  return h('div', { class: 'bio-properties-panel-entry simpul-new-form' + (error ? ' has-error' : ''), 'data-entry-id': id }, [
    h('label', { for: inputId, class: 'bio-properties-panel-label' }, t(text, 'new_form', 'New form key')),
    h('div', { class: 'simpul-new-form-row' }, [
      h('input', {
        id: inputId, name: id, type: 'text', class: 'bio-properties-panel-input', value, spellcheck: false,
        autocomplete: 'off', 'aria-invalid': error ? 'true' : 'false',
        onInput: (ev) => setValue(ev.target.value),
        onKeyDown: (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); create(); } }
      }),
      h('button', { type: 'button', class: 'simpul-create-form', onClick: create }, t(text, 'create_form', 'Create form'))
    ]),
    error ? h('div', { class: 'bio-properties-panel-error', role: 'alert' }, error) : null,
    h('div', { class: 'bio-properties-panel-description' },
      t(text, 'new_form_description', 'Makes an empty form for this task and opens the form editor; it is saved with the draft.'))
  ]);
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

const WHOLE_DAYS = /^P(\d+)D$/;

// The due date as a number of days (stored as ISO 8601 "P3D"): nobody types P3D.
function DueDays(props) {
  const { element, text } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const debounce = useService('debounceInput');
  return h(NumberFieldEntry, {
    id: 'simpul-due-days', element, debounce, min: 0, step: 1,
    label: t(text, 'due_days', 'Due in days'),
    description: t(text, 'due_days_description', 'Days after the step opens; empty: no due date.'),
    getValue: () => {
      const match = WHOLE_DAYS.exec(getProperty(getBusinessObject(element), 'dueIn') || '');
      return match ? Number(match[1]) : '';
    },
    setValue: (value) => {
      const days = value === '' || value === null || value === undefined ? '' : Math.max(0, Math.round(Number(value)));
      setProperty(element, 'dueIn', days === '' || Number.isNaN(days) ? '' : 'P' + days + 'D', moddle, modeling);
    }
  });
}

function LaneRole(props) {
  const { element, catalogue, text } = props;
  const modeling = useService('modeling');
  return h(SelectEntry, {
    id: 'simpul-lane-role', element, label: t(text, 'lane_role', 'Role (lane)'),
    description: t(text, 'lane_role_description', 'The lane\'s name maps to the role whose inbox gets its tasks.'),
    getValue: () => getBusinessObject(element).name || '',
    setValue: (value) => modeling.updateProperties(element, { name: value }),
    getOptions: () => [{ value: '', label: '—' }, ...catalogue.lanes.map((l) => ({ value: l.name, label: l.name + ' → ' + l.role }))]
  });
}

function ServiceOperator(props) {
  const { element, catalogue, text } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  return h(SelectEntry, {
    id: 'simpul-operator', element, label: t(text, 'operator', 'Service operator'),
    description: t(text, 'operator_description', 'Provided by the installed plugins.'),
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
  const { element, text } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    id: 'simpul-result-variable', element, label: t(text, 'result_variable', 'Result variable'), debounce,
    getValue: () => { const op = findExt(getBusinessObject(element), 'ServiceTaskOperator'); return op ? op.resultVariable || '' : ''; },
    setValue: (value) => {
      const op = ensureExt(element, getBusinessObject(element), 'ServiceTaskOperator', {}, moddle, modeling);
      modeling.updateModdleProperties(element, op, { resultVariable: value });
    }
  });
}

function KnownMessage(props) {
  const { element, catalogue, text } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const known = catalogue.messages;
  return h(SelectEntry, {
    id: 'simpul-message', element, label: t(text, 'message', 'Message'),
    description: t(text, 'message_description', 'Messages the installed plugins deliver, matched to the case by their correlation key.'),
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
      ...known.map((m) => ({ value: m.name, label: m.name + ' (' + (m.correlation || t(text, 'no_key', 'no key')) + ')' }))]
  });
}

function Correlation(props) {
  const { element, catalogue, text } = props;
  const holder = messageHolder(getBusinessObject(element));
  const name = holder && holder.messageRef && holder.messageRef.name;
  const found = catalogue.messages.find((m) => m.name === name);
  const value = !name ? t(text, 'choose_message', 'Choose a message.') : found
    ? t(text, 'correlation', 'Correlation key: {key} (the case\'s receipt)', { key: found.correlation })
    : t(text, 'unknown_message', 'Unknown message: it cannot be deployed.');
  return h(DescriptionEntry, { id: 'simpul-correlation', element, value });
}

function Condition(props) {
  const { element, text } = props;
  const modeling = useService('modeling');
  const moddle = useService('moddle');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    id: 'simpul-condition', element, label: t(text, 'condition', 'Condition (Python expression)'), debounce,
    description: t(text, 'condition_description', 'e.g. documents_complete == True; checked in the sandbox when saved.'),
    getValue: () => { const c = getBusinessObject(element).conditionExpression; return (c && c.body) || ''; },
    setValue: (value) => {
      const expr = value ? moddle.create('bpmn:FormalExpression', { body: value }) : undefined;
      modeling.updateProperties(element, { conditionExpression: expr });
    }
  });
}

function Script(props) {
  const { element, text } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    id: 'simpul-script', element, label: t(text, 'script', 'Script (Python, sandboxed)'), debounce, rows: 4,
    getValue: () => getBusinessObject(element).script || '',
    setValue: (value) => modeling.updateProperties(element, { script: value, scriptFormat: 'python' })
  });
}

// -- the provider ---------------------------------------------------------------------------------

export default function SimpulPropertiesProvider(propertiesPanel, injector) {
  this._catalogue = injector.get('config.simpul', false) || { lanes: [], forms: [], operators: [], messages: [] };
  this._formKeys = injector.get('config.simpulForms', false) || (() => []);
  this._text = injector.get('config.simpulText', false) || {};
  this._createForm = injector.get('config.simpulCreateForm', false) || (() => {});
  propertiesPanel.registerProvider(500, this);
}

SimpulPropertiesProvider.$inject = ['propertiesPanel', 'injector'];

SimpulPropertiesProvider.prototype.getGroups = function (element) {
  const catalogue = this._catalogue;
  const formKeys = this._formKeys;
  const text = this._text;
  const createForm = this._createForm;
  return (groups) => {
    const bo = getBusinessObject(element);
    const entries = [];
    const add = (id, component, props, isEdited) => entries.push({ id, element, component: (p) => h(component, { ...p, ...props }), isEdited });
    if (is(element, 'bpmn:Lane')) {
      add('simpul-lane-role', LaneRole, { element, catalogue, text }, isSelectEntryEdited);
    }
    if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask') || (is(element, 'bpmn:StartEvent') && !(bo.eventDefinitions || []).length)) {
      add('simpul-form', PropertySelect, {
        element, id: 'simpul-form', name: 'formKey', label: t(text, 'form', 'Form'),
        description: t(text, 'form_description', 'The form the clerk fills in; edit it with "Edit form of selected task".'),
        options: () => Array.from(new Set([...catalogue.forms, ...formKeys()])).sort()
      }, isSelectEntryEdited);
    }
    if (is(element, 'bpmn:UserTask')) {
      add('simpul-new-form', NewForm, { element, id: 'simpul-new-form', text, catalogue, formKeys, createForm });
      add('simpul-due-days', DueDays, { element, text }, isNumberFieldEntryEdited);
      const due = getProperty(bo, 'dueIn') || '';
      if (due && !WHOLE_DAYS.test(due)) { // a duration that is not whole days (PT4H) stays editable as it is
        add('simpul-due', PropertyText, { element, id: 'simpul-due', name: 'dueIn', label: t(text, 'due', 'Due in (ISO 8601, e.g. P3D)') }, isTextFieldEntryEdited);
      }
    }
    if (is(element, 'bpmn:Activity') || is(element, 'bpmn:Event')) {
      add('simpul-name-en', PropertyText, { element, id: 'simpul-name-en', name: 'name_en', label: t(text, 'name_en', 'Name in English') }, isTextFieldEntryEdited);
    }
    if (is(element, 'bpmn:ServiceTask')) {
      add('simpul-operator', ServiceOperator, { element, catalogue, text }, isSelectEntryEdited);
      add('simpul-result-variable', ResultVariable, { element, text }, isTextFieldEntryEdited);
    }
    if (is(element, 'bpmn:ScriptTask')) {
      add('simpul-script', Script, { element, text }, isTextAreaEntryEdited);
    }
    if (messageHolder(bo)) {
      add('simpul-message', KnownMessage, { element, catalogue, text }, isSelectEntryEdited);
      add('simpul-correlation', Correlation, { element, catalogue, text });
    }
    if (is(element, 'bpmn:SequenceFlow') && bo.sourceRef &&
        (is(bo.sourceRef, 'bpmn:ExclusiveGateway') || is(bo.sourceRef, 'bpmn:InclusiveGateway'))) {
      add('simpul-condition', Condition, { element, text }, isTextFieldEntryEdited);
    }
    if (entries.length) {
      groups.splice(1, 0, { id: 'simpul', label: t(text, 'group', 'Simpul'), entries });
    }
    return groups;
  };
};
