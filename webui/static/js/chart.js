// Charts drawn as SVG: a time-series line chart (history graphs, live
// rolling windows) and horizontal bars (top-N shares). Sized from the
// container and redrawn when it resizes; text is never stretched.
import {h, s} from './dom.js';
import {clock, time as fmtTime} from './format.js';

// niceStep picks 1, 2 or 5 times a power of ten so that about n steps
// span max.
function niceStep(max, n) {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

export class LineChart {
  // opts: {label, format(v) -> string, height, compact}
  constructor(opts) {
    this.opts = {height: 220, ...opts};
    this.data = {times: [], series: []};
    this.svg = s('svg', {class: 'chart-svg', role: 'img', 'aria-label': opts.label || 'chart'});
    this.tip = h('div', {class: 'chart-tip', hidden: true});
    this.legend = h('div', {class: 'chart-legend'});
    this.el = h('div', {class: ['chart', opts.compact && 'compact']}, this.svg, this.tip, opts.compact ? null : this.legend);
    this.width = 0;
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.el);
    this.svg.addEventListener('pointermove', (ev) => this.hover(ev));
    this.svg.addEventListener('pointerleave', () => { this.tip.hidden = true; this.cursor?.setAttribute('visibility', 'hidden'); });
  }

  resize() {
    const w = Math.floor(this.el.clientWidth);
    if (w > 0 && w !== this.width) {
      this.width = w;
      this.draw();
    }
  }

  // update sets {times: [unix seconds], series: [{label, values, cls}]}.
  update(data) {
    this.data = data;
    this.draw();
  }

  draw() {
    const {times, series} = this.data;
    const compact = this.opts.compact;
    const W = this.width || 600;
    const H = this.opts.height;
    const m = compact ? {l: 4, r: 4, t: 4, b: 4} : {l: 78, r: 12, t: 10, b: 26};
    this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    this.svg.setAttribute('width', W);
    this.svg.setAttribute('height', H);
    this.svg.replaceChildren();
    this.geom = null;
    if (!compact) {
      this.legend.replaceChildren(...series.map((sr, i) => h('span', {class: `legend-item series-${sr.cls || i}`},
        h('span', {class: 'swatch', 'aria-hidden': 'true'}), sr.label)));
    }
    if (times.length < 2) {
      if (!compact) this.svg.append(s('text', {x: W / 2, y: H / 2, class: 'chart-empty', 'text-anchor': 'middle'}, 'No data for this time range yet'));
      return;
    }
    let max = 0;
    for (const sr of series) for (const v of sr.values) if (v > max) max = v;
    const step = max > 0 ? niceStep(max, compact ? 2 : 4) : 1;
    const top = max > 0 ? Math.ceil(max / step) * step : 1;
    const t0 = times[0];
    const t1 = times[times.length - 1];
    const x = (t) => m.l + ((t - t0) / (t1 - t0 || 1)) * (W - m.l - m.r);
    const y = (v) => H - m.b - (v / top) * (H - m.t - m.b);
    this.geom = {x, y, m, W, H};
    const fmt = this.opts.format || String;
    if (!compact) {
      for (let v = 0; v <= top + step / 2; v += step) {
        this.svg.append(s('line', {x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: 'gridline'}),
          s('text', {x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis'}, fmt(v)));
      }
      const span = t1 - t0;
      const ticks = Math.max(2, Math.floor((W - m.l - m.r) / 110));
      const tstep = niceTimeStep(span / ticks);
      for (let t = Math.ceil(t0 / tstep) * tstep; t <= t1; t += tstep) {
        const label = span > 86400 ? fmtTime(t).slice(5, 16) : clock(t);
        this.svg.append(s('text', {x: x(t), y: H - 8, 'text-anchor': 'middle', class: 'axis'}, label));
      }
    }
    series.forEach((sr, i) => {
      const pts = sr.values.map((v, j) => `${x(times[j]).toFixed(1)},${y(v || 0).toFixed(1)}`).join(' ');
      const cls = `series-${sr.cls || i}`;
      this.svg.append(s('polygon', {points: `${x(t0)},${y(0)} ${pts} ${x(t1)},${y(0)}`, class: `area ${cls}`}),
        s('polyline', {points: pts, class: `line ${cls}`}));
    });
    this.cursor = s('line', {y1: m.t, y2: H - m.b, class: 'cursor', visibility: 'hidden'});
    this.svg.append(this.cursor);
  }

  hover(ev) {
    if (!this.geom || this.opts.compact) return;
    const {times, series} = this.data;
    const rect = this.svg.getBoundingClientRect();
    const px = ev.clientX - rect.left;
    let best = 0;
    for (let i = 1; i < times.length; i++) {
      if (Math.abs(this.geom.x(times[i]) - px) < Math.abs(this.geom.x(times[best]) - px)) best = i;
    }
    const cx = this.geom.x(times[best]);
    this.cursor.setAttribute('x1', cx);
    this.cursor.setAttribute('x2', cx);
    this.cursor.setAttribute('visibility', 'visible');
    const fmt = this.opts.format || String;
    this.tip.replaceChildren(h('div', {class: 'tip-time'}, fmtTime(times[best])),
      ...series.map((sr, i) => h('div', {class: `series-${sr.cls || i}`}, h('span', {class: 'swatch'}), `${sr.label}: ${fmt(sr.values[best] || 0)}`)));
    this.tip.hidden = false;
    const left = Math.min(cx + 12, this.geom.W - 180);
    this.tip.style.left = `${Math.max(0, left)}px`;
  }

  destroy() {
    this.ro.disconnect();
  }
}

function niceTimeStep(sec) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  return steps.find((st) => st >= sec) || 604800;
}

// RollingSeries keeps the last n samples of live values for a LineChart.
export class RollingSeries {
  constructor(n, labels) {
    this.n = n;
    this.times = [];
    this.values = labels.map(() => []);
    this.labels = labels;
  }

  push(t, vals) {
    if (this.times.length && t <= this.times[this.times.length - 1]) return;
    this.times.push(t);
    vals.forEach((v, i) => this.values[i].push(v));
    if (this.times.length > this.n) {
      this.times.shift();
      for (const v of this.values) v.shift();
    }
  }

  data() {
    return {times: this.times, series: this.labels.map((l, i) => ({label: l.label, cls: l.cls, values: this.values[i]}))};
  }
}

// bars renders a horizontal bar list: [{label, value, href, title}].
export function bars(items, format) {
  const max = Math.max(1, ...items.map((it) => it.value));
  return h('ul', {class: 'bars'}, items.map((it) => {
    const bar = h('span', {class: 'bar-fill', 'aria-hidden': 'true'});
    bar.style.width = `${(100 * it.value) / max}%`;
    const name = it.href ? h('a', {href: it.href, title: it.title}, it.label) : h('span', {title: it.title}, it.label);
    return h('li', {class: 'bar-row'},
      h('span', {class: 'bar-label'}, name),
      h('span', {class: 'bar-track'}, bar),
      h('span', {class: 'bar-value num'}, format(it.value)));
  }));
}
