// Processing settings (admins): the manual's global and expert settings,
// level of analysis, analyzer shards and I/O workers, analyzer queue and
// its overcommit, load balancing, flow timeout, and the virtual link
// groups. Applying restarts processing with them; they are saved on the
// appliance.
import {h, field, replace, select} from '../dom.js';
import {bytes} from '../format.js';
import {card, confirmAction, errorBox, loading, pageHeader, toast} from '../ui.js';

const BASE = '/API/system/analysis';
const LEVELS = [
  ['all', 'Everything (all modules)'], ['l4', 'Up to L4 (connections, TCP, ports)'], ['l3', 'Up to L3 (IPs)'],
  ['l2', 'Up to L2 (MACs, VLANs)'], ['capture', 'Capture only (interfaces, ring buffer)'],
];
const BALANCING = [['ip', 'By IP pair (default)'], ['flow', 'By flow (few hosts with many connections)']];

// number is an optional positive integer field: empty means the default.
function number(value, placeholder) {
  return h('input', {type: 'number', min: '1', step: '1', class: 'short', value: value || '', placeholder});
}

// list reads "10, 20 30" as [10, 20, 30]; bad entries are an error.
function list(text, what) {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`${what}: "${p}" is not a number`);
    return Number(p);
  });
}

export default function render({app, view}) {
  const body = h('div', null, loading());
  view.append(pageHeader('Processing settings'), body);
  const load = async () => {
    try {
      // The settings are the main analysis's, whichever slot is selected.
      replace(body, form(app, await app.api.get(BASE, {}, {slot: 0}), load));
    } catch (e) {
      replace(body, errorBox(e));
    }
  };
  load();
}

