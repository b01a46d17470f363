// The pages of the protocol modules (L4 ports, L7 protocols, DNS, TCP,
// ARP, DHCP, ICMP, VLAN, MPLS, QoS, packet sizes, EtherTypes, SIP): the
// module's totals where it has some, and its lists, all from
// /API/stats/modules/<module>/.
import {pcapButton} from '../capture.js';
import {csvLink, ipLink, listLoader, macLink, seenColumns, tableState, trafficColumns} from '../cols.js';
import {h, replace} from '../dom.js';
import {figureBox} from '../entity.js';
import {count, time} from '../format.js';
import {liveList} from '../livelist.js';
import {DataTable} from '../table.js';
import {card, errorBox, kv, loading, modal, pageHeader} from '../ui.js';
import {connectionColumns} from './ip.js';

// ms renders a Timing (µs) as milliseconds.
function ms(t) {
  return t && t.count ? `${(t.avg / 1000).toFixed(2)} ms avg (${(t.min / 1000).toFixed(2)}–${(t.max / 1000).toFixed(2)}, ${count(t.count)} samples)` : '–';
}

function codes(m) {
  const entries = Object.entries(m || {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, v]) => h('span', {class: ['tag', /NXDOMAIN|SERVFAIL|REFUSED|NAK|DECLINE/.test(k) && 'bad']}, `${k} ${count(v)}`)) : '–';
}

// sizeExpr turns a size class ("<64", "65-127", ">1518", "64") into a
// capture filter.
function sizeExpr(range) {
  let m = /^<(\d+)$/.exec(range);
  if (m) return `size<${m[1]}`;
  m = /^>(\d+)$/.exec(range);
  if (m) return `size>${m[1]}`;
  m = /^(\d+)-(\d+)$/.exec(range);
  if (m) return `size>=${m[1]} and size<=${m[2]}`;
  return `size==${range}`;
}

function protocolIPs(app, iv, protocol) {
  modal(`IPs using ${protocol}`, () => {
    const path = `/API/stats/modules/dpi/protocols/${encodeURIComponent(protocol)}/ips`;
    const t = new DataTable({
      columns: [{label: 'IP', render: (it) => ipLink(app, it.ip)}, ...trafficColumns(iv, {brief: true}),
        {label: '', render: (it) => pcapButton(app, `ip==${it.ip} and l7Protocol==${protocol}`)}],
      sort: 'bytes', pageSize: 15, load: listLoader(app, path, iv), csvUrl: csvLink(app, path, iv), csvName: `${protocol}-ips.csv`,
    });
    return h('div', {class: 'dialog-body'}, t.el);
  }, {wide: true});
}

const dhcpMsgs = (m) => codes(m);

