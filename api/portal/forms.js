// Forms: labelled fields, and an API problem shown as a sentence above the form with each field
// error next to its field (aria-invalid + aria-describedby).
import {h, fill} from './dom.js';

let seq = 0;

// A labelled input: field('prospect.email', 'E-mail', {type: 'email'}, 'hint').
export function field(name, label, attrs = {}, hint) {
  const id = 'f' + (++seq);
  const tag = attrs.tag || 'input';
  const opts = attrs.options;
  const a = Object.assign({}, attrs, {id, name, tag: null, options: null, 'aria-describedby': hint ? id + '-hint' : null});
  const control = tag === 'select'
    ? h('select', a, opts.map(([v, t]) => h('option', {value: v}, t)))
    : h(tag, a);
  return h('div', {class: 'field'},
    h('label', {for: id}, label, attrs.required ? h('span', {class: 'req'}, ' (required)') : null),
    hint ? h('p', {class: 'hint', id: id + '-hint'}, hint) : null,
    control,
    h('p', {class: 'field-error', id: id + '-err', hidden: true}));
}

// Clears the errors a form shows.
export function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    const err = form.querySelector('#' + el.id + '-err');
    if (err) {
      err.hidden = true;
      err.textContent = '';
    }
    el.setAttribute('aria-describedby', (el.getAttribute('aria-describedby') || '').replace(el.id + '-err', '').trim());
  }
  const top = form.querySelector('.form-error');
  if (top) fill(top);
}

// Shows an error (ApiError or any Error) on the form: the sentence on top, field errors by name.
export function showError(form, e, sentenceOverride) {
  clearErrors(form);
  let placed = 0;
  for (const fe of (e.fields || [])) {
    const el = form.elements.namedItem(fe.field);
    if (!el || !el.id) continue;
    el.setAttribute('aria-invalid', 'true');
    const err = form.querySelector('#' + el.id + '-err');
    err.textContent = fe.message.charAt(0).toUpperCase() + fe.message.slice(1) + '.';
    err.hidden = false;
    el.setAttribute('aria-describedby', ((el.getAttribute('aria-describedby') || '') + ' ' + el.id + '-err').trim());
    if (!placed++) el.focus();
  }
  const top = form.querySelector('.form-error');
  fill(top, h('p', {role: 'alert'}, sentenceOverride || e.message));
  if (!placed) top.scrollIntoView({block: 'nearest'});
}

// A form that runs `submit(values, form)` (values: name → trimmed string, checkboxes → bool),
// with its button busy while it runs and any failure shown on it.
export function form(attrs, children, submit) {
  const f = h('form', Object.assign({novalidate: true}, attrs),
    h('div', {class: 'form-error'}), children);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const el of f.elements) {
      if (!el.name) continue;
      values[el.name] = el.type === 'checkbox' ? el.checked : el.value.trim();
    }
    const buttons = [...f.querySelectorAll('button')];
    buttons.forEach((b) => { b.disabled = true; });
    clearErrors(f);
    try {
      await submit(values, f, ev.submitter);
    } catch (e) {
      showError(f, e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return f;
}

// Only the fields that were filled in (the API takes null or absence for "none").
export function filled(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== '' && v !== null && v !== undefined) out[k] = v;
  return out;
}
