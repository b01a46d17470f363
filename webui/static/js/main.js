// The application shell: session, navigation, the selections that apply
// to every page (time range, analysis slot) and page lifecycle.
import {Api} from './api.js';
import {h, replace} from './dom.js';
import {Live} from './live.js';
import {buildHash, match, parseHash} from './router.js';
import {ROUTES, NAV} from './routes.js';
import {TimeSelection} from './timesel.js';
import {errorBox, loading, toast} from './ui.js';
import {renderLogin} from './login.js';
import {PASSWORD_HINT_KEY} from './pages/account.js';

class App {
  constructor(root) {
    this.root = root;
    this.api = new Api();
    this.api.onUnauthorized = () => this.sessionLost();
    this.live = new Live({
      onAuthLost: () => this.sessionLost(),
      onState: (st) => this.showLiveState(st),
    });
    this.session = null;
    this.cleanup = null;
    this.renderSeq = 0;
    this.time = new TimeSelection(this);
    this.slots = [{id: 0, label: 'Main analysis'}];
    window.addEventListener('hashchange', () => this.route());
  }

  async start() {
    try {
      const s = await this.api.get('/API/auth/session');
      this.loggedIn(s);
    } catch (err) {
      if (err.status === 401) this.showLogin();
      else replace(this.root, errorBox(err));
    }
  }

  // --- session ---

  has(role) {
    const roles = this.session ? this.session.roles || [] : [];
    return roles.includes('admin') || roles.includes(role);
  }

  loggedIn(s) {
    this.session = s;
    this.api.csrf = s.csrfToken || '';
    this.live.start();
    this.renderShell();
    this.loadSlots();
    this.route();
  }

  showLogin(message) {
    if (this.cleanup) this.cleanup();
    this.cleanup = null;
    this.session = null;
    this.root.className = 'login-screen';
    renderLogin(this.root, this.api, message, (s) => {
      this.root.className = '';
      this.loggedIn(s);
    });
  }

  sessionLost() {
    if (!this.session) return;
    this.live.stop();
    this.showLogin('Your session has ended. Log in again to continue.');
  }

  async logout() {
    try {
      await this.api.post('/API/auth/logout');
    } catch (err) {
      if (err.status !== 401) toast(`Logout: ${err.message}`, 'error');
    }
    this.live.stop();
    this.session = null;
    history.replaceState(null, '', '#/');
    this.showLogin('You have logged out.');
  }

  // --- shared selections, kept in the URL ---

  get query() { return parseHash(location.hash).query; }

  // globals are the query keys every page keeps: time range, slot and
  // virtual link group.
  globals() {
    const q = this.query;
    const g = {};
    if (q.t) g.t = q.t;
    if (q.mm) g.mm = q.mm;
    if (q.g) g.g = q.g;
    return g;
  }

  // href links to a page keeping the global selections.
  href(path, query = {}) {
    return buildHash(path, {...this.globals(), ...query});
  }

  navigate(path, query = {}) {
    location.hash = this.href(path, query);
  }

  // setGlobal changes a global selection and shows the page anew.
  setGlobal(change) {
    const {path, query} = parseHash(location.hash);
    const q = {...query, ...change};
    delete q.page;
    location.hash = buildHash(path, q);
  }

  // setPageQuery records a page's own state (sort, page, filter) in the
  // URL without showing the page anew.
  setPageQuery(change) {
    const {path, query} = parseHash(location.hash);
    history.replaceState(null, '', buildHash(path, {...query, ...change}));
  }

  get slot() { return Number(this.query.mm) || 0; }

  // group is the virtual link group whose statistics the pages show
  // (group=N; 0 is the default group).
  get group() { return Number(this.query.g) || 0; }

  // liveParams address the live feed's topics to the selected instance
  // and group, as Api.url does for REST requests.
  liveParams() {
    const p = {};
    if (this.slot) p['mm-id'] = `:${this.slot}`;
    if (this.group) p.group = this.group;
    return p;
  }

  // --- shell ---

