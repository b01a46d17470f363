// Users (admins): create, change roles, reset passwords, delete, and
// manage each user's API tokens.
import {h, field, replace} from '../dom.js';
import {time} from '../format.js';
import {ROLES, roleBoxes, tokenPanel} from '../tokens.js';
import {card, confirmAction, errorBox, modal, pageHeader, toast} from '../ui.js';

const ALL = ROLES.map((r) => r[0]);

export default function render({app, view}) {
  const rows = h('tbody');
  const errSlot = h('div');
  const load = async () => {
    try {
      const res = await app.api.get('/API/system/users');
      errSlot.replaceChildren();
      replace(rows, (res.users || []).map((u) => userRow(app, u, load)));
    } catch (e) {
      replace(errSlot, errorBox(e));
    }
  };
  view.append(
    pageHeader('Users', h('button', {type: 'button', class: 'primary', onclick: () => createUser(app, load)}, 'New user…')),
    card(null,
      h('p', {class: 'hint'}, 'Roles: admin may do everything; stats reads the statistics; pcap captures and extracts packets. Roles combine.'),
      errSlot,
      h('div', {class: 'table-scroll'}, h('table', {id: 'users-table'},
        h('thead', null, h('tr', null, ['User', 'Roles', 'Created', 'Tokens', ''].map((c) => h('th', {scope: 'col'}, c)))),
        rows))));
  load();
}

function userRow(app, u, reload) {
  const self = u.name === app.session.user;
  return h('tr', null,
    h('td', null, u.name, self ? h('span', {class: 'cell-sub'}, '(you)') : null),
    h('td', null, (u.roles || []).map((r) => h('span', {class: 'tag'}, r))),
    h('td', null, time(Date.parse(u.created) / 1000)),
    h('td', {class: 'num'}, u.tokens),
    h('td', null, h('div', {class: 'row-actions'},
      h('button', {type: 'button', class: 'small', onclick: () => editUser(app, u, reload)}, 'Edit…'),
      h('button', {type: 'button', class: 'small', onclick: () => userTokens(app, u, reload)}, 'Tokens…'),
      u.name === 'admin' ? null : h('button', {
        type: 'button', class: 'small danger', 'aria-label': `Delete user ${u.name}`,
        onclick: async () => {
          if (!await confirmAction('Delete user', `Delete ${u.name}? Their sessions and API tokens end at once.`, 'Delete')) return;
          try {
            await app.api.del(`/API/system/users/${encodeURIComponent(u.name)}`);
            toast(`User ${u.name} deleted`, 'ok');
            reload();
          } catch (e) {
            toast(e.message, 'error');
          }
        },
      }, 'Delete'))));
}

function createUser(app, reload) {
  const name = h('input', {type: 'text', required: true, autocomplete: 'off', maxlength: 64});
  const pw = h('input', {type: 'password', required: true, minlength: 8, autocomplete: 'new-password'});
  const roles = roleBoxes(['stats']);
  const msg = h('div', {class: 'form-error', role: 'alert'});
  modal('New user', (close) => h('form', {
    class: 'dialog-body',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await app.api.post('/API/system/users', {name: name.value.trim(), password: pw.value, roles: roles.value()});
        toast(`User ${name.value.trim()} created`, 'ok');
        close();
        reload();
      } catch (e) {
        msg.textContent = e.message;
      }
    },
  }, field('User name', name), field('Password', pw, 'At least 8 characters.'), roles.el, msg,
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Create user'), h('button', {type: 'button', onclick: close}, 'Cancel'))));
}

function editUser(app, u, reload) {
  const roles = roleBoxes(u.roles || []);
  const pw = h('input', {type: 'password', minlength: 8, autocomplete: 'new-password', placeholder: 'unchanged'});
  const msg = h('div', {class: 'form-error', role: 'alert'});
  modal(`Edit ${u.name}`, (close) => h('form', {
    class: 'dialog-body',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {roles: roles.value()};
      if (pw.value) body.password = pw.value;
      try {
        await app.api.put(`/API/system/users/${encodeURIComponent(u.name)}`, body);
        toast(`User ${u.name} changed`, 'ok');
        close();
        reload();
      } catch (e) {
        msg.textContent = e.message;
      }
    },
  }, roles.el, field('New password', pw, 'Leave empty to keep the password. A new one ends the user\'s sessions.'), msg,
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Save'), h('button', {type: 'button', onclick: close}, 'Cancel'))));
}

function userTokens(app, u, reload) {
  modal(`API tokens of ${u.name}`, () => h('div', {class: 'dialog-body'},
    tokenPanel(app, `/API/system/users/${encodeURIComponent(u.name)}/tokens`, (u.roles || []).includes('admin') ? ALL : u.roles || [])),
  {wide: true, onClose: reload});
}
