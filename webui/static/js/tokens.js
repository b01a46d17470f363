// API tokens: the list of a user's tokens with revoke buttons and a form
// to create one. Used on My account (own tokens) and on Users (admins
// managing another user's).
import {h, field, replace} from './dom.js';
import {time} from './format.js';
import {confirmAction, errorBox, modal, toast} from './ui.js';

export const ROLES = [
  ['admin', 'Admin: everything, including users and configuration'],
  ['stats', 'Statistics: read every statistic'],
  ['pcap', 'Pcap: capture and extract packets'],
];

// roleBoxes renders a checkbox per role; offer limits the choice.
export function roleBoxes(checked = [], offer = ROLES.map((r) => r[0])) {
  const boxes = ROLES.filter(([r]) => offer.includes(r)).map(([r, label]) => {
    const box = h('input', {type: 'checkbox', value: r, checked: checked.includes(r)});
    return h('label', {class: 'check', title: label}, box, r);
  });
  const el = h('fieldset', null, h('legend', null, 'Roles'), boxes);
  return {el, value: () => boxes.map((b) => b.firstChild).filter((b) => b.checked).map((b) => b.value)};
}

// tokenPanel manages the tokens under base (/API/auth/tokens or
// /API/system/users/NAME/tokens); offer is the roles a token may get.
export function tokenPanel(app, base, offer) {
  const rows = h('tbody');
  const errSlot = h('div');
  const load = async () => {
    try {
      const res = await app.api.get(base);
      const tokens = res.tokens || [];
      errSlot.replaceChildren();
      if (!tokens.length) {
        replace(rows, h('tr', null, h('td', {colspan: 4, class: 'empty'}, 'No API tokens.')));
        return;
      }
      replace(rows, tokens.map((t) => h('tr', null,
        h('td', null, t.name),
        h('td', null, (t.roles || []).map((r) => h('span', {class: 'tag'}, r))),
        h('td', null, time(Date.parse(t.created) / 1000)),
        h('td', null, h('button', {
          type: 'button', class: 'small danger', 'aria-label': `Revoke token ${t.name}`,
          onclick: async () => {
            if (!await confirmAction('Revoke token', `Scripts using the token "${t.name}" will be refused from now on.`, 'Revoke')) return;
            try {
              await app.api.del(`${base}/${encodeURIComponent(t.id)}`);
              toast(`Token ${t.name} revoked`, 'ok');
              load();
            } catch (e) {
              toast(e.message, 'error');
            }
          },
        }, 'Revoke')))));
    } catch (e) {
      replace(errSlot, errorBox(e));
    }
  };
  const create = () => {
    const name = h('input', {type: 'text', required: true, maxlength: 64, placeholder: 'e.g. grafana'});
    const roles = roleBoxes(offer.filter((r) => r !== 'admin'), offer);
    const msg = h('div', {class: 'form-error', role: 'alert'});
    modal('New API token', (close) => {
      const form = h('form', {
        class: 'dialog-body',
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            const t = await app.api.post(base, {name: name.value.trim(), roles: roles.value()});
            load();
            replace(form,
              h('p', null, 'Copy the token now: it is shown only once. Send it as ', h('code', null, 'Authorization: Bearer …'), '.'),
              h('div', {class: 'secret', tabindex: '0'}, t.secret),
              h('div', {class: 'actions'},
                h('button', {type: 'button', onclick: () => navigator.clipboard?.writeText(t.secret).then(() => toast('Copied', 'ok'), () => {})}, 'Copy'),
                h('button', {type: 'button', class: 'primary', onclick: close}, 'Done')));
          } catch (e) {
            msg.textContent = e.message;
          }
        },
      }, field('Name', name), roles.el, msg,
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Create token'), h('button', {type: 'button', onclick: close}, 'Cancel')));
      return form;
    });
  };
  load();
  return h('div', null,
    h('div', {class: 'table-tools'}, h('button', {type: 'button', onclick: create}, 'New token…')),
    errSlot,
    h('div', {class: 'table-scroll'}, h('table', null,
      h('thead', null, h('tr', null, ['Name', 'Roles', 'Created', ''].map((c) => h('th', {scope: 'col'}, c)))),
      rows)));
}
