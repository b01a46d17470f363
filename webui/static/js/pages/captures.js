// Captures: start a capture, see the running and recent ones with their
// counters (and stop them), and the pcap files saved on the appliance.
import {CAPTURE_PATH, openCapture} from '../capture.js';
import {h, replace} from '../dom.js';
import {bytes, count, time} from '../format.js';
import {card, confirmAction, errorBox, loading, pageHeader, toast} from '../ui.js';

// REFRESH is how often the list is reloaded while a capture runs.
const REFRESH = 2000;

function when(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) || ms <= 0 ? '' : time(ms / 1000);
}

export default function render({app, view}) {
  const list = h('div', null, loading());
  const files = h('div', null, loading());
  let timer = 0;
  let gone = false;
  const loadCaptures = async () => {
    clearTimeout(timer);
    try {
      const res = await app.api.get(`${CAPTURE_PATH}/captures`);
      const caps = (res.captures || []).slice().sort((a, b) => b.id - a.id);
      replace(list, h('div', {class: 'table-scroll'}, h('table', {id: 'captures-table'},
        h('thead', null, h('tr', null, ['ID', 'Filter', 'Source', 'State', 'Started', 'Ended', 'Captured', 'Dropped', 'Ignored', ''].map((c, i) => h('th', {scope: 'col', class: i >= 6 && i <= 8 ? 'num' : ''}, c)))),
        h('tbody', null, caps.length ? caps.map((c) => h('tr', null,
          h('td', {class: 'num'}, c.id),
          h('td', {class: 'mono'}, c.expression || h('span', {class: 'muted'}, 'all packets')),
          h('td', null, c.live ? 'live' : 'ring buffer', c.captureToMedia ? h('span', {class: 'cell-sub'}, `→ ${c.fileName || 'file'}`) : null),
          h('td', null, h('span', {class: ['tag', c.state === 'failed' && 'bad', c.state === 'running' && 'ok'], title: c.error || ''}, c.state), c.error ? h('span', {class: 'cell-sub bad'}, c.error) : null),
          h('td', null, when(c.started)),
          h('td', null, when(c.ended)),
          h('td', {class: 'num'}, count(c.captured)),
          h('td', {class: 'num'}, h('span', {class: c.dropped ? 'bad' : ''}, count(c.dropped))),
          h('td', {class: 'num'}, count(c.ignored)),
          h('td', null, c.state === 'running' ? h('button', {
            type: 'button', class: 'small', 'aria-label': `Stop capture ${c.id}`,
            onclick: async () => {
              try {
                await app.api.post(`${CAPTURE_PATH}/captures/${c.id}/stop`);
                toast(`Capture ${c.id} stopped`, 'ok');
              } catch (e) {
                toast(e.message, 'error');
              }
              loadCaptures();
              loadFiles();
            },
          }, 'Stop') : null)))
          : h('tr', null, h('td', {colspan: 10, class: 'empty'}, 'No captures yet.'))))));
      if (!gone && caps.some((c) => c.state === 'running')) timer = setTimeout(loadCaptures, REFRESH);
    } catch (e) {
      replace(list, errorBox(e));
    }
  };
  const loadFiles = async () => {
    try {
      const res = await app.api.get(`${CAPTURE_PATH}/files`);
      const fl = res.files || [];
      replace(files, h('div', {class: 'table-scroll'}, h('table', null,
        h('thead', null, h('tr', null, ['File', 'Size', 'Modified', ''].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', null, fl.length ? fl.map((f) => h('tr', null,
          h('td', {class: 'mono'}, h('a', {href: app.api.url(`${CAPTURE_PATH}/files/${encodeURIComponent(f.name)}`), download: f.name}, f.name)),
          h('td', {class: 'num'}, bytes(f.size)),
          h('td', null, when(f.modified)),
          h('td', null, h('button', {
            type: 'button', class: 'small danger', 'aria-label': `Delete ${f.name}`,
            onclick: async () => {
              if (!await confirmAction('Delete pcap file', `Delete ${f.name} from the appliance?`, 'Delete')) return;
              try {
                await app.api.del(`${CAPTURE_PATH}/files/${encodeURIComponent(f.name)}`);
                toast(`${f.name} deleted`, 'ok');
              } catch (e) {
                toast(e.message, 'error');
              }
              loadFiles();
            },
          }, 'Delete'))))
          : h('tr', null, h('td', {colspan: 4, class: 'empty'}, 'No pcap files on the appliance.'))))));
    } catch (e) {
      replace(files, e.status === 503 ? h('p', {class: 'muted'}, 'No storage device holds pcap files, so captures can only be downloaded.') : errorBox(e));
    }
  };
  view.append(
    pageHeader('Captures',
      h('button', {type: 'button', onclick: () => { loadCaptures(); loadFiles(); }}, 'Refresh'),
      h('button', {type: 'button', class: 'primary', onclick: () => openCapture(app, {})}, 'New capture…')),
    card('Running and recent captures', list),
    card('Pcap files on the appliance', files));
  loadCaptures();
  loadFiles();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}
