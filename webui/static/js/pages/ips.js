// IPs: every IP address seen, paged and sorted by the server, with live
// rates, a text filter and a CSV download.
import {pcapButton} from '../capture.js';
import {csvLink, ipExpr, ipLink, listLoader, seenColumns, tableState, trafficColumns} from '../cols.js';
import {h} from '../dom.js';
import {DataTable} from '../table.js';
import {pageHeader} from '../ui.js';
import {liveList} from '../livelist.js';

const PATH = '/API/stats/modules/ip/ips_paged';

export default async function render({app, view, query}) {
  const iv = await app.time.interval();
  const table = new DataTable({
    caption: 'IP addresses',
    columns: [
      {label: 'IP', render: (it) => [ipLink(app, it.ip), it.names && it.names.length ? h('span', {class: 'cell-sub'}, it.names.map((n) => n.name).join(', ')) : null]},
      ...trafficColumns(iv),
      ...seenColumns(),
      {label: '', render: (it) => pcapButton(app, ipExpr(it.ip))},
    ],
    sort: 'bps',
    pageSize: 25,
    filter: 'Filter by address, prefix or name',
    load: listLoader(app, PATH, iv),
    subscribe: liveList(app, iv, 'ips'),
    csvUrl: csvLink(app, PATH, iv),
    csvName: 'ips.csv',
    ...tableState(app, query),
  });
  view.append(pageHeader('IPs', h('span', {class: 'muted'}, app.time.describe())), table.el);
  return () => table.destroy();
}
