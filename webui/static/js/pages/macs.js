// MACs: every Ethernet address seen, paged and sorted by the server.
import {pcapButton} from '../capture.js';
import {csvLink, listLoader, macLink, seenColumns, tableState, trafficColumns} from '../cols.js';
import {h} from '../dom.js';
import {liveList} from '../livelist.js';
import {DataTable} from '../table.js';
import {pageHeader} from '../ui.js';

const PATH = '/API/stats/modules/mac/macs_paged';

export default async function render({app, view, query}) {
  const iv = await app.time.interval();
  const table = new DataTable({
    caption: 'MAC addresses',
    columns: [
      {label: 'MAC', render: (it) => [macLink(app, it.mac), it.broadcast ? h('span', {class: 'cell-sub'}, 'broadcast') : it.multicast ? h('span', {class: 'cell-sub'}, 'multicast') : null]},
      {label: 'VLANs', render: (it) => (it.vlans || []).map((v) => (v ? String(v) : 'untagged')).join(', ')},
      ...trafficColumns(iv),
      ...seenColumns(),
      {label: '', render: (it) => pcapButton(app, `mac==${it.mac}`)},
    ],
    sort: 'bps',
    pageSize: 25,
    filter: 'Filter by address or vendor prefix',
    load: listLoader(app, PATH, iv),
    subscribe: liveList(app, iv, 'macs'),
    csvUrl: csvLink(app, PATH, iv),
    csvName: 'macs.csv',
    ...tableState(app, query),
  });
  view.append(pageHeader('MACs', h('span', {class: 'muted'}, app.time.describe())), table.el);
  return () => table.destroy();
}
