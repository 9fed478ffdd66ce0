/* bpmn-js and the form-js editor in the page's language.  The words come from the message
   catalogues: the server renders every library string it knows (web/modeler_text.py) with its
   translation as JSON into the page (#modeler-translations); a string it does not list stays as
   the library wrote it.

   bpmn-js and its properties panel ask a `translate` service (the library's own mechanism,
   https://github.com/bpmn-io/bpmn-js-examples/tree/main/i18n).  The form-js editor (1.23) has
   none (bpmn-io/form-js#77): its texts are literals, so `formEditorModule` reaches them through
   what the library does let a module change -- the field types' names, a properties provider
   that runs after the library's own (groups, entries, the panel's `translate` prop), and, for
   the palette and the empty states, which no module can reach, preact's `options.vnode` hook
   limited to the form editor's own elements (by their class). */
import { options } from 'preact';

/* { text: {english: translation}, form_fields: {field type's name: translation} } */
export function pageTable(doc) {
  const node = (doc || document).getElementById('modeler-translations');
  let table = null;
  try { table = node ? JSON.parse(node.textContent) : null; } catch (e) { table = null; }
  return { text: (table && table.text) || {}, form_fields: (table && table.form_fields) || {} };
}

function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/* translate(template, replacements) as bpmn-js calls it; a text the library has already
   filled in ("Create a Text field element") is found through the entries with placeholders. */
export function translateFor(table) {
  table = table || {};
  const patterns = Object.keys(table).filter((k) => /{[^}]+}/.test(k)).map((key) => {
    const names = [];
    const source = escapeRegExp(key).replace(/\\{([^}]+)\\}/g, (_, name) => { names.push(name); return '(.+?)'; });
    return { regexp: new RegExp('^' + source + '$'), names, text: table[key] };
  });
  function fill(text, replacements) {
    return text.replace(/{([^}]+)}/g, (_, key) => (key in replacements ? translate(String(replacements[key])) : '{' + key + '}'));
  }
  function translate(template, replacements) {
    if (typeof template !== 'string') { return template; }
    if (Object.prototype.hasOwnProperty.call(table, template)) { return fill(table[template] || template, replacements || {}); }
    if (!replacements) {
      for (const pattern of patterns) {
        const found = pattern.regexp.exec(template);
        if (found) {
          const values = {};
          pattern.names.forEach((name, i) => { values[name] = found[i + 1]; });
          return fill(pattern.text, values);
        }
      }
    }
    return fill(template, replacements || {});
  }
  return translate;
}

export default function translateModule(translate) {
  return { translate: ['value', translate] };
}

// -- the form-js editor --------------------------------------------------------------------------

const TEXT_PROPS = ['label', 'description', 'tooltip', 'title', 'placeholder', 'aria-label', 'text'];

function isVNode(value) { return value && typeof value === 'object' && 'props' in value && 'type' in value; }

function translateOptions(list, translate) {
  return list.map((o) => {
    if (!o || typeof o !== 'object') { return o; }
    const copy = Object.assign({}, o);
    if (typeof o.label === 'string') { copy.label = translate(o.label); }
    if (Array.isArray(o.children)) { copy.children = translateOptions(o.children, translate); }
    return copy;
  });
}

/* the library's strings in a rendered tree: text props and text children of each vnode, the
   messages its validators return and the labels of the options it offers */
function translateTree(node, translate) {
  if (Array.isArray(node)) { return node.map((child) => translateTree(child, translate)); }
  if (typeof node === 'string') { return translate(node); }
  if (!isVNode(node) || !node.props) { return node; }
  const props = node.props;
  TEXT_PROPS.forEach((name) => {
    if (typeof props[name] === 'string') { props[name] = translate(props[name]); }
    else if (isVNode(props[name]) || Array.isArray(props[name])) { props[name] = translateTree(props[name], translate); }
  });
  if (props.children !== undefined) { props.children = translateTree(props.children, translate); }
  if (typeof node.type === 'function') {
    // a description or a tooltip: its text is its value
    if ('forId' in props && typeof props.value === 'string') { props.value = translate(props.value); }
    // a select's options
    if (Array.isArray(props.options)) { props.options = translateOptions(props.options, translate); }
    // the panel's components that know the prop (FEEL toggles, pop-up editor, lists)
    props.translate = translate;
  }
  if (typeof props.validate === 'function') {
    const validate = props.validate;
    props.validate = (...args) => { const message = validate(...args); return typeof message === 'string' ? translate(message) : message; };
  }
  if (typeof props.getOptions === 'function') {
    const getOptions = props.getOptions;
    props.getOptions = (...args) => translateOptions(getOptions(...args) || [], translate);
  }
  return node;
}

/* one wrapper per library component, kept: a new one at each render would remount the entry
   (and lose the focus of the input being typed in) */