  renderShell() {
    this.root.className = 'shell';
    this.view = h('main', {id: 'view', class: 'view', tabindex: '-1'});
    this.liveDot = h('span', {class: 'live-dot', role: 'status', title: 'Live feed'});
    // Another instance has groups of its own: its default group first.
    this.slotSelect = h('select', {'aria-label': 'Analysis instance', onchange: (ev) => this.setGlobal({mm: ev.target.value === '0' ? '' : ev.target.value, g: ''})});
    this.groupSelect = h('select', {'aria-label': 'Virtual link group', onchange: (ev) => this.setGlobal({g: ev.target.value === '0' ? '' : ev.target.value})});
    this.nav = h('nav', {class: 'sidebar', 'aria-label': 'Main'});
    const user = this.session.user;
    replace(this.root,
      h('a', {class: 'skip-link', href: '#view', onclick: (ev) => { ev.preventDefault(); this.view.focus(); }}, 'Skip to content'),
      h('header', {class: 'topbar'},
        h('a', {class: 'brand', href: '#/'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), 'Multimeter'),
        h('span', {class: 'host', id: 'hostname'}),
        h('div', {class: 'topbar-controls'},
          this.slotSelect,
          this.groupSelect,
          this.time.control(),
          this.liveDot,
          h('span', {class: 'user', title: `Roles: ${(this.session.roles || []).join(', ')}`}, user),
          h('button', {type: 'button', class: 'logout', onclick: () => this.logout()}, 'Log out'))),
      h('div', {class: 'body'}, this.nav, h('div', {class: 'main-col'}, this.passwordHint(), this.view)));
    this.renderNav();
    this.renderSlots();
    this.showLiveState(this.live.state);
    this.api.get('/API/info/system').then((info) => {
      document.getElementById('hostname').textContent = info.hostname || '';
      document.title = `${info.hostname || 'Multimeter'} – Multimeter`;
    }, () => {});
  }

  // passwordHint reminds an admin to replace the first-boot password
  // until they change it here or dismiss the reminder.
  passwordHint() {
    if (this.session.user !== 'admin' || localStorage.getItem(PASSWORD_HINT_KEY)) return null;
    const banner = h('div', {class: 'banner', role: 'note'},
      h('span', null, 'If you logged in with the first-boot password from the console, change it now under ',
        h('a', {href: this.href('/account'), onclick: () => banner.remove()}, 'My account'), '.'),
      h('span', {class: 'spacer'}),
      h('button', {type: 'button', class: 'small', onclick: () => { localStorage.setItem(PASSWORD_HINT_KEY, '1'); banner.remove(); }}, 'Dismiss'));
    return banner;
  }

  renderNav() {
    const current = parseHash(location.hash).path;
    replace(this.nav, NAV.map((g) => {
      const items = g.items.filter((it) => !it.role || this.has(it.role));
      if (!items.length) return null;
      return h('div', {class: 'nav-group'},
        h('div', {class: 'nav-title'}, g.group),
        h('ul', null, items.map((it) => {
          const active = current === it.path || current.startsWith(`${it.path}/`);
          return h('li', null, h('a', {href: this.href(it.path), 'aria-current': active ? 'page' : false, class: active ? 'active' : ''}, it.label));
        })));
    }));
  }

  // loadSlots lists the analysis instances: the live one and the pcap
  // analysis slots (mm-id=:N) that the slot selector switches between,
  // with their virtual link groups for the group selector.
  async loadSlots() {
    if (!this.has('stats')) return;
    try {
      // Group 0 is always there: a group the settings just removed must
      // not keep the new list from loading.
      const res = await this.api.get('/API/stats/pcap', {group: 0}, {slot: 0});
      this.slots = (res.analysisSlots || []).map((sl) => ({
        id: sl.slot,
        label: `${sl.slot === 0 ? 'Main analysis' : `Pcap slot ${sl.slot}`}${sl.sources && sl.sources.length ? `: ${sl.sources.join(', ')}` : ''}`,
        groups: sl.groups || ['default'],
      }));
      if (!this.slots.some((sl) => sl.id === 0)) this.slots.unshift({id: 0, label: 'Main analysis'});
    } catch {
      // keep what is known
    }
    if (this.groupGone()) {
      this.setGlobal({g: ''}); // shows the page anew
      return;
    }
    this.renderSlots();
  }

  // groupGone reports whether the selected group is one the selected
  // instance does not have (any more, after new settings), as far as the
  // loaded list of instances tells: its pages then show its default
  // group rather than an error.
  groupGone() {
    const sl = this.slots.find((s) => s.id === this.slot);
    return Boolean(sl && sl.groups && this.group >= sl.groups.length);
  }

