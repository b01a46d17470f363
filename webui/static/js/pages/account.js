// My account: the caller's roles, password change and own API tokens.
import {h, field} from '../dom.js';
import {tokenPanel} from '../tokens.js';
import {card, kv, pageHeader, toast} from '../ui.js';

export const PASSWORD_HINT_KEY = 'mm.passwordHintDone';

export default function render({app, view}) {
  const s = app.session;
  view.append(
    pageHeader('My account'),
    card('User', kv([
      ['User', s.user],
      ['Roles', (s.roles || []).map((r) => h('span', {class: 'tag'}, r))],
    ])),
    card('Change password', passwordForm(app)),
    card('API tokens', h('p', {class: 'hint'}, 'Tokens let scripts use the REST API without your password. A token never has more rights than you.'),
      tokenPanel(app, '/API/auth/tokens', s.roles || [])));
}

function passwordForm(app) {
  const old = h('input', {type: 'password', autocomplete: 'current-password', required: true});
  const pw1 = h('input', {type: 'password', autocomplete: 'new-password', required: true, minlength: 8});
  const pw2 = h('input', {type: 'password', autocomplete: 'new-password', required: true, minlength: 8});
  const msg = h('div', {class: 'form-error', role: 'alert'});
  const form = h('form', {
    class: 'narrow-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      if (pw1.value !== pw2.value) {
        msg.textContent = 'The two new passwords differ.';
        return;
      }
      try {
        await app.api.post('/API/auth/password', {oldPassword: old.value, newPassword: pw1.value});
        form.reset();
        localStorage.setItem(PASSWORD_HINT_KEY, '1');
        toast('Password changed. Your other sessions have been logged out.', 'ok');
      } catch (e) {
        msg.textContent = e.message;
      }
    },
  },
  field('Current password', old),
  field('New password', pw1),
  field('New password again', pw2),
  msg,
  h('button', {type: 'submit', class: 'primary'}, 'Change password'));
  return form;
}
