// Ring buffer (admins): each buffer's statistics (written, in flight,
// dropped, time span, disk use, write rate), the storage devices, the
// configuration (mode, devices and shares, segments, queue) and each
// buffer's filter rules, applied at once without a restart.
import {h, field, replace, select} from '../dom.js';
import {bytes, count, duration, percent, time} from '../format.js';
import {card, errorBox, kv, loading, pageHeader, toast} from '../ui.js';

const BASE = '/API/system/ringbuffer';
const REFRESH = 2000;

const CONDITIONS = [
  ['all', 'All packets'], ['ip', 'IP address or subnet'], ['mac', 'MAC address'], ['port', 'TCP/UDP port'],
  ['l7Protocol', 'L7 protocol'], ['vlan', 'Outer VLAN'], ['interface', 'Interface'], ['sipNumber', 'SIP phone number'],
  ['group', 'Virtual link group'],
];
const ACTIONS = [
  ['full', 'Full packet'], ['discard', 'Discard'], ['snap', 'Snap length (bytes)'], ['l3', 'Headers up to L3'],
  ['l4', 'Headers up to L4'], ['l4data', 'L4 headers + payload bytes'],
];
const MiB = 1 << 20;

function meter(used, limit) {
  const share = limit ? used / limit : 0;
  const bar = h('span');
  bar.style.width = `${Math.min(100, share * 100)}%`;
  return h('div', {class: 'meter', role: 'img', 'aria-label': `${percent(share)} used`}, bar);
}

function statsView(b) {
  const span = b.newest && b.oldest ? (b.newest - b.oldest) / 1e9 : 0;
  return card(`Ring buffer ${b.id}`, kv([
    ['Time span', b.oldest ? `${time(Math.floor(b.oldest / 1e9))} – ${time(Math.floor(b.newest / 1e9))} (${duration(span)})` : 'empty'],
    ['Disk', h('div', null, `${bytes(b.diskUsage)} of ${bytes(b.diskLimit)} in ${count(b.segments)} segments`, meter(b.diskUsage, b.diskLimit))],
    ['Write rate', `${bytes(b.writeRate)}/s`],
    ['Recorded', `${count(b.packets)} packets, ${bytes(b.wireBytes)} on the wire (${bytes(b.bytes)} kept)`],
    ['Bytes in flight', bytes(b.bytesInFlight)],
    ['Dropped', h('span', {class: b.droppedPackets ? 'bad' : ''}, `${count(b.droppedPackets)} packets, ${bytes(b.droppedBytes)}`)],
    ['Discarded by rules', count(b.ignoredPackets)],
    ['Truncated by rules', count(b.truncatedPackets)],
    ['Write errors', h('span', {class: b.writeErrors ? 'bad' : ''}, count(b.writeErrors))],
  ]));
}

export default function render({app, view}) {
  const stats = h('div', {class: 'grid'}, loading());
  const storage = h('div', null, loading());
  const config = h('div', null, loading());
  let timer = 0;
  let gone = false;
  let devices = [];
  const loadStats = async () => {
    try {
      const res = await app.api.get(`${BASE}/stats`);
      const bufs = res.buffers || [];
      replace(stats, bufs.length ? bufs.map(statsView) : h('p', {class: 'muted'}, 'No ring buffer is configured: pcaps can only be captured live.'));
    } catch (e) {
      replace(stats, errorBox(e));
    }
    if (!gone) timer = setTimeout(loadStats, REFRESH);
  };
  const loadConfig = async () => {
    try {
      const [st, cfg] = await Promise.all([app.api.get(`${BASE}/storage`), app.api.get(BASE)]);
      devices = st.devices || [];
      replace(storage, devices.length ? h('div', {class: 'table-scroll'}, h('table', null,
        h('thead', null, h('tr', null, ['Device', 'Size', 'Free', 'Used by', ''].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', null, devices.map((d) => h('tr', null,
          h('td', {class: 'mono'}, d.path),
          h('td', {class: 'num'}, bytes(d.sizeBytes)),
          h('td', {class: 'num'}, bytes(d.freeBytes)),
          h('td', null, [d.ringBuffer !== undefined && d.ringBuffer !== null ? `ring buffer ${d.ringBuffer}` : '', d.pcap ? 'pcap files' : ''].filter(Boolean).join(', ') || '–'),
          h('td', {class: 'bad'}, d.error || ''))))))
        : h('p', {class: 'muted'}, 'No storage devices (start the appliance with a storage device, natively --storage DIR).'));
      replace(config, configForm(app, cfg, devices, loadConfig));
    } catch (e) {
      replace(config, errorBox(e));
    }
  };
  view.append(pageHeader('Ring buffer'), stats, card('Storage devices', storage), config);
  loadStats();
  loadConfig();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}

