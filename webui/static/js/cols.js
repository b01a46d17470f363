// Columns and loaders shared by the statistics tables. Every entity with
// traffic carries the same figures (allTime, lastSecond, interval,
// intervalPerSecond as [rxPackets, rxBytes, txPackets, txBytes]); a table
// shows rates of the last second and volumes since the start when live,
// and the interval's average rate and volume when a time range is
// selected, which is also what the API sorts by.
import {h} from './dom.js';
import {bps, bytes, count, pps, short, time} from './format.js';

// view picks the counters for the time selection (iv: null when live).
export function rateOf(iv, it) { return (iv ? it.intervalPerSecond : it.lastSecond) || [0, 0, 0, 0]; }
export function volumeOf(iv, it) { return (iv ? it.interval : it.allTime) || [0, 0, 0, 0]; }

// trafficColumns are the rate and volume columns. directional: rx/tx can
// be sorted on (not for connections, which are seen from their client);
// brief leaves out the rx and tx rates.
export function trafficColumns(iv, {directional = true, rxLabel = 'Rx', txLabel = 'Tx', brief = false} = {}) {
  const r = (it) => rateOf(iv, it);
  const v = (it) => volumeOf(iv, it);
  const cols = [
    {label: `${rxLabel} rate`, sort: directional ? 'rxbps' : undefined, num: true, render: (it) => bps(r(it)[1]), title: 'Bits per second received'},
    {label: `${txLabel} rate`, sort: directional ? 'txbps' : undefined, num: true, render: (it) => bps(r(it)[3]), title: 'Bits per second sent'},
    {label: 'Rate', sort: 'bps', num: true, render: (it) => bps(r(it)[1] + r(it)[3]), title: iv ? 'Average over the interval' : 'Last second'},
    {label: 'Packets/s', sort: 'pps', num: true, render: (it) => pps(r(it)[0] + r(it)[2])},
    {label: iv ? 'Bytes' : 'Bytes (total)', sort: 'bytes', num: true, render: (it) => bytes(v(it)[1] + v(it)[3]), title: iv ? 'In the interval' : 'Since the start'},
    {label: iv ? 'Packets' : 'Packets (total)', sort: 'packets', num: true, render: (it) => count(v(it)[0] + v(it)[2])},
  ];
  return brief ? cols.slice(2) : cols;
}

export function seenColumns() {
  return [
    {label: 'First seen', sort: 'firstseen', render: (it) => h('time', {title: time(it.firstSeen)}, short(it.firstSeen))},
    {label: 'Last seen', sort: 'lastseen', render: (it) => h('time', {title: time(it.lastSeen)}, short(it.lastSeen))},
  ];
}

// listLoader loads pages of a list endpoint for a DataTable.
export function listLoader(app, path, iv, extra = {}) {
  return async (q) => {
    const res = await app.api.get(path, {...(iv || {}), ...extra, skiphistorydata: 'true', sort: q.sort, reverse: q.reverse, page: q.page, count: q.count, filter: q.filter});
    return {items: res.displayedItems || [], total: res.totalItems || 0};
  };
}

// csvLink builds the CSV download URL of a list.
export function csvLink(app, path, iv, extra = {}) {
  return (q) => app.api.url(path, {...(iv || {}), ...extra, sort: q.sort, reverse: q.reverse, filter: q.filter, csv: 'true'});
}

// tableState reads a DataTable's sort/page/filter from the page's URL
// and writes it back there; prefix separates several tables on a page.
export function tableState(app, query, prefix = '') {
  const k = (n) => (prefix ? `${prefix}_${n}` : n);
  return {
    state: {
      sort: query[k('sort')],
      reverse: query[k('reverse')] === undefined ? undefined : query[k('reverse')] !== 'false',
      page: query[k('page')],
      filter: query[k('filter')],
    },
    onState: (q) => app.setPageQuery({[k('sort')]: q.sort, [k('reverse')]: String(q.reverse), [k('page')]: q.page || '', [k('filter')]: q.filter}),
  };
}

export function ipLink(app, ip) {
  return h('a', {href: app.href(['ips', ip])}, ip);
}

export function macLink(app, mac) {
  return h('a', {href: app.href(['macs', mac]), class: 'mono'}, mac);
}

// ipExpr is the capture filter for an address (IPv6 in brackets is only
// needed with a port).
export function ipExpr(ip) { return `ip==${ip}`; }
