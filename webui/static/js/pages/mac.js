// One MAC: its figures, history graph, and its peers, IPs, EtherTypes
// and VLANs.
import {pcapButton} from '../capture.js';
import {csvLink, ipLink, listLoader, macLink, seenColumns, trafficColumns} from '../cols.js';
import {h, replace} from '../dom.js';
import {HistoryGraph, historyParams, tabs, trafficFigures} from '../entity.js';
import {time} from '../format.js';
import {liveEntity} from '../livelist.js';
import {DataTable} from '../table.js';
import {card, errorBox, kv, loading, pageHeader} from '../ui.js';

const BASE = '/API/stats/modules/mac/macs';

export default async function render({app, view, params, query}) {
  const mac = params.mac;
  const path = `${BASE}/${encodeURIComponent(mac)}`;
  const iv = await app.time.interval();
  const clock = iv ? null : await app.instanceTime();
  const figures = h('div', {class: 'figures'}, loading());
  const details = h('div');
  const graph = new HistoryGraph(`Traffic of ${mac}`);
  const cleanups = [() => graph.destroy()];
  view.append(
    pageHeader(mac, h('span', {class: 'muted'}, app.time.describe()), pcapButton(app, `mac==${mac}`, 'pcap of this MAC')),
    figures,
    h('div', {class: 'grid-2'}, card('Traffic', graph.el), card('Details', details)));
  let entity;
  try {
    entity = await app.api.get(path, historyParams(iv, clock));
  } catch (e) {
    replace(figures, errorBox(e.status === 404 ? new Error(`No traffic of ${mac} in this analysis${iv ? ' and time range' : ''}.`) : e));
    return () => cleanups.forEach((f) => f());
  }
  replace(figures, ...trafficFigures(iv, entity));
  graph.load(entity);
  replace(details, kv([
    ['Kind', entity.broadcast ? 'broadcast' : entity.multicast ? 'multicast (group address)' : 'unicast'],
    ['VLANs', (entity.vlans || []).map((v) => (v ? String(v) : 'untagged')).join(', ') || '–'],
    ['First seen', time(entity.firstSeen)],
    ['Last seen', time(entity.lastSeen)],
  ]));
  if (!iv) {
    cleanups.push(liveEntity(app, 'mac', mac, (it, t) => {
      replace(figures, ...trafficFigures(iv, it));
      graph.push(t, it.lastSecond);
    }));
  }
  const sub = (name, columns) => () => new DataTable({
    columns, sort: 'bytes', pageSize: 20,
    load: listLoader(app, `${path}/${name}`, iv),
    csvUrl: csvLink(app, `${path}/${name}`, iv),
    csvName: `${mac.replace(/:/g, '')}-${name}.csv`,
  });
  const t = tabs(app, query, [
    {id: 'peers', label: 'Peers', build: sub('peers', [
      {label: 'Peer', render: (p) => macLink(app, p.mac)},
      ...trafficColumns(iv, {rxLabel: 'From peer', txLabel: 'To peer'}),
      ...seenColumns(),
      {label: '', render: (p) => pcapButton(app, `mac==${mac} and mac==${p.mac}`)},
    ])},
    {id: 'ips', label: 'IPs', build: sub('ips', [
      {label: 'IP', render: (p) => ipLink(app, p.ip)},
      ...trafficColumns(iv),
      ...seenColumns(),
    ])},
    {id: 'protocols', label: 'EtherTypes', build: sub('protocols', [
      {label: 'EtherType', render: (p) => [p.name, h('span', {class: 'cell-sub mono'}, p.etherType)]},
      ...trafficColumns(iv, {brief: true}),
    ])},
  ]);
  cleanups.push(() => t.destroy());
  view.append(card(null, t.el));
  return () => cleanups.forEach((f) => f());
}
