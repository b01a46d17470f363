// Interfaces: the monitor ports with their traffic, link state and every
// loss (kernel drops, "not processed due to overload", decode errors),
// the analyzers' load and queues, and how full the statistics tables are.
import {pcapButton} from '../capture.js';
import {trafficColumns} from '../cols.js';
import {h, replace} from '../dom.js';
import {bytes, count, percent} from '../format.js';
import {DataTable} from '../table.js';
import {card, errorBox, kv, loading, pageHeader} from '../ui.js';

// lossCell shows a loss counter, red when not zero.
function lossCell(n) {
  return h('span', {class: n ? 'bad' : 'muted'}, count(n));
}

export function interfaceColumns(app, iv) {
  return [
    {label: 'Port', num: true, render: (it) => it.port},
    {label: 'Name', render: (it) => it.name},
    {label: 'Link', render: (it) => [
      h('span', {class: it.linkUp ? 'ok' : 'bad'}, it.linkUp ? `up${it.speedMbps ? ` ${it.speedMbps >= 1000 ? `${it.speedMbps / 1000} Gbit/s` : `${it.speedMbps} Mbit/s`}` : ''}` : 'down'),
      it.partner >= 0 ? h('span', {class: 'cell-sub'}, `bridged to ${it.partner}`) : null,
    ]},
    ...trafficColumns(iv, {brief: true}),
    {label: 'Kernel drops', num: true, render: (it) => lossCell(it.kernelDrops), title: 'Dropped by the kernel before capture'},
    {label: 'Not processed', num: true, render: (it) => lossCell((it.notProcessedDueToOverload || {}).packets), title: 'Captured but not processed due to overload'},
    {label: 'Decode errors', num: true, render: (it) => lossCell(it.decodeErrors)},
    {label: '', render: (it) => pcapButton(app, `interface==${it.port}`)},
  ];
}

export default async function render({app, view}) {
  const iv = await app.time.interval();
  const live = !iv;
  const table = new DataTable({
    caption: 'Monitor interfaces',
    columns: interfaceColumns(app, iv),
    sort: '',
    reverse: false,
    pageSize: 100,
    load: async () => {
      const res = await app.api.get('/API/stats/interfaces', {...(iv || {}), skiphistorydata: 'true'});
      return {items: res.displayedItems || [], total: res.totalItems || 0};
    },
    subscribe: live ? (q, onData, onError) => app.live.subscribe('interfaces', app.liveParams(),
      (v) => onData({items: v.displayedItems || [], total: v.totalItems || 0}), onError) : undefined,
  });
  const load = h('div', null, loading());
  const store = h('div', null, loading());
  const cleanups = [() => table.destroy()];
  view.append(pageHeader('Interfaces', h('span', {class: 'muted'}, app.time.describe())),
    card('Monitor ports', table.el),
    h('div', {class: 'grid-2'}, card('Analyzer load', load), card('Statistics tables', store)));
  const showLoad = (l) => replace(load,
    kv([
      ['Processing', l.running ? h('span', {class: 'ok'}, 'running') : h('span', {class: 'muted'}, 'stopped')],
      ['Average load', percent(l.average)],
      ['Busiest analyzer', percent(l.max)],
      ['Packets in the last second', count(l.packets)],
      ['Not processed in the last second', lossCell(l.dropped)],
    ]),
    h('div', {class: 'table-scroll'}, h('table', null,
      h('thead', null, h('tr', null, ['Analyzer', 'Load', '', 'Queue', 'Packets/s', 'Dropped/s'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', null, !(l.shards || []).length ? h('tr', null, h('td', {colspan: 6, class: 'empty'}, 'No analyzer is running.')) : l.shards.map((s) => {
        const bar = h('span');
        bar.style.width = `${Math.min(100, s.load * 100)}%`;
        return h('tr', null,
          h('td', null, `#${s.shard}`),
          h('td', {class: 'num'}, percent(s.load)),
          h('td', null, h('div', {class: ['meter', s.load > 0.9 ? 'bad' : s.load > 0.7 ? 'warn' : ''], role: 'img', 'aria-label': `load ${percent(s.load)}`}, bar)),
          h('td', {class: 'num'}, `${count(s.queueDepth)} / ${count(s.queueCapacity)}`),
          h('td', {class: 'num'}, count(s.packets)),
          h('td', {class: 'num'}, lossCell(s.dropped)));
      })))));
  app.api.get('/API/stats/load').then(showLoad, (e) => replace(load, errorBox(e)));
  cleanups.push(app.live.subscribe('load', app.liveParams(), showLoad));
  app.api.get('/API/stats/processing').then((p) => {
    const st = p.store || {};
    replace(store,
      kv([
        ['History memory', `${bytes(st.historyBytes)} of ${bytes(st.historyBudget)}`],
        ['History steps dropped for the budget', count(st.historyDrops)],
        ['Not processed due to overload (all time)', lossCell((p.notProcessedDueToOverload || {}).packets)],
      ]),
      h('div', {class: 'table-scroll'}, h('table', null,
        h('thead', null, h('tr', null, ['Table', 'Entries', 'Capacity', 'Fill', 'Evicted'].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', null, (st.tables || []).map((t) => h('tr', null,
          h('td', null, t.name),
          h('td', {class: 'num'}, count(t.entries)),
          h('td', {class: 'num'}, count(t.capacity)),
          h('td', {class: 'num'}, t.capacity ? percent(t.entries / t.capacity) : '–'),
          h('td', {class: 'num'}, h('span', {class: t.evictions ? 'warn' : ''}, count(t.evictions)))))))));
  }, (e) => replace(store, errorBox(e)));
  return () => cleanups.forEach((f) => f());
}