// MODULES describes each module page. lists: the tables; totals: a card
// of module-wide figures.
const MODULES = {
  l4_ports: {
    title: 'L4 server ports',
    lists: [{path: 'ports_paged', caption: 'Server ports', columns: (app, iv) => [
      {label: 'Port', render: (p) => `${p.port}/${p.protocol}`},
      {label: 'Service', render: (p) => p.service},
      {label: 'Connections', num: true, render: (p) => count(p.connections)},
      ...trafficColumns(iv, {rxLabel: 'To server', txLabel: 'From server'}),
      {label: '', render: (p) => pcapButton(app, `port==${p.port} and l4Protocol==${p.protocol.toUpperCase()}`)},
    ]}],
  },
  dpi: {
    title: 'L7 protocols',
    live: 'dpi',
    lists: [{path: 'protocols_paged', caption: 'Application protocols', columns: (app, iv) => [
      {label: 'Protocol', render: (p) => h('button', {type: 'button', class: 'link-button', title: 'Show the IPs using it', onclick: () => protocolIPs(app, iv, p.protocol)}, p.protocol)},
      {label: 'Flows', num: true, render: (p) => count(p.flows)},
      ...trafficColumns(iv, {brief: true}),
      ...seenColumns(),
      {label: '', render: (p) => pcapButton(app, `l7Protocol==${p.protocol}`)},
    ]}],
  },
  dns: {
    title: 'DNS',
    totals: {path: 'totals', render: (t) => [
      h('div', {class: 'figures'},
        figureBox('Requests', count(t.requests)), figureBox('Responses', count(t.responses)),
        figureBox('Malformed', count(t.malformed), null, t.malformed ? 'warn' : ''),
        figureBox('Response time', t.responseTime && t.responseTime.count ? `${(t.responseTime.avg / 1000).toFixed(2)} ms` : '–', 'average')),
      kv([['Reply codes', codes(t.replyCodes)], ['Response time', ms(t.responseTime)]]),
    ]},
    lists: [{path: 'servers_paged', caption: 'DNS servers', sort: 'packets', columns: (app, iv) => [
      {label: 'Server', render: (s) => ipLink(app, s.server)},
      {label: 'Requests', num: true, render: (s) => count(s.requests)},
      {label: 'Responses', num: true, render: (s) => count(s.responses)},
      {label: 'Reply codes', render: (s) => codes(s.replyCodes)},
      {label: 'Response time', num: true, render: (s) => (s.responseTime && s.responseTime.count ? `${(s.responseTime.avg / 1000).toFixed(2)} ms` : '–')},
      ...trafficColumns(iv, {brief: true}),
      {label: '', render: (s) => pcapButton(app, `ip==${s.server} and port==53`)},
    ]}],
  },
  tcp: {
    title: 'TCP',
    totals: {path: 'totals', render: (t) => [
      h('div', {class: 'figures'},
        figureBox('Connections', count(t.connections)), figureBox('Handshakes', count(t.handshakes)),
        figureBox('Retransmissions', count(t.retransmissions), null, t.retransmissions ? 'warn' : ''),
        figureBox('Zero windows', count(t.zeroWindows)), figureBox('Resets', count(t.resets))),
      kv([['States', codes(t.states)], ['Server response time', ms(t.responseTime)]]),
    ]},
    lists: [{path: 'connections_paged', caption: 'TCP connections', undirected: true, columns: (app, iv) => connectionColumns(app, iv)}],
  },
  arp: {
    title: 'ARP',
    totals: {path: 'totals', render: (t) => [h('div', {class: 'figures'},
      figureBox('Requests', count(t.requests)), figureBox('Replies', count(t.replies)), figureBox('Gratuitous', count(t.gratuitous)),
      figureBox('MAC changes', count(t.macChanges), null, t.macChanges ? 'warn' : ''),
      figureBox('MAC mismatches', count(t.macMismatches), 'ARP sender ≠ Ethernet source', t.macMismatches ? 'bad' : ''))]},
    lists: [{path: 'ips_paged', caption: 'ARP entries', sort: 'packets', columns: (app, iv) => [
      {label: 'IP', render: (e) => ipLink(app, e.ip)},
      {label: 'MAC', render: (e) => (e.mac ? macLink(app, e.mac) : '–')},
      {label: 'Previous MAC', render: (e) => (e.previousMac ? macLink(app, e.previousMac) : '')},
      {label: 'Requests', num: true, render: (e) => count(e.requests)},
      {label: 'Replies', num: true, render: (e) => count(e.replies)},
      {label: 'MAC changes', num: true, render: (e) => count(e.macChanges)},
      ...trafficColumns(iv, {brief: true}),
      {label: '', render: (e) => (e.mac ? pcapButton(app, `mac==${e.mac}`) : null)},
    ]}],
  },
  dhcp: {
    title: 'DHCP',
    totals: {path: 'totals', render: (t) => [kv([['Messages', dhcpMsgs(t.messages)], ['Malformed', count(t.malformed || 0)]])]},
    lists: [
      {path: 'servers_paged', caption: 'DHCP servers', title: 'Servers', sort: 'packets', columns: (app, iv) => [
        {label: 'Server', render: (s) => ipLink(app, s.server)},
        {label: 'Messages', render: (s) => dhcpMsgs(s.messages)},
        ...trafficColumns(iv, {brief: true}),
        {label: '', render: (s) => pcapButton(app, `ip==${s.server} and (port==67 or port==68)`)},
      ]},
      {path: 'clients_paged', caption: 'DHCP clients', title: 'Clients', sort: 'packets', columns: (app, iv) => [
        {label: 'Client MAC', render: (c) => macLink(app, c.mac)},
        {label: 'IP', render: (c) => (c.ip ? [ipLink(app, c.ip), c.ipAssigned ? null : h('span', {class: 'cell-sub'}, 'requested')] : '–')},
        {label: 'Host name', render: (c) => c.hostname || ''},
        {label: 'Messages', render: (c) => dhcpMsgs(c.messages)},
        ...trafficColumns(iv, {brief: true}),
        {label: '', render: (c) => pcapButton(app, `mac==${c.mac} and (port==67 or port==68)`)},
      ]},
    ],
  },
  icmp: {
    title: 'ICMP',
    lists: [{path: 'messages_paged', caption: 'ICMP messages', sort: 'packets', columns: (app, iv) => [
      {label: 'Protocol', render: (m) => m.protocol},
      {label: 'Type', num: true, render: (m) => m.type},
      {label: 'Code', num: true, render: (m) => m.code},
      {label: 'Message', render: (m) => m.name || ''},
      ...trafficColumns(iv, {brief: true}),
      ...seenColumns(),
      {label: '', render: (m) => pcapButton(app, `l4Protocol==${m.protocol.toUpperCase()}`)},
    ]}],
  },
  vlan: {
    title: 'VLANs',
    lists: [{path: 'vlans_paged', caption: 'VLANs', columns: (app, iv) => [
      {label: 'VLAN', render: (v) => (v.vlan ? (v.innerVlan ? `${v.vlan}.${v.innerVlan}` : String(v.vlan)) : 'untagged')},
      ...trafficColumns(iv, {brief: true}),
      ...seenColumns(),
      {label: '', render: (v) => (v.vlan ? pcapButton(app, `vlan==${v.vlan}`) : null)},
    ]}],
  },
  mpls: {
    title: 'MPLS',
    lists: [{path: 'labels_paged', caption: 'MPLS labels', columns: (app, iv) => [
      {label: 'Label', num: true, render: (l) => l.label},
      {label: 'Depth', num: true, render: (l) => (l.depth === undefined ? '' : l.depth)},
      ...trafficColumns(iv, {brief: true}),
      ...seenColumns(),
    ]}],
  },
  qos: {
    title: 'QoS',
    lists: [{path: 'markings_paged', caption: 'QoS markings', columns: (app, iv) => [
      {label: 'Kind', render: (m) => m.kind.toUpperCase()},
      {label: 'Value', num: true, render: (m) => m.value},
      {label: 'Name', render: (m) => m.name || ''},
      ...trafficColumns(iv, {brief: true}),
      ...seenColumns(),
    ]}],
  },
  packet_size: {
    title: 'Packet sizes',
    lists: [{path: 'sizes_paged', caption: 'Packet size classes', sort: '', reverse: false, columns: (app, iv) => [
      {label: 'Size (bytes)', render: (p) => p.range},
      ...trafficColumns(iv, {brief: true}),
      {label: '', render: (p) => pcapButton(app, sizeExpr(p.range))},
    ]}],
  },
  mac_protocols: {
    title: 'EtherTypes',
    lists: [{path: 'protocols_paged', caption: 'EtherTypes', columns: (app, iv) => [
      {label: 'EtherType', render: (e) => [e.name, h('span', {class: 'cell-sub mono'}, e.etherType)]},
      {label: 'MACs', num: true, render: (e) => count(e.macs)},
      ...trafficColumns(iv, {brief: true}),
    ]}],
  },
  sip: {
    title: 'SIP calls',
    lists: [{path: 'calls_paged', caption: 'SIP calls', sort: 'lastseen', columns: (app, iv) => [
      {label: 'From', render: (c) => c.from},
      {label: 'To', render: (c) => c.to},
      {label: 'State', render: (c) => c.state},
      {label: 'Status', num: true, render: (c) => c.status || ''},
      {label: 'Invite', render: (c) => (c.invite ? time(Math.floor(c.invite / 1e6)) : '')},
      {label: 'Answer', render: (c) => (c.answer ? time(Math.floor(c.answer / 1e6)) : '')},
      {label: 'End', render: (c) => (c.end ? time(Math.floor(c.end / 1e6)) : '')},
      ...trafficColumns(iv, {brief: true}),
    ]}],
  },
};

