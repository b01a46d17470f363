// Dashboard: throughput per interface and in total, packets and bytes,
// top talkers, top protocols, load and losses. Live, everything arrives
// over the websocket once a second; with a time range it shows the
// interval's figures once.
import {bars, LineChart} from '../chart.js';
import {h, replace} from '../dom.js';
import {LIVE_WINDOW} from '../entity.js';
import {bps, bytes, count, percent, pps} from '../format.js';
import {card, errorBox, loading, pageHeader} from '../ui.js';
import {interfaceColumns} from './interfaces.js';

const TOP = 10;

// Figure is a headline number whose raw value is also in data-value (for
// scripts and tests reading the page).
class Figure {
  constructor(id, label) {
    this.value = h('div', {class: 'value'}, '–');
    this.sub = h('div', {class: 'sub'});
    this.el = h('div', {class: 'figure', id: `fig-${id}`}, h('div', {class: 'label'}, label), this.value, this.sub);
  }

  set(raw, text, sub = '', state = '') {
    this.el.dataset.value = String(raw);
    this.value.textContent = text;
    this.sub.textContent = sub;
    this.el.className = `figure ${state}`;
  }
}

// sumHistory adds the interfaces' history datasets (rx bytes per step).
function sumHistory(items) {
  let base = null;
  for (const it of items) {
    const hs = it.history;
    if (!hs || !hs.datasets) continue;
    if (!base) {
      base = {start: hs.starttime, step: hs.timespan || 1, rx: hs.datasets.map((d) => d[1])};
    } else if (hs.starttime === base.start && hs.datasets.length === base.rx.length) {
      hs.datasets.forEach((d, i) => { base.rx[i] += d[1]; });
    }
  }
  if (!base) return {times: [], values: []};
  return {times: base.rx.map((_, i) => base.start + i * base.step), values: base.rx.map((v) => v / base.step)};
}

export default async function render({app, view}) {
  const iv = await app.time.interval();
  const f = {
    rate: new Figure('rate', iv ? 'Average throughput' : 'Throughput'),
    pps: new Figure('pps', iv ? 'Average packets/s' : 'Packets/s'),
    bytes: new Figure('bytes', iv ? 'Traffic in the interval' : 'Traffic since the start'),
    ips: new Figure('ips', 'IPs'),
    macs: new Figure('macs', 'MACs'),
    conns: new Figure('connections', 'Connections'),
    load: new Figure('load', 'Analyzer load'),
    lost: new Figure('lost', 'Lost packets'),
  };
  const warn = h('div');
  const chart = new LineChart({label: 'Total throughput', format: bps});
  const ifaces = h('div', null, loading());
  const talkers = h('div', {id: 'top-talkers'}, loading());
  const protocols = h('div', {id: 'top-protocols'}, loading());
  const cleanups = [() => chart.destroy()];
  view.append(
    pageHeader('Dashboard', h('span', {class: 'muted'}, app.time.describe())),
    warn,
    h('div', {class: 'figures'}, Object.values(f).map((x) => x.el)),
    h('div', {class: 'grid-2'}, card('Throughput', chart.el), card('Interfaces', ifaces)),
    h('div', {class: 'grid-2'}, card(`Top talkers${iv ? ' (bytes in the interval)' : ' (bit/s)'}`, talkers), card(`Top L7 protocols${iv ? ' (bytes in the interval)' : ' (bit/s)'}`, protocols)));

  const showLosses = (kernelDrops, notProcessed) => {
    const lost = kernelDrops + notProcessed;
    f.lost.set(lost, count(lost), `kernel ${count(kernelDrops)} · overload ${count(notProcessed)}`, lost ? 'bad' : '');
    replace(warn, lost ? h('div', {class: 'banner bad', role: 'alert'},
      h('span', null, `Packets were lost: ${count(notProcessed)} not processed due to overload, ${count(kernelDrops)} dropped by the kernel. `,
        h('a', {href: app.href('/interfaces')}, 'See the interfaces and analyzer load'), '.')) : null);
  };
  const ifaceCols = interfaceColumns(app, iv).filter((c) => ['Name', 'Link', 'Rate', 'Packets/s', 'Kernel drops', 'Not processed'].includes(c.label));
  const showIfaces = (items) => replace(ifaces, h('div', {class: 'table-scroll'}, h('table', {id: 'dash-interfaces'},
    h('thead', null, h('tr', null, ifaceCols.map((c) => h('th', {scope: 'col', class: c.num ? 'num' : ''}, c.label)))),
    h('tbody', null, items.length ? items.map((it) => h('tr', null, ifaceCols.map((c) => h('td', {class: c.num ? 'num' : ''}, c.render(it)))))
      : h('tr', null, h('td', {colspan: ifaceCols.length, class: 'empty'}, 'No monitor ports.'))))));
  const ipBars = (items, value) => (items.length ? bars(items.map((it) => ({
    label: it.names && it.names.length ? `${it.ip} (${it.names[0].name})` : it.ip, title: it.ip, href: app.href(['ips', it.ip]), value: value(it),
  })), iv ? bytes : bps) : h('p', {class: 'muted'}, 'No IP traffic.'));
  const protoBars = (items, value) => (items.length ? bars(items.map((it) => ({
    label: it.protocol, value: value(it), href: app.href('/modules/dpi'),
  })), iv ? bytes : bps) : h('p', {class: 'muted'}, 'No application traffic.'));

  if (iv) {
    await intervalView(app, iv, {f, chart, showIfaces, showLosses, ipBars, protoBars, talkers, protocols});
    return () => cleanups.forEach((c) => c());
  }

  // Live: the graph starts with the last minutes' history, then grows
  // by one point a second.
  const times = [];
  const values = [];
  const clock = await app.instanceTime();
  try {
    const hist = await app.api.get('/API/stats/interfaces', {starttime: Math.max(clock.first, clock.now - LIVE_WINDOW), endtime: clock.now + 1, values: LIVE_WINDOW});
    const s = sumHistory(hist.displayedItems || []);
    times.push(...s.times);
    values.push(...s.values);
  } catch {
    // no history yet: the live points fill the graph
  }
  const draw = () => chart.update({times, series: [{label: 'Received', cls: 'rx', values}]});
  draw();
  const sp = app.liveParams();
  cleanups.push(app.live.subscribe('dashboard', sp, (d) => {
    const r = d.traffic.lastSecond;
    const a = d.traffic.allTime;
    f.rate.set(r[1] + r[3], bps(r[1] + r[3]));
    f.pps.set(r[0] + r[2], pps(r[0] + r[2]));
    f.bytes.set(a[1] + a[3], bytes(a[1] + a[3]), `${count(a[0] + a[2])} packets`);
    f.ips.set(d.ips, count(d.ips));
    f.macs.set(d.macs, count(d.macs));
    f.conns.set(d.connections, count(d.connections));
    f.load.set(d.load, percent(d.load), d.running ? 'processing' : 'stopped', d.load > 0.9 ? 'bad' : d.load > 0.7 ? 'warn' : '');
    showLosses(d.kernelDrops || 0, (d.notProcessedDueToOverload || {}).packets || 0);
    const t = d.lastSecond;
    if (t && (!times.length || t > times[times.length - 1])) {
      times.push(t);
      values.push(r[1] + r[3]);
      while (times.length && times[0] <= t - LIVE_WINDOW) {
        times.shift();
        values.shift();
      }
      draw();
    }
  }, (e) => replace(warn, errorBox(e))));
  cleanups.push(app.live.subscribe('interfaces', sp, (v) => showIfaces(v.displayedItems || [])));
  cleanups.push(app.live.subscribe('ips_top', {...sp, sort: 'bps', reverse: true, count: TOP},
    (v) => replace(talkers, ipBars(v.displayedItems || [], (it) => it.lastSecond[1] + it.lastSecond[3])),
    (e) => replace(talkers, errorBox(e))));
  cleanups.push(app.live.subscribe('dpi_top', {...sp, sort: 'bps', reverse: true, count: TOP},
    (v) => replace(protocols, protoBars(v.displayedItems || [], (it) => it.lastSecond[1] + it.lastSecond[3])),
    (e) => replace(protocols, errorBox(e))));
  return () => cleanups.forEach((c) => c());
}