// configForm edits the whole configuration; the rules of each buffer are
// saved on their own.
function configForm(app, cfg, devices, reload) {
  const msg = h('div', {class: 'form-error', role: 'alert'});
  const mode = select([['single', 'Single shared ring buffer (one device, the rest holds pcap files)'], ['cluster', 'Cluster ring buffers (devices of their own)']], cfg.mode);
  const buffers = (cfg.buffers || []).map((b) => bufferEditor(app, b, devices, reload));
  const pcapDevice = select([['', 'none'], ...devices.map((d) => [d.path, d.path])], cfg.pcapDevice || '');
  const pcapField = field('Device for pcap files (cluster mode)', pcapDevice);
  const addButton = h('button', {type: 'button', onclick: () => addBuffer()}, 'Add ring buffer');
  const syncMode = () => {
    pcapField.hidden = mode.value !== 'cluster';
    addButton.hidden = mode.value !== 'cluster';
  };
  mode.addEventListener('change', syncMode);
  syncMode();
  const save = async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    try {
      const next = {mode: mode.value, buffers: buffers.map((b) => b.value()), pcapDevice: mode.value === 'cluster' ? pcapDevice.value : ''};
      await app.api.put(BASE, next);
      toast('Ring buffer configuration applied', 'ok');
      reload();
    } catch (e) {
      msg.textContent = e.message;
    }
  };
  const addBuffer = () => {
    const ids = buffers.map((b) => b.id);
    const b = bufferEditor(app, {id: ids.length ? Math.max(...ids) + 1 : 0, devices: []}, devices, reload);
    buffers.push(b);
    list.appendChild(b.el);
  };
  const list = h('div', null, buffers.map((b) => b.el));
  return card('Configuration', h('form', {onsubmit: save},
    field('Mode', mode), pcapField, list,
    msg,
    h('div', {class: 'actions'},
      h('button', {type: 'submit', class: 'primary'}, 'Apply configuration'),
      addButton)));
}

function bufferEditor(app, b, devices, reload) {
  const share = new Map((b.devices || []).map((d) => [d.path, d]));
  const devRows = devices.map((d) => {
    const use = h('input', {type: 'checkbox', checked: share.has(d.path)});
    const pct = h('input', {type: 'number', min: '1', max: '100', step: '1', class: 'short', value: share.get(d.path)?.sharePercent || '', placeholder: 'default', 'aria-label': `Share of ${d.path} in percent`});
    return {path: d.path, use, pct, el: h('div', {class: 'device-row'}, h('label', {class: 'check'}, use, h('span', {class: 'mono'}, d.path)), pct, ' %')};
  });
  const segMB = h('input', {type: 'number', min: '1', step: '1', value: b.segmentBytes ? Math.round(b.segmentBytes / MiB) : '', placeholder: 'default 1024'});
  const segSec = h('input', {type: 'number', min: '1', step: '1', value: b.segmentSeconds || '', placeholder: 'default 600'});
  const queueMB = h('input', {type: 'number', min: '1', step: '1', value: b.queueBytes ? Math.round(b.queueBytes / MiB) : '', placeholder: 'default 256'});
  const rules = rulesEditor(app, b, reload);
  const el = h('fieldset', {class: 'buffer-editor'}, h('legend', null, `Ring buffer ${b.id}`),
    h('div', {class: 'field'}, h('span', {class: 'label'}, 'Storage devices and their share'), devRows.length ? devRows.map((r) => r.el) : h('span', {class: 'muted'}, 'no devices')),
    h('div', {class: 'field-row'},
      field('Segment size (MiB)', segMB), field('Segment time (s)', segSec), field('Queue for peaks (MiB)', queueMB, '"Bytes in flight" above this are dropped.')),
    rules.el);
  return {
    id: b.id,
    el,
    value: () => ({
      ...b,
      devices: devRows.filter((r) => r.use.checked).map((r) => (r.pct.value ? {path: r.path, sharePercent: Number(r.pct.value)} : share.get(r.path) || {path: r.path})),
      segmentBytes: segMB.value ? Number(segMB.value) * MiB : 0,
      segmentSeconds: segSec.value ? Number(segSec.value) : 0,
      queueBytes: queueMB.value ? Number(queueMB.value) * MiB : 0,
      rules: rules.value(),
    }),
  };
}