function wrapperCache(translate) {
  const wrappers = new Map();
  return function wrap(Component) {
    if (typeof Component !== 'function' || Component.prototype && Component.prototype.render) { return Component; }
    if (!wrappers.has(Component)) {
      const Translated = (props) => translateTree(Component(props), translate);
      Translated.displayName = 'Translated(' + (Component.displayName || Component.name || 'entry') + ')';
      wrappers.set(Component, Translated);
    }
    return wrappers.get(Component);
  };
}

function translateEntries(entries, wrap) {
  return (entries || []).map((entry) => (entry && entry.component ? Object.assign({}, entry, { component: wrap(entry.component) }) : entry));
}

/* runs after form-js's own provider (lowest priority): the group headings, their entries, and
   the panel's own words (Toggle section, Create new list item...) through its `translate` prop */
function SimpulFormPanelTranslation(propertiesPanel, translate) {
  const wrap = wrapperCache(translate);
  this.getGroups = function () {
    return (groups) => groups.map((group) => {
      const translated = Object.assign({}, group, { translate });
      if (typeof group.label === 'string') { translated.label = translate(group.label); }
      if (typeof group.tooltip === 'string') { translated.tooltip = translate(group.tooltip); }
      if (group.entries) { translated.entries = translateEntries(group.entries, wrap); }
      // list items: their label is the administrator's (an option's label), their entries the library's
      if (group.items) { translated.items = group.items.map((item) => Object.assign({}, item, { entries: translateEntries(item.entries, wrap) })); }
      return translated;
    });
  };
  propertiesPanel.registerProvider(this, 1);
}

/* the palette, the empty form, the panel's placeholder and header type and the canvas's
   context pad: elements of the form editor that no module can change, known by their class */
const EDITOR_CLASSES = /(^|\s)(fjs-palette-header|fjs-palette-group-title|fjs-palette-search|fjs-palette-search-clear|fjs-palette-no-entries|fjs-palette-field|fjs-empty-editor-card|fjs-empty-component|fjs-context-pad-item|fjs-properties-panel-placeholder|bio-properties-panel-placeholder|bio-properties-panel-header-type|bio-properties-panel-open-feel-popup)(\s|$)/;
const FORM_EDITOR_CLASSES_ONLY = /(^|\s)(fjs-palette-field)(\s|$)/;
let currentHook = null;

function installVNodeHook(translate) {
  if (currentHook) { currentHook.translate = translate; return; }
  const previous = options.vnode;
  currentHook = { translate };
  options.vnode = (vnode) => {
    const props = vnode.props;
    const cls = props && (props.class || props.className);
    if (typeof vnode.type === 'string' && typeof cls === 'string' && EDITOR_CLASSES.test(cls)) {
      const t = currentHook.translate;
      if (FORM_EDITOR_CLASSES_ONLY.test(cls)) {
        // a palette button: its title only; the field name in it is already translated
        if (typeof props.title === 'string') { props.title = t(props.title); }
      } else {
        translateTree(vnode, t);
      }
    }
    if (previous) { previous(vnode); }
  };
}

/* the field types' names (the palette's buttons, the panel's heading) have their own table:
   "Select" the field type is not "Select" the button */
export function formEditorModule(translate, fieldNames) {
  fieldNames = fieldNames || {};
  function SimpulFormFieldNames(formFields) {
    Object.values(formFields._formFields || {}).forEach((field) => {
      const config = field && field.config;
      // the palette reads `name`, or `label` (form-js's older custom fields, and its file picker)
      const name = config && (config.name || config.label);
      if (!name || !fieldNames[name]) { return; }
      const translated = Object.assign({}, config, { name: fieldNames[name] });
      // a field added from the palette is labelled with its type's name, in the page's language
      if (config.label && fieldNames[config.label]) { translated.label = fieldNames[config.label]; }
      if (typeof config.create === 'function') {
        translated.create = (attrs, isNewField) => {
          const created = config.create(attrs, isNewField);
          if (isNewField !== false && created && !(attrs && 'label' in attrs) && fieldNames[created.label]) {
            created.label = fieldNames[created.label];
          }
          // ...and a new list of options starts with one named in it too ("Value")
          if (isNewField !== false && created && Array.isArray(created.values) && !(attrs && attrs.values)) {
            created.values = translateOptions(created.values, translate);
          }
          return created;
        };
      }
      field.config = translated;
    });
  }
  SimpulFormFieldNames.$inject = ['formFields'];
  SimpulFormPanelTranslation.$inject = ['propertiesPanel', 'translate'];
  installVNodeHook(translate);
  return {
    __init__: ['simpulFormFieldNames', 'simpulFormPanelTranslation'],
    simpulFormFieldNames: ['type', SimpulFormFieldNames],
    simpulFormPanelTranslation: ['type', SimpulFormPanelTranslation],
    translate: ['value', translate]
  };
}