  renderSlots() {
    if (!this.slotSelect) return;
    const cur = this.slot;
    const slots = this.slots.some((sl) => sl.id === cur) ? this.slots : [...this.slots, {id: cur, label: `Pcap slot ${cur}`}];
    replace(this.slotSelect, slots.map((sl) => h('option', {value: String(sl.id), selected: sl.id === cur}, sl.label)));
    this.slotSelect.hidden = slots.length < 2 || !this.has('stats');
    const names = (this.slots.find((sl) => sl.id === cur) || {}).groups || ['default'];
    const groups = names.map((name, i) => ({id: i, label: i === 0 ? 'Default group' : `Group ${i}: ${name}`}));
    const g = this.group;
    if (!groups.some((gr) => gr.id === g)) groups.push({id: g, label: `Group ${g}`}); // as the URL asks; the API says if it is gone
    replace(this.groupSelect, groups.map((gr) => h('option', {value: String(gr.id), selected: gr.id === g}, gr.label)));
    this.groupSelect.hidden = groups.length < 2 || !this.has('stats');
  }

  showLiveState(st) {
    if (!this.liveDot) return;
    this.liveDot.className = `live-dot ${st}`;
    const text = {open: 'Live feed connected', connecting: 'Connecting live feed…', offline: 'Live feed offline, reconnecting', closed: 'Live feed closed'}[st] || st;
    this.liveDot.title = text;
    this.liveDot.setAttribute('aria-label', text);
  }

  // --- pages ---

  // route renders the page of the URL's hash. When the page is done (or
  // has failed), #view's data-route holds the hash it rendered: a view
  // renders some time after its hash changed, and whoever reads it (the
  // browser tests) can tell the old page from the new.
  async route() {
    if (!this.session) return;
    const hash = location.hash;
    const {path, query} = parseHash(hash);
    if (path === '/') {
      history.replaceState(null, '', this.href(this.home()));
      this.route();
      return;
    }
    if (this.groupGone()) {
      this.setGlobal({g: ''});
      return;
    }
    delete this.view.dataset.route;
    const rendered = () => {
      this.view.dataset.route = hash;
    };
    if (this.cleanup) {
      try {
        this.cleanup();
      } catch (e) {
        console.warn('page cleanup', e);
      }
    }
    this.cleanup = null;
    const seq = ++this.renderSeq;
    this.api.slot = this.slot;
    this.api.group = this.group;
    this.time.sync(query.t);
    this.renderNav();
    this.renderSlots();
    const found = match(ROUTES, path);
    if (!found) {
      replace(this.view, h('h1', null, 'Not found'), h('p', null, 'There is no page at ', h('code', null, path), '. ', h('a', {href: this.href(this.home())}, 'Go to the start page'), '.'));
      rendered();
      return;
    }
    if (found.route.role && !this.has(found.route.role)) {
      replace(this.view, h('h1', null, 'Not allowed'), h('p', null, `This page needs the ${found.route.role} role, which your user does not have.`));
      rendered();
      return;
    }
    replace(this.view, loading());
    try {
      const mod = await found.route.load();
      if (seq !== this.renderSeq) return;
      this.view.replaceChildren();
      const ctx = {app: this, view: this.view, params: found.params, query, isCurrent: () => seq === this.renderSeq};
      const cleanup = await mod.default(ctx);
      if (seq !== this.renderSeq) {
        if (typeof cleanup === 'function') cleanup();
        return;
      }
      this.cleanup = typeof cleanup === 'function' ? cleanup : null;
      rendered();
    } catch (err) {
      if (seq !== this.renderSeq) return;
      replace(this.view, errorBox(err));
      rendered();
    }
  }

  // instanceTime is the analysis instance's clock: its last complete
  // second (the wall clock live, the capture's clock for an analysed
  // pcap) and its first second with data.
  async instanceTime() {
    try {
      const t = await this.api.get('/API/stats/time');
      const now = Number(t.lastSecond) || Number(t.time);
      if (now > 0) return {now, first: Number(t.firstSecond) || now};
    } catch {
      // fall back to the browser's clock
    }
    const now = Math.floor(Date.now() / 1000);
    return {now, first: now};
  }

  async instanceNow() {
    return (await this.instanceTime()).now;
  }

  home() {
    if (this.has('stats')) return '/dashboard';
    if (this.has('pcap')) return '/captures';
    return '/account';
  }
}

const app = new App(document.getElementById('app'));
app.start();
