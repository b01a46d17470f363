// System: what the appliance is and runs, and (for admins) its log.
import {h, replace} from '../dom.js';
import {duration, time as fmtTime} from '../format.js';
import {card, errorBox, kv, loading, pageHeader} from '../ui.js';

export default function render({app, view}) {
  const info = h('div', null, loading());
  const cleanups = [];
  view.append(pageHeader('System'), card('Appliance', info));
  const show = (i) => replace(info, kv([
    ['Product', i.product],
    ['Host name', i.hostname],
    ['Model', i.model],
    ['Firmware version', i.version],
    ['Boot slot', i.bootSlot],
    ['Uptime', duration(i.uptimeSeconds)],
  ]));
  app.api.get('/API/info/system').then(show, (e) => replace(info, errorBox(e)));
  cleanups.push(app.live.subscribe('system', {}, show));
  if (app.has('admin')) view.append(logCard(app));
  return () => cleanups.forEach((f) => f());
}

// logCard shows the daemon's recent log lines, newest first.
function logCard(app) {
  const rows = h('tbody');
  const status = h('span', {class: 'muted'});
  const errSlot = h('div');
  let after = 0;
  let lines = [];
  const load = async () => {
    try {
      const res = await app.api.get('/API/system/log', {after});
      const entries = res.entries || [];
      if (entries.length) after = entries[entries.length - 1].seq;
      lines = entries.map(parseLine).reverse().concat(lines).slice(0, 1000);
      errSlot.replaceChildren();
      status.textContent = `${lines.length} lines`;
      replace(rows, lines.map((l) => h('tr', null,
        h('td', {class: 'muted nowrap'}, l.time),
        h('td', {class: `level-${l.level}`}, l.level),
        h('td', null, l.msg, l.rest ? h('span', {class: 'muted'}, ` ${l.rest}`) : null))));
      if (!lines.length) replace(rows, h('tr', null, h('td', {colspan: 3, class: 'empty'}, 'The log is empty.')));
    } catch (e) {
      replace(errSlot, errorBox(e));
    }
  };
  load();
  return card('Log',
    h('div', {class: 'table-tools'}, h('button', {type: 'button', onclick: load}, 'Load newer lines'), status),
    errSlot,
    h('div', {class: 'table-scroll'}, h('table', {class: 'log'},
      h('thead', null, h('tr', null, h('th', {scope: 'col'}, 'Time'), h('th', {scope: 'col'}, 'Level'), h('th', {scope: 'col'}, 'Message'))),
      rows)));
}

// parseLine reads a structured (JSON) log line; other lines are shown as
// they are.
function parseLine(e) {
  try {
    const o = JSON.parse(e.line);
    const {time, level, msg, ...rest} = o;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    const ms = Date.parse(time);
    return {time: Number.isNaN(ms) ? String(time || '') : fmtTime(ms / 1000), level: level || '', msg: msg || '', rest: extra};
  } catch {
    return {time: '', level: '', msg: e.line, rest: ''};
  }
}
