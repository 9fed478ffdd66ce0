/* The process modeler page: bpmn-js with its properties panel (plus Simpul's own group) and
   the form-js editor, bundled from npm by `npm run build` and served by the app (no CDN).
   Saving sends the diagram and the forms edited with it; the server checks them and every
   problem comes back pinned to a diagram element, which is marked here. */
import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import { FormEditor } from '@bpmn-io/form-js-editor';
import spiffworkflow from './spiffworkflow.json';
import SimpulPropertiesProvider from './simpul-properties';
import { getProperty } from './simpul-properties';
import translateModule, { formEditorModule, pageTable, translateFor } from './translate-id';

const SimpulModule = {
  __init__: ['simpulPropertiesProvider'],
  simpulPropertiesProvider: ['type', SimpulPropertiesProvider]
};

function $(id) { return document.getElementById(id); }

function start() {
  const dataNode = $('modeler-data');
  if (!dataNode) { return; }
  const data = JSON.parse(dataNode.textContent);
  const text = JSON.parse($('modeler-text').textContent);
  const labels = JSON.parse(($('modeler-labels') || { textContent: '{}' }).textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  const container = document.querySelector('.modeler');
  const forms = Object.assign({}, data.forms || {});
  let draft = data.draft;
  // bpmn-js's and form-js's own words in the page's language, from the message catalogues
  const words = pageTable(document);
  const translate = translateFor(words.text);

  const modeler = new BpmnModeler({
    container: '#canvas',
    propertiesPanel: { parent: '#properties' },
    additionalModules: [
      BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, SimpulModule,
      translateModule(translate)
    ],
    moddleExtensions: { spiffworkflow },
    simpul: data.catalogue,
    simpulForms: () => Object.keys(forms),
    simpulText: labels,
    simpulCreateForm: (key) => { createForm(key); }
  });
  window.simpulModeler = modeler; // for the browser test and for an administrator's console

  const status = $('status');
  function say(message, kind) {
    status.textContent = message;
    status.className = 'alert alert-' + (kind || 'info');
    return status;
  }

  // -- problems pinned to elements --------------------------------------------------------------
  let marked = [];
  function showProblems(errors) {
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    const overlays = modeler.get('overlays');
    marked.forEach((id) => { if (registry.get(id)) { canvas.removeMarker(id, 'simpul-error'); } });
    overlays.remove({ type: 'simpul-error' });
    marked = [];
    const list = $('problem-list');
    list.innerHTML = '';
    $('problems').hidden = !errors.length;
    errors.forEach((err) => {
      const li = document.createElement('li');
      if (err.warning) { li.className = 'warning'; }
      const target = err.shape && registry.get(err.shape) ? err.shape : null;
      li.setAttribute('data-element', err.element || '');
      li.setAttribute('data-shape', target || '');
      const where = document.createElement(target ? 'a' : 'strong');
      // the element as the administrator named it; its id only when it has no name
      where.textContent = err.element_name || target || err.element || text.general;
      if (target) {
        where.href = '#';
        where.addEventListener('click', (ev) => {
          ev.preventDefault();
          modeler.get('selection').select(registry.get(target));
          canvas.scrollToElement(registry.get(target));
        });
      }
      li.appendChild(where);
      li.appendChild(document.createTextNode(': ' + err.message));
      list.appendChild(li);
      if (target) {
        if (!marked.includes(target)) {
          canvas.addMarker(target, 'simpul-error');
          marked.push(target);
        }
        const badge = document.createElement('div');
        badge.className = 'simpul-error-badge';
        badge.setAttribute('data-element', target);
        badge.title = err.message;
        badge.textContent = '!';
        overlays.add(target, 'simpul-error', { position: { top: -10, right: 10 }, html: badge });
      }
    });
  }

  // -- saving and deploying -----------------------------------------------------------------------
  async function post(url, body) {
    const response = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf, Accept: 'application/json' },
      body: JSON.stringify(body)
    });
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = { message: response.statusText }; }
    return { ok: response.ok, status: response.status, payload };
  }

  async function save() {
    const { xml } = await modeler.saveXML({ format: true });
    const body = { bpmn_xml: xml, forms };
    if (draft) { body.draft_id = draft.id; body.expected_revision = draft.revision; }
    else if (data.base_version) { body.base_version_id = data.base_version.id; }
    const res = await post(data.urls.save, body);
    if (!res.ok) { say(text.error + ' ' + (res.payload.message || res.status), 'error'); return null; }
    draft = res.payload;
    const url = data.urls.draft_page.replace('{id}', draft.id);
    if (window.location.pathname !== url) { window.history.replaceState(null, '', url); }
    showProblems((draft.errors || []).concat((draft.warnings || []).map((w) => Object.assign({ warning: true }, w))));
    say(draft.valid ? text.saved : text.saved_invalid, draft.valid ? 'success' : 'error');
    container.setAttribute('data-saved', String(draft.revision));
    return draft;
  }

  // -- before deploying: what changes, what the open cases do, what the process loses ----------
  function listOf(title, items, cls) {
    const box = document.createElement('div');
    box.className = 'preview-' + cls;
    const h = document.createElement('h3');
    h.textContent = title;
    const ul = document.createElement('ul');
    items.forEach((item) => {
      const li = document.createElement('li');
      li.textContent = typeof item === 'string' ? item : (item.name || item.id);
      if (item && item.id) { li.setAttribute('data-element', item.id); }
      ul.appendChild(li);
    });
    box.appendChild(h);
    box.appendChild(ul);
    return box;
  }

  function askToDeploy(preview) {
    const dlg = $('deploy-dialog');
    const box = $('deploy-summary');
    box.innerHTML = '';
    const v = String(preview.next_version);
    $('deploy-dialog-title').textContent = text.preview_title.replace('{v}', v);
    const para = (t, cls) => { const p = document.createElement('p'); p.textContent = t; if (cls) { p.className = cls; } box.appendChild(p); return p; };
    if (preview.lost.length) {
      const lost = listOf(text.preview_lost, preview.lost.map((l) => (l.kind === 'service'
        ? text.preview_lost_service.replace('{name}', l.name).replace('{op}', l.operator)
        : text.preview_lost_message.replace('{name}', l.name))), 'lost');
      lost.classList.add('alert', 'alert-error');
      lost.setAttribute('role', 'alert');
      box.appendChild(lost);
    }
    if (preview.current_version === null) {
      para(text.preview_first);
    } else {
      para(text.preview_against.replace('{v}', String(preview.current_version)));
      if (preview.added.length) { box.appendChild(listOf(text.preview_added, preview.added, 'added')); }
      if (preview.removed.length) { box.appendChild(listOf(text.preview_removed, preview.removed, 'removed')); }
      if (preview.changed.length) { box.appendChild(listOf(text.preview_changed, preview.changed, 'changed')); }
      if (!preview.added.length && !preview.removed.length && !preview.changed.length) { para(text.preview_same); }
    }
    para(preview.open_total ? text.preview_open.replace('{n}', String(preview.open_total)).replace('{v}', v) : text.preview_none_open, 'preview-open');
    if (preview.warnings && preview.warnings.length) {
      box.appendChild(listOf(text.preview_warnings, preview.warnings.map((w) => w.message), 'warnings'));
    }
    $('deploy-confirm').textContent = text.preview_confirm.replace('{v}', v);
    return new Promise((resolve) => {
      const done = (answer) => {
        $('deploy-confirm').onclick = null; $('deploy-cancel').onclick = null; dlg.onclose = null;
        if (dlg.open) { dlg.close(); }
        resolve(answer);
      };
      $('deploy-confirm').onclick = () => done(true);
      $('deploy-cancel').onclick = () => done(false);
      dlg.onclose = () => done(false);
      if (dlg.showModal) { dlg.showModal(); } else { dlg.setAttribute('open', ''); }
      $('deploy-cancel').focus();
    });
  }

  async function deploy() {
    const saved = await save();
    if (!saved) { return; }
    if (!saved.valid) { say(text.not_deployed, 'error'); return; }
    const response = await fetch(data.urls.preview.replace('{id}', saved.id), { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    let preview = null;
    try { preview = await response.json(); } catch (e) { preview = null; }
    if (!response.ok || !preview) { say(text.error + ' ' + ((preview && preview.message) || response.status), 'error'); return; }
    if (!preview.valid) { showProblems(preview.errors || []); say(text.not_deployed, 'error'); return; }
    if (!(await askToDeploy(preview))) { say(text.preview_cancelled, 'info'); return; }
    const res = await post(data.urls.deploy.replace('{id}', saved.id), { expected_revision: saved.revision, confirmed: true });
    if (!res.ok) {
      showProblems(res.payload.errors || []);
      say((res.payload.errors && res.payload.errors.length ? text.not_deployed : text.error + ' ' + res.payload.message), 'error');
      return;
    }
    const node = say(text.deployed.replace('{v}', res.payload.version), 'success');
    const link = document.createElement('a');
    link.href = res.payload.migrate_url;
    link.id = 'migrate-link';
    link.textContent = ' ' + text.migrate;
    node.appendChild(link);
    container.setAttribute('data-deployed', String(res.payload.version));
  }

  $('btn-save').addEventListener('click', () => { save(); });
  $('btn-deploy').addEventListener('click', () => { deploy(); });

  $('btn-download').addEventListener('click', async () => {
    const { xml } = await modeler.saveXML({ format: true });
    const blob = new Blob([xml], { type: 'application/xml' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = (data.process_key || 'process') + '.bpmn';
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  });

  $('import-input').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    if (!file) { return; }
    const xml = await file.text();
    try {
      await modeler.importXML(xml);
      modeler.get('canvas').zoom('fit-viewport', 'auto');
    } catch (err) {
      say(text.error + ' ' + err.message, 'error');
      return;
    }
    draft = null;
    await save(); // the server says what in the imported file Simpul does not run
  });

  // -- the form editor ----------------------------------------------------------------------------
  const dialog = $('form-dialog');
  let formEditor = null;
  let editingKey = null;

  async function formFor(key) {
    if (forms[key]) { return forms[key]; }
    const response = await fetch(data.urls.form.replace('__key__', encodeURIComponent(key)), { credentials: 'same-origin' });
    if (response.ok) { return response.json(); }
    return { type: 'default', id: 'Form_' + key, components: [] };
  }

  async function openFormEditor(key, schema) {
    editingKey = key;
    $('form-dialog-key').textContent = key;
    if (!formEditor) {
      formEditor = new FormEditor({
        container: '#form-editor',
        additionalModules: [formEditorModule(translate, words.form_fields)]
      });
      window.simpulFormEditor = formEditor;
    }
    await formEditor.importSchema(schema);
    if (dialog.showModal) { dialog.showModal(); } else { dialog.setAttribute('open', ''); }
  }

  // a new form made in the properties panel: empty, kept with the draft's forms
  async function createForm(key) {
    forms[key] = { type: 'default', id: 'Form_' + key, components: [] };
    await openFormEditor(key, forms[key]);
  }

  $('btn-form').addEventListener('click', async () => {
    const selected = modeler.get('selection').get()[0];
    if (!selected || !(selected.type === 'bpmn:UserTask' || selected.type === 'bpmn:StartEvent' || selected.type === 'bpmn:ManualTask')) {
      say(text.select_task, 'error');
      return;
    }
    const key = getProperty(selected.businessObject, 'formKey');
    if (!key) { say(text.no_form_key, 'error'); return; }
    await openFormEditor(key, await formFor(key));
  });
  $('form-apply').addEventListener('click', () => {
    if (formEditor && editingKey) { forms[editingKey] = formEditor.saveSchema(); }
    dialog.close();
  });
  $('form-cancel').addEventListener('click', () => dialog.close());

  // -- load ---------------------------------------------------------------------------------------
  modeler.importXML(data.xml).then(() => {
    modeler.get('canvas').zoom('fit-viewport', 'auto');
    container.setAttribute('data-state', 'ready');
    if (draft && draft.errors) { showProblems(draft.errors); }
  }).catch((err) => {
    container.setAttribute('data-state', 'error');
    say(text.error + ' ' + err.message, 'error');
  });
  window.simpulForms = forms;
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
