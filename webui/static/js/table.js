// DataTable: a paged, server-sorted table. Rows come from a REST load or,
// for live views, from a websocket subscription that delivers the same
// page every second. Sorting, paging and the text filter go to the
// server (sort, reverse, page, count, filter), so a table of a million
// IPs stays as quick as one of ten.
import {h, replace} from './dom.js';
import {errorBox} from './ui.js';

export class DataTable {
  // opts:
  //   columns: [{key, label, sort, num, render(item), title}]
  //   load(q) -> Promise<{items, total}>        (q: sort, reverse, page, count, filter)
  //   subscribe(q, onData, onError) -> unsubscribe   (optional: live rows)
  //   csvUrl(q) -> string                         (optional: CSV download link)
  //   filter: placeholder text of the filter box, or '' for none
  //   state: {sort, reverse, page, filter} to start with
  //   onState(q): the state changed (to keep it in the URL)
  //   pageSize, empty, caption
  constructor(opts) {
    this.opts = opts;
    const st = opts.state || {};
    this.q = {
      sort: st.sort || opts.sort || '',
      reverse: st.reverse !== undefined ? st.reverse : opts.reverse !== false,
      page: Number(st.page) || 0,
      count: opts.pageSize || 25,
      filter: st.filter || '',
    };
    this.total = 0;
    this.unsub = null;
    this.seq = 0;
    this.filterTimer = 0;
    this.build();
    this.refresh();
  }

  build() {
    const o = this.opts;
    this.status = h('span', {class: 'table-status', 'aria-live': 'polite'});
    this.csvLink = o.csvUrl ? h('a', {class: 'button', download: o.csvName || 'table.csv'}, 'CSV') : null;
    const filterBox = o.filter ? h('input', {
      type: 'search', class: 'table-filter', placeholder: o.filter, value: this.q.filter,
      'aria-label': `Filter: ${o.filter}`,
      oninput: (ev) => {
        clearTimeout(this.filterTimer);
        this.filterTimer = setTimeout(() => this.set({filter: ev.target.value.trim(), page: 0}), 350);
      },
    }) : null;
    this.headRow = h('tr');
    this.body = h('tbody');
    this.errorSlot = h('div');
    this.pager = h('div', {class: 'pager'});
    this.el = h('div', {class: 'data-table'},
      h('div', {class: 'table-tools'}, filterBox, this.status, this.csvLink),
      this.errorSlot,
      h('div', {class: 'table-scroll'},
        h('table', null, o.caption ? h('caption', {class: 'sr-only'}, o.caption) : null, h('thead', null, this.headRow), this.body)),
      this.pager);
    this.renderHead();
  }

  renderHead() {
    replace(this.headRow, this.opts.columns.map((c) => {
      const cls = c.num ? 'num' : '';
      if (!c.sort) return h('th', {scope: 'col', class: cls, title: c.title}, c.label);
      const active = this.q.sort === c.sort;
      const dir = active ? (this.q.reverse ? 'descending' : 'ascending') : 'none';
      return h('th', {scope: 'col', class: cls, 'aria-sort': dir, title: c.title},
        h('button', {
          type: 'button', class: ['sort', active && 'active'], dataset: {sort: c.sort},
          onclick: () => this.set({sort: c.sort, reverse: active ? !this.q.reverse : true, page: 0}),
        }, c.label, h('span', {class: 'sort-mark', 'aria-hidden': 'true'}, active ? (this.q.reverse ? '▼' : '▲') : '')));
    }));
  }

  set(change) {
    Object.assign(this.q, change);
    this.renderHead();
    if (this.opts.onState) this.opts.onState({...this.q});
    this.refresh();
  }

  refresh() {
    if (this.csvLink) this.csvLink.href = this.opts.csvUrl({...this.q});
    if (this.unsub) {
      this.unsub();
      this.unsub = null;
    }
    const seq = ++this.seq;
    const onData = (d) => {
      if (seq === this.seq) this.show(d);
    };
    const onError = (e) => {
      if (seq !== this.seq) return;
      replace(this.errorSlot, errorBox(e));
      this.el.setAttribute('aria-busy', 'false');
    };
    this.el.setAttribute('aria-busy', 'true');
    if (this.opts.subscribe) {
      this.unsub = this.opts.subscribe({...this.q}, onData, onError);
    } else {
      this.opts.load({...this.q}).then(onData, onError);
    }
  }

  show({items, total}) {
    this.el.setAttribute('aria-busy', 'false');
    this.errorSlot.replaceChildren();
    this.total = total || 0;
    const cols = this.opts.columns;
    if (!items || items.length === 0) {
      replace(this.body, h('tr', null, h('td', {colspan: cols.length, class: 'empty'}, this.opts.empty || 'No entries.')));
    } else {
      replace(this.body, items.map((it) => h('tr', null, cols.map((c) => {
        const v = c.render ? c.render(it) : it[c.key];
        return h('td', {class: c.num ? 'num' : ''}, v);
      }))));
    }
    const pages = Math.max(1, Math.ceil(this.total / this.q.count));
    if (this.q.page >= pages && this.q.page > 0) {
      this.set({page: pages - 1});
      return;
    }
    const from = this.total ? this.q.page * this.q.count + 1 : 0;
    const to = Math.min(this.total, (this.q.page + 1) * this.q.count);
    this.status.textContent = `${from.toLocaleString('en-US')}–${to.toLocaleString('en-US')} of ${this.total.toLocaleString('en-US')}`;
    this.renderPager(pages);
  }

  renderPager(pages) {
    const p = this.q.page;
    const btn = (label, page, aria) => h('button', {
      type: 'button', disabled: page < 0 || page >= pages || page === p, 'aria-label': aria,
      onclick: () => this.set({page}),
    }, label);
    if (pages <= 1) {
      this.pager.replaceChildren();
      return;
    }
    replace(this.pager,
      btn('«', 0, 'First page'), btn('‹', p - 1, 'Previous page'),
      h('span', {class: 'pager-pos'}, `Page ${p + 1} of ${pages}`),
      btn('›', p + 1, 'Next page'), btn('»', pages - 1, 'Last page'));
  }

  destroy() {
    this.seq += 1;
    clearTimeout(this.filterTimer);
    if (this.unsub) this.unsub();
    this.unsub = null;
  }
}
