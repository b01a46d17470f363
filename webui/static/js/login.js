// The login screen.
import {h, field, replace} from './dom.js';

// renderLogin shows the login form in root and calls done(session) after
// a successful login.
export function renderLogin(root, api, message, done) {
  const user = h('input', {type: 'text', name: 'username', autocomplete: 'username', required: true, autofocus: true, autocapitalize: 'none', spellcheck: 'false'});
  const pass = h('input', {type: 'password', name: 'password', autocomplete: 'current-password', required: true});
  const err = h('div', {class: 'form-error', role: 'alert', id: 'login-error'});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Log in');
  const form = h('form', {
    class: 'login-card', 'aria-labelledby': 'login-title',
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      submit.disabled = true;
      try {
        const s = await api.post('/API/auth/login', {username: user.value.trim(), password: pass.value});
        pass.value = '';
        done(s);
      } catch (e) {
        err.textContent = e.status === 401 ? 'Wrong user name or password.' : e.message;
        submit.disabled = false;
        pass.select();
      }
    },
  },
  h('div', {class: 'login-brand'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), 'Multimeter'),
  h('h1', {id: 'login-title'}, 'Log in'),
  message ? h('p', {class: 'notice'}, message) : null,
  field('User name', user),
  field('Password', pass),
  err,
  submit,
  h('details', {class: 'login-help'},
    h('summary', null, 'First login?'),
    h('p', null, 'The appliance has no default password. On first start it prints the password of the user ',
      h('code', null, 'admin'), ' once on its serial console (or it was set with ', h('code', null, '--admin-password'), '). ',
      'Log in as admin with it and change it at once under My account, then create a user for each person.')));
  replace(root, h('main', {class: 'login-main'}, form));
  user.focus();
}
