// Connections: every flow, paged and sorted by the server, from the
// client's side.
import {csvLink, listLoader, tableState} from '../cols.js';
import {h} from '../dom.js';
import {DataTable} from '../table.js';
import {pageHeader} from '../ui.js';
import {connectionColumns} from './ip.js';

const PATH = '/API/stats/modules/ip/globalConnections';

export default async function render({app, view, query}) {
  const iv = await app.time.interval();
  const table = new DataTable({
    caption: 'Connections',
    columns: connectionColumns(app, iv),
    sort: 'bytes',
    pageSize: 25,
    filter: 'Filter by address, port or protocol',
    load: listLoader(app, PATH, iv),
    csvUrl: csvLink(app, `${PATH}/csv`, iv),
    csvName: 'connections.csv',
    ...tableState(app, query),
  });
  view.append(pageHeader('Connections', h('span', {class: 'muted'}, app.time.describe())), table.el);
  return () => table.destroy();
}
