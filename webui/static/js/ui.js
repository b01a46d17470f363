// Small shared widgets: dialogs, notices, error boxes, key/value lists,
// cards.
import {h} from './dom.js';

// modal opens a <dialog> (focus is trapped and Escape closes it) and
// removes it from the page when it closes. build(close) returns the body.
export function modal(title, build, {wide = false, onClose} = {}) {
  const heading = h('h2', {class: 'dialog-title'}, title);
  const dlg = h('dialog', {class: ['dialog', wide && 'wide'], 'aria-label': title});
  const close = () => dlg.close();
  const closeBtn = h('button', {type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close', onclick: close}, '×');
  dlg.append(h('div', {class: 'dialog-head'}, heading, closeBtn), build(close));
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onClose) onClose();
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  const first = dlg.querySelector('[autofocus], input, select, textarea, button:not(.dialog-close)');
  if (first) first.focus();
  return dlg;
}

// confirmAction asks before something irreversible.
export function confirmAction(title, text, action = 'Confirm') {
  return new Promise((resolve) => {
    let answer = false;
    modal(title, (close) => h('div', {class: 'dialog-body'},
      h('p', null, text),
      h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'danger', onclick: () => { answer = true; close(); }}, action),
        h('button', {type: 'button', onclick: close}, 'Cancel'))),
    {onClose: () => resolve(answer)});
  });
}

// toast shows a short notice in the corner (announced to screen readers).
export function toast(text, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', {id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite'});
    document.body.appendChild(box);
  }
  const t = h('div', {class: ['toast', kind]}, text);
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// errorBox shows a failed request in place of what it should have shown.
export function errorBox(err) {
  const status = err && err.status ? ` (${err.status})` : '';
  return h('div', {class: 'error-box', role: 'alert'}, `${err && err.message ? err.message : String(err)}${status}`);
}

// kv renders [label, value] pairs as a definition list.
export function kv(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// card is a titled panel.
export function card(title, ...body) {
  return h('section', {class: 'card'}, title ? h('h2', {class: 'card-title'}, title) : null, ...body);
}

// loading is the placeholder while a request runs.
export function loading(text = 'Loading…') {
  return h('div', {class: 'loading', 'aria-busy': 'true'}, text);
}

// pageHeader is a page's title row with optional actions on the right.
export function pageHeader(title, ...actions) {
  return h('div', {class: 'page-header'}, h('h1', {tabindex: '-1'}, title), h('div', {class: 'page-actions'}, ...actions));
}