// intervalView fills the dashboard with a time range's figures.
async function intervalView(app, iv, {f, chart, showIfaces, showLosses, ipBars, protoBars, talkers, protocols}) {
  const span = Math.max(1, iv.endtime - iv.starttime);
  const list = {...iv, sort: 'bytes', reverse: true, count: TOP, skiphistorydata: 'true'};
  const [ifs, ips, apps, ipSum, macSum, conns] = await Promise.allSettled([
    app.api.get('/API/stats/interfaces', {...iv, values: 300}),
    app.api.get('/API/stats/modules/ip/ips_paged', list),
    app.api.get('/API/stats/modules/dpi/protocols_paged', list),
    app.api.get('/API/stats/modules/ip', iv),
    app.api.get('/API/stats/modules/mac', iv),
    app.api.get('/API/stats/modules/ip/globalConnections', {...iv, count: 1, skiphistorydata: 'true'}),
  ]);
  if (ifs.status === 'fulfilled') {
    const items = ifs.value.displayedItems || [];
    const tot = [0, 0, 0, 0];
    let kernel = 0;
    let overload = 0;
    for (const it of items) {
      it.interval.forEach((v, i) => { tot[i] += v; });
      kernel += it.kernelDrops || 0;
      overload += (it.notProcessedDueToOverload || {}).packets || 0;
    }
    f.rate.set((tot[1] + tot[3]) / span, bps((tot[1] + tot[3]) / span));
    f.pps.set((tot[0] + tot[2]) / span, pps((tot[0] + tot[2]) / span));
    f.bytes.set(tot[1] + tot[3], bytes(tot[1] + tot[3]), `${count(tot[0] + tot[2])} packets`);
    showIfaces(items);
    showLosses(kernel, overload);
    const s = sumHistory(items);
    chart.update({times: s.times, series: [{label: 'Received', cls: 'rx', values: s.values}]});
  } else {
    showIfaces([]);
  }
  if (ipSum.status === 'fulfilled') f.ips.set(ipSum.value.entities.ips, count(ipSum.value.entities.ips));
  if (macSum.status === 'fulfilled') f.macs.set(macSum.value.entities.macs, count(macSum.value.entities.macs));
  if (conns.status === 'fulfilled') f.conns.set(conns.value.totalItems, count(conns.value.totalItems), 'active in the interval');
  f.load.set('', '–', 'live only');
  const vol = (it) => it.interval[1] + it.interval[3];
  replace(talkers, ips.status === 'fulfilled' ? ipBars(ips.value.displayedItems || [], vol) : errorBox(ips.reason));
  replace(protocols, apps.status === 'fulfilled' ? protoBars(apps.value.displayedItems || [], vol) : errorBox(apps.reason));
}