function form(app, s, reload) {
  const c = s.config || {};
  const eff = s.effective || {};
  const msg = h('div', {class: 'form-error', role: 'alert'});
  const level = select(LEVELS, c.analysisLevel || 'all');
  const shards = number(c.analyzerShards, `default ${eff.analyzerShards}`);
  const workers = number(c.ioWorkers, 'default 1');
  const queue = number(c.queuePackets, 'default 65536');
  const overcommit = h('input', {type: 'checkbox', checked: !!c.queueOvercommit});
  const balance = select(BALANCING, c.loadBalancing || 'ip');
  const idle = number(c.flowIdleSeconds, 'default 120');
  const clear = h('input', {type: 'checkbox'});
  const groups = groupsEditor(c.groups || []);
  const apply = async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    let next;
    try {
      const n = (el) => (el.value ? Number(el.value) : undefined);
      next = {
        ...c, // capacities and history stay as they are
        analysisLevel: level.value,
        analyzerShards: n(shards),
        ioWorkers: n(workers),
        queuePackets: n(queue),
        queueOvercommit: overcommit.checked || undefined,
        loadBalancing: balance.value,
        flowIdleSeconds: n(idle),
        groups: groups.value(),
      };
    } catch (e) {
      msg.textContent = e.message;
      return;
    }
    const ok = await confirmAction('Restart processing',
      clear.checked ? 'Processing restarts with these settings and all statistics start over.'
        : 'Processing restarts with these settings; the statistics are kept.', 'Apply and restart');
    if (!ok) return;
    try {
      const res = await app.api.put(BASE, next, {params: clear.checked ? {clear: 'true'} : {}, slot: 0});
      toast('Processing restarted with the new settings', 'ok');
      if ((res.atNextStart || []).length) toast(`Applied at the next start of the appliance: ${res.atNextStart.join(', ')}`);
      app.loadSlots(); // the group selector offers the new groups
      reload();
    } catch (e) {
      msg.textContent = e.message;
    }
  };
  const memory = h('p', {class: 'muted'}, `Memory once the tables, queues and history are full: ${bytes(s.memoryBytes)}`,
    s.machineMemoryBytes ? ` of the appliance's ${bytes(s.machineMemoryBytes)}.` : '.');
  const pending = (s.atNextStart || []).length
    ? h('p', {class: 'muted'}, `Saved, applied at the next start of the appliance: ${s.atNextStart.join(', ')}.`) : null;
  return h('form', {onsubmit: apply},
    card('Analysis',
      field('Level of analysis', level, 'Every level down analyses less and takes less CPU; the ring buffer records every packet at any level.'),
      h('div', {class: 'field-row'},
        field('Analyzer threads', shards, 'Default: the CPU cores not used for I/O.'),
        field('I/O threads', workers, 'Per appliance; applied at the next start.'),
        field('Flow timeout (s)', idle, 'An idle connection is forgotten by the analyzers after this.')),
      memory, pending),
    card('Analyzer queues',
      h('div', {class: 'field-row'},
        field('Queue size (packets per analyzer)', queue),
        field('Load balancing', balance)),
      h('label', {class: 'check'}, overcommit, ' Analyzer queue overcommit (four times larger queues for bursts, at the cost of memory; sink mode)')),
    card('Virtual link groups', groups.el),
    card(null,
      h('label', {class: 'check'}, clear, ' Clear the statistics'),
      msg,
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Apply and restart processing'))));
}

// groupsEditor edits the ordered group rules: a packet belongs to the
// first group it matches (groups 1, 2, ...), else to the default group 0.
function groupsEditor(initial) {
  const rows = h('tbody');
  const items = [];
  const empty = h('tr', null, h('td', {colspan: 6, class: 'empty'}, 'No groups: all traffic is in the default group.'));
  const join = (a) => (a || []).join(', ');
  const add = (g) => {
    const inputs = {
      name: h('input', {type: 'text', value: g.name || '', 'aria-label': 'Group name'}),
      interfaces: h('input', {type: 'text', class: 'mono', value: join(g.interfaces), placeholder: 'e.g. 0, 1', 'aria-label': 'Interfaces'}),
      vlans: h('input', {type: 'text', class: 'mono', value: join(g.vlans), 'aria-label': 'VLANs'}),
      mplsLabels: h('input', {type: 'text', class: 'mono', value: join(g.mplsLabels), 'aria-label': 'MPLS labels'}),
      vnis: h('input', {type: 'text', class: 'mono', value: join(g.vnis), 'aria-label': 'VXLAN VNIs'}),
    };
    const item = {
      value: () => {
        const o = {name: inputs.name.value.trim()};
        for (const k of ['interfaces', 'vlans', 'mplsLabels', 'vnis']) {
          const v = list(inputs[k].value, `group "${o.name}", ${inputs[k].getAttribute('aria-label')}`);
          if (v.length) o[k] = v;
        }
        return o;
      },
    };
    item.row = h('tr', null,
      ...Object.values(inputs).map((el) => h('td', null, el)),
      h('td', null, h('button', {type: 'button', class: 'small danger', 'aria-label': 'Remove group',
        onclick: () => { items.splice(items.indexOf(item), 1); item.row.remove(); if (!items.length) rows.appendChild(empty); }}, '×')));
    items.push(item);
    empty.remove();
    rows.appendChild(item.row);
  };
  initial.forEach(add);
  if (!items.length) rows.appendChild(empty);
  return {
    value: () => items.map((it) => it.value()),
    el: h('div', null,
      h('p', {class: 'muted'}, 'A packet belongs to the first group whose every given criterion it matches (any of the values); every statistic is kept per group.'),
      h('div', {class: 'table-scroll'}, h('table', null,
        h('thead', null, h('tr', null, ['Name', 'Interfaces', 'VLANs', 'MPLS labels', 'VXLAN VNIs', ''].map((t) => h('th', {scope: 'col'}, t)))),
        rows)),
      h('div', {class: 'actions'}, h('button', {type: 'button', onclick: () => add({})}, 'Add group'))),
  };
}
