// One IP: its figures, history graph, names, and its peers, ports,
// connections, application protocols, MACs and TCP figures.
import {pcapButton} from '../capture.js';
import {csvLink, ipExpr, ipLink, listLoader, macLink, seenColumns, trafficColumns} from '../cols.js';
import {h, replace} from '../dom.js';
import {HistoryGraph, figureBox, historyParams, tabs, trafficFigures} from '../entity.js';
import {count, short, time} from '../format.js';
import {liveEntity} from '../livelist.js';
import {DataTable} from '../table.js';
import {card, errorBox, kv, loading, pageHeader} from '../ui.js';

const BASE = '/API/stats/modules/ip/ips';

export default async function render({app, view, params, query}) {
  const ip = params.ip;
  const path = `${BASE}/${encodeURIComponent(ip)}`;
  const iv = await app.time.interval();
  const clock = iv ? null : await app.instanceTime();
  const figures = h('div', {class: 'figures'}, loading());
  const names = h('div');
  const graph = new HistoryGraph(`Traffic of ${ip}`);
  const cleanups = [() => graph.destroy()];
  view.append(
    pageHeader(ip, h('span', {class: 'muted'}, app.time.describe()), pcapButton(app, ipExpr(ip), 'pcap of this IP')),
    figures,
    h('div', {class: 'grid-2'}, card('Traffic', graph.el), card('Names and details', names)));

  let entity;
  try {
    entity = await app.api.get(path, historyParams(iv, clock));
  } catch (e) {
    replace(figures, errorBox(e.status === 404 ? new Error(`No traffic of ${ip} in this analysis${iv ? ' and time range' : ''}.`) : e));
    names.replaceChildren();
    return () => cleanups.forEach((f) => f());
  }
  const showFigures = (it) => replace(figures, ...trafficFigures(iv, it),
    figureBox('Connections', count((it.connectionsAsClient || 0) + (it.connectionsAsServer || 0)), `as client ${count(it.connectionsAsClient)} · as server ${count(it.connectionsAsServer)}`));
  showFigures(entity);
  graph.load(entity);
  replace(names, kv([
    ['Names', entity.names && entity.names.length ? h('div', {class: 'names'}, entity.names.map((n) => h('span', {class: 'tag', title: `learnt from ${n.source}`}, `${n.name} (${n.source})`))) : h('span', {class: 'muted'}, 'none learnt from the traffic')],
    ['TTL', entity.ttl ? (entity.ttl.min === entity.ttl.max ? String(entity.ttl.min) : `${entity.ttl.min}–${entity.ttl.max}`) : '–'],
    ['First seen', time(entity.firstSeen)],
    ['Last seen', time(entity.lastSeen)],
  ]));
  if (!iv) {
    cleanups.push(liveEntity(app, 'ip', ip, (it, t) => {
      showFigures(it);
      graph.push(t, it.lastSecond);
    }));
  }

  const sub = (name, columns, sort = 'bytes', opts = {}) => () => new DataTable({
    columns, sort, pageSize: 20,
    load: listLoader(app, `${path}/${name}`, iv),
    csvUrl: csvLink(app, `${path}/${name}`, iv),
    csvName: `${ip}-${name}.csv`,
    ...opts,
  });
  const t = tabs(app, query, [
    {id: 'peers', label: 'Peers', build: sub('peers', [
      {label: 'Peer', render: (p) => ipLink(app, p.ip)},
      ...trafficColumns(iv, {rxLabel: 'From peer', txLabel: 'To peer'}),
      ...seenColumns(),
      {label: '', render: (p) => pcapButton(app, `ip==${ip} and ip==${p.ip}`)},
    ])},
    {id: 'ports', label: 'Ports', build: sub('ports', [
      {label: 'Port', render: (p) => `${p.port}/${p.protocol}`},
      {label: 'As server', num: true, render: (p) => count(p.connectionsAsServer)},
      {label: 'As client', num: true, render: (p) => count(p.connectionsAsClient)},
      ...trafficColumns(iv),
      {label: '', render: (p) => pcapButton(app, `ip==${ip} and port==${p.port} and l4Protocol==${p.protocol.toUpperCase()}`)},
    ])},
    {id: 'connections', label: 'Connections', build: sub('connections', connectionColumns(app, iv), 'bytes')},
    {id: 'protocols', label: 'L7 protocols', build: sub('protocols', [
      {label: 'Protocol', render: (p) => p.protocol},
      ...trafficColumns(iv),
      {label: '', render: (p) => pcapButton(app, `ip==${ip} and l7Protocol==${p.protocol}`)},
    ])},
    {id: 'macs', label: 'MACs', build: sub('macs', [
      {label: 'MAC', render: (m) => macLink(app, m.mac)},
      ...trafficColumns(iv),
      ...seenColumns(),
    ])},
    {id: 'peers_ports', label: 'Peers and ports', build: sub('peers_ports', [
      {label: 'Peer', render: (p) => ipLink(app, p.ip)},
      {label: 'Port', render: (p) => `${p.port}/${p.protocol}`},
      {label: 'Connections', num: true, render: (p) => count(p.connections)},
      ...trafficColumns(iv, {brief: true}),
    ])},
    {id: 'tcp', label: 'TCP', build: () => tcpPanel(app, path)},
  ]);
  cleanups.push(() => t.destroy());
  view.append(card(null, t.el));
  return () => cleanups.forEach((f) => f());
}