export default async function render({app, view, params, query}) {
  const mod = MODULES[params.module];
  if (!mod) {
    view.append(pageHeader('Unknown module'), h('p', null, `There is no module page for ${params.module}.`));
    return undefined;
  }
  const base = `/API/stats/modules/${params.module}`;
  const iv = await app.time.interval();
  view.append(pageHeader(mod.title, h('span', {class: 'muted'}, app.time.describe())));
  if (mod.totals) {
    const box = h('div', null, loading());
    view.append(card('Totals', box));
    app.api.get(`${base}/${mod.totals.path}`, {...(iv || {}), skiphistorydata: 'true'})
      .then((t) => replace(box, ...mod.totals.render(t)), (e) => replace(box, errorBox(e)));
  }
  const tables = mod.lists.map((l, i) => {
    const path = `${base}/${l.path}`;
    const t = new DataTable({
      caption: l.caption,
      columns: l.columns(app, iv),
      sort: l.sort === undefined ? 'bytes' : l.sort,
      reverse: l.reverse,
      pageSize: 25,
      load: listLoader(app, path, iv),
      subscribe: mod.live ? liveList(app, iv, mod.live) : undefined,
      csvUrl: csvLink(app, path, iv),
      csvName: `${params.module}-${l.path.replace('_paged', '')}.csv`,
      ...tableState(app, query, mod.lists.length > 1 ? String(i) : ''),
    });
    view.append(card(l.title || null, t.el));
    return t;
  });
  return () => tables.forEach((t) => t.destroy());
}
