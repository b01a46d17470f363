// Building blocks of the pages of one entity (an IP, a MAC): the figure
// boxes, the history graph and the tabs of its sub-lists.
import {LineChart} from './chart.js';
import {rateOf, volumeOf} from './cols.js';
import {h, replace} from './dom.js';
import {bps, bytes, count, pps} from './format.js';
import {errorBox} from './ui.js';

// figureBox is one headline number.
export function figureBox(label, value, sub, cls) {
  return h('div', {class: ['figure', cls]}, h('div', {class: 'label'}, label), h('div', {class: 'value'}, value), sub ? h('div', {class: 'sub'}, sub) : null);
}

// trafficFigures are an entity's headline numbers for the selection.
export function trafficFigures(iv, it) {
  const r = rateOf(iv, it);
  const v = volumeOf(iv, it);
  return [
    figureBox(iv ? 'Average rate' : 'Rate', bps(r[1] + r[3]), `rx ${bps(r[1])} · tx ${bps(r[3])}`),
    figureBox(iv ? 'Packets/s (average)' : 'Packets/s', pps(r[0] + r[2]), `rx ${pps(r[0])} · tx ${pps(r[2])}`),
    figureBox(iv ? 'Bytes in the interval' : 'Bytes since the start', bytes(v[1] + v[3]), `rx ${bytes(v[1])} · tx ${bytes(v[3])}`),
    figureBox(iv ? 'Packets in the interval' : 'Packets since the start', count(v[0] + v[2]), `rx ${count(v[0])} · tx ${count(v[2])}`),
  ];
}

// LIVE_WINDOW is how far back the graph of a live view reaches.
export const LIVE_WINDOW = 10 * 60;

// historyParams asks for a graph of the interval, or for live views of
// the last LIVE_WINDOW seconds up to now (clock: the instance's
// instanceTime, whose data may start later).
export function historyParams(iv, clock) {
  const range = iv || {starttime: Math.max(clock.first, clock.now - LIVE_WINDOW), endtime: clock.now + 1};
  return {...range, values: 300};
}

// HistoryGraph draws an entity's rx/tx rates from the API's history
// datasets (counters per timespan seconds) and, live, appends the last
// second as it comes.
export class HistoryGraph {
  constructor(label) {
    this.chart = new LineChart({label, format: bps});
    this.times = [];
    this.rx = [];
    this.tx = [];
    this.step = 1;
    this.el = this.chart.el;
  }

  // load takes an entity answer with its history.
  load(entity) {
    const hist = entity.history;
    this.times = [];
    this.rx = [];
    this.tx = [];
    if (hist && hist.datasets) {
      this.step = hist.timespan || 1;
      hist.datasets.forEach((d, i) => {
        this.times.push(hist.starttime + i * this.step);
        this.rx.push(d[1] / this.step);
        this.tx.push(d[3] / this.step);
      });
    }
    this.draw();
  }

  // push appends a live second (only while the graph is at 1 s steps or
  // the new second is past its last point).
  push(t, lastSecond) {
    const last = this.times[this.times.length - 1];
    if (last !== undefined && t < last + this.step) return;
    this.times.push(t);
    this.rx.push(lastSecond[1]);
    this.tx.push(lastSecond[3]);
    while (this.times.length && this.times[0] < t - LIVE_WINDOW) {
      this.times.shift();
      this.rx.shift();
      this.tx.shift();
    }
    this.draw();
  }

  draw() {
    this.chart.update({times: this.times, series: [
      {label: 'Received', cls: 'rx', values: this.rx},
      {label: 'Sent', cls: 'tx', values: this.tx},
    ]});
  }

  destroy() { this.chart.destroy(); }
}

// Tabs shows one panel at a time; panels are built when first shown and
// their cleanup runs when the page goes. The open tab is kept in the URL.
export function tabs(app, query, defs, key = 'tab') {
  const cleanups = [];
  const built = new Map();
  const body = h('div', {class: 'tab-panel', role: 'tabpanel'});
  const buttons = defs.map((d) => h('button', {
    type: 'button', role: 'tab', id: `tab-${d.id}`, 'aria-controls': 'tab-panel',
    onclick: () => show(d.id), onkeydown: (ev) => move(ev, d.id),
  }, d.label));
  body.id = 'tab-panel';
  const show = (id) => {
    const i = Math.max(0, defs.findIndex((d) => d.id === id));
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
    });
    if (!built.has(i)) {
      try {
        const r = defs[i].build();
        built.set(i, r.el || r);
        if (r.destroy) cleanups.push(() => r.destroy());
      } catch (e) {
        built.set(i, errorBox(e));
      }
    }
    replace(body, built.get(i));
    body.setAttribute('aria-labelledby', buttons[i].id);
    app.setPageQuery({[key]: defs[i].id});
  };
  const move = (ev, id) => {
    const i = defs.findIndex((d) => d.id === id);
    const j = ev.key === 'ArrowRight' ? i + 1 : ev.key === 'ArrowLeft' ? i - 1 : -1;
    if (j < 0 || j >= defs.length) return;
    ev.preventDefault();
    show(defs[j].id);
    buttons[j].focus();
  };
  show(query[key] || defs[0].id);
  return {el: h('div', null, h('div', {class: 'tabs', role: 'tablist'}, buttons), body), destroy: () => cleanups.forEach((f) => f())};
}