// rulesEditor edits one buffer's rule list: the first matching rule
// decides, packets no rule matches are recorded whole.
function rulesEditor(app, b, reload) {
  const rows = h('tbody');
  const msg = h('div', {class: 'form-error', role: 'alert'});
  const items = [];
  const add = (r) => {
    const cond = select(CONDITIONS, r.condition || 'all');
    const value = h('input', {type: 'text', class: 'mono', value: r.value || '', 'aria-label': 'Value'});
    const neg = h('input', {type: 'checkbox', checked: !!r.negate, 'aria-label': 'Negate'});
    const act = select(ACTIONS, r.action || 'full');
    const len = h('input', {type: 'number', min: '0', max: '65535', class: 'short', value: r.length || '', 'aria-label': 'Length in bytes'});
    const sync = () => {
      value.disabled = cond.value === 'all';
      len.disabled = act.value !== 'snap' && act.value !== 'l4data';
    };
    cond.addEventListener('change', sync);
    act.addEventListener('change', sync);
    sync();
    const item = {
      value: () => {
        const o = {condition: cond.value, action: act.value};
        if (cond.value !== 'all') o.value = value.value.trim();
        if (neg.checked) o.negate = true;
        if (!len.disabled && len.value) o.length = Number(len.value);
        return o;
      },
    };
    const move = (d) => {
      const i = items.indexOf(item);
      const j = i + d;
      if (j < 0 || j >= items.length) return;
      [items[i], items[j]] = [items[j], items[i]];
      replace(rows, items.map((it) => it.row));
    };
    item.row = h('tr', null,
      h('td', null, cond), h('td', null, value), h('td', null, neg), h('td', null, act), h('td', null, len),
      h('td', null, h('div', {class: 'row-actions'},
        h('button', {type: 'button', class: 'small', 'aria-label': 'Move rule up', onclick: () => move(-1)}, '↑'),
        h('button', {type: 'button', class: 'small', 'aria-label': 'Move rule down', onclick: () => move(1)}, '↓'),
        h('button', {type: 'button', class: 'small danger', 'aria-label': 'Remove rule', onclick: () => { items.splice(items.indexOf(item), 1); item.row.remove(); }}, '×'))));
    items.push(item);
    empty?.remove();
    rows.appendChild(item.row);
  };
  const empty = h('tr', null, h('td', {colspan: 6, class: 'empty'}, 'No rules: every packet is recorded whole.'));
  (b.rules || []).forEach(add);
  if (!items.length) rows.appendChild(empty);
  const saveRules = async () => {
    msg.textContent = '';
    try {
      await app.api.put(`${BASE}/buffers/${b.id}/rules`, {rules: items.map((it) => it.value())});
      toast(`Rules of ring buffer ${b.id} applied`, 'ok');
      reload();
    } catch (e) {
      msg.textContent = e.message;
    }
  };
  return {
    value: () => items.map((it) => it.value()),
    el: h('div', {class: 'rules'},
      h('div', {class: 'label'}, 'Filter rules (the first match decides; packets no rule matches are recorded whole)'),
      h('div', {class: 'table-scroll'}, h('table', null,
        h('thead', null, h('tr', null, ['Condition', 'Value', 'Not', 'Action', 'Length', ''].map((c) => h('th', {scope: 'col'}, c)))),
        rows)),
      msg,
      h('div', {class: 'actions'},
        h('button', {type: 'button', onclick: () => add({condition: 'ip', action: 'full'})}, 'Add rule'),
        h('button', {type: 'button', onclick: saveRules}, 'Apply rules only'))),
  };
}