// connectionColumns are the columns of a connections table. A
// connection is seen from its client, so rx/tx cannot be sorted on.
export function connectionColumns(app, iv) {
  const traffic = trafficColumns(iv, {directional: false, brief: true}).filter((c) => c.sort !== 'pps');
  return [
    {label: 'Client', render: (c) => [ipLink(app, c.clientIp), c.clientPort ? `:${c.clientPort}` : '']},
    {label: 'Server', render: (c) => [ipLink(app, c.serverIp), c.serverPort ? `:${c.serverPort}` : '']},
    {label: 'Protocol', render: (c) => c.protocol},
    {label: 'Application', render: (c) => c.application},
    {label: 'State', render: (c) => c.state || ''},
    ...traffic,
    {label: 'Retrans.', num: true, title: 'Retransmitted segments (client + server)', render: (c) => count((c.retransmissions || [0, 0])[0] + (c.retransmissions || [0, 0])[1])},
    {label: 'Last packet', render: (c) => h('time', {title: time(Math.floor(c.lastPacket / 1e6))}, short(Math.floor(c.lastPacket / 1e6)))},
    {label: '', render: (c) => pcapButton(app, connExpr(c))},
  ];
}

function hostPort(ip, port) {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

// connExpr is the capture filter for one connection.
export function connExpr(c) {
  const proto = (c.protocol || '').toUpperCase();
  if (c.clientPort || c.serverPort) {
    return `ip==${hostPort(c.clientIp, c.clientPort)} and ip==${hostPort(c.serverIp, c.serverPort)} and l4Protocol==${proto}`;
  }
  return `ip==${c.clientIp} and ip==${c.serverIp}${proto ? ` and l4Protocol==${proto}` : ''}`;
}

function tcpPanel(app, path) {
  const el = h('div', null, loading());
  app.api.get(`${path}/tcpStats`).then((s) => replace(el, kv([
    ['Connections', count(s.connections)],
    ['Handshakes as server', count(s.handshakes)],
    ['Handshakes as client', count(s.handshakesAsClient)],
    ['Retransmitted segments', count(s.retransmissions)],
    ['Zero windows announced', count(s.zeroWindows)],
    ['Resets sent', count(s.resets)],
    ['Response time as server', s.responseTime && s.responseTime.count ? `avg ${(s.responseTime.avg / 1000).toFixed(2)} ms (min ${(s.responseTime.min / 1000).toFixed(2)}, max ${(s.responseTime.max / 1000).toFixed(2)}, ${count(s.responseTime.count)} handshakes)` : '–'],
  ])), (e) => replace(el, errorBox(e)));
  return el;
}
