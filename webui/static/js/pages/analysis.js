// Pcap analysis (admins): upload a capture into an analysis slot, watch
// it being analysed, and switch the whole UI to that slot (mm-id=:N).
// The upload runs the reference's three steps: announce, start, stream.
import {h, field, replace} from '../dom.js';
import {bytes, count, time} from '../format.js';
import {card, errorBox, loading, pageHeader, toast} from '../ui.js';
import {errorOf} from '../api.js';

const REFRESH = 1000;

// upload streams the file with XMLHttpRequest, which reports upload
// progress (fetch does not).
function upload(app, slot, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', app.api.url('/API/system/analyze-pcap', {replaySlotID: slot}, 0));
    for (const [k, v] of Object.entries(app.api.headers('POST', {Accept: 'application/json'}))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
    xhr.onload = async () => {
      const resp = new Response(xhr.responseText, {status: xhr.status, statusText: xhr.statusText, headers: {'Content-Type': xhr.getResponseHeader('Content-Type') || ''}});
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText || '{}'));
      else reject(await errorOf(resp));
    };
    xhr.onerror = () => reject(new Error('the upload broke off'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

export default async function render({app, view}) {
  const slotsBox = h('div', null, loading());
  const formBox = h('div');
  let timer = 0;
  let gone = false;
  const load = async () => {
    clearTimeout(timer);
    try {
      const res = await app.api.get('/API/system/replay');
      const ups = res.uploads || [];
      replace(slotsBox, h('div', {class: 'table-scroll'}, h('table', {id: 'uploads-table'},
        h('thead', null, h('tr', null, ['Slot', 'File', 'State', 'Received', 'Packets', 'IPs', 'Connections', 'Capture time', ''].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', null, ups.length ? ups.map((u) => h('tr', null,
          h('td', {class: 'num'}, `:${u.replaySlotID}`),
          h('td', null, u.fileName, h('span', {class: 'cell-sub'}, bytes(u.fileSize))),
          h('td', null, h('span', {class: ['tag', u.error && 'bad']}, u.state), u.error ? h('span', {class: 'cell-sub bad'}, u.error) : null),
          h('td', {class: 'num'}, u.fileSize ? `${Math.min(100, Math.round((100 * u.bytesReceived) / u.fileSize))} %` : bytes(u.bytesReceived)),
          h('td', {class: 'num'}, count(u.analysis?.packets)),
          h('td', {class: 'num'}, count(u.analysis?.ips)),
          h('td', {class: 'num'}, count(u.analysis?.connections)),
          h('td', null, u.analysis?.lastSecond ? time(u.analysis.lastSecond) : ''),
          h('td', null, h('div', {class: 'row-actions'},
            h('a', {class: 'button small', href: `#/dashboard?mm=${u.replaySlotID}`}, 'Show statistics'),
            u.state === 'running' ? h('button', {
              type: 'button', class: 'small',
              onclick: async () => {
                try {
                  await app.api.post('/API/data/pcap', {command: 'stop'}, {slot: u.replaySlotID});
                } catch (e) {
                  toast(e.message, 'error');
                }
                load();
              },
            }, 'Stop') : null))))
          : h('tr', null, h('td', {colspan: 9, class: 'empty'}, 'Nothing uploaded yet.'))))));
      if (!gone && ups.some((u) => u.state === 'running' || u.state === 'started')) timer = setTimeout(load, REFRESH);
    } catch (e) {
      replace(slotsBox, errorBox(e));
    }
  };

  const file = h('input', {type: 'file', accept: '.pcap,.pcapng,.cap,application/vnd.tcpdump.pcap', required: true});
  // Without a slot number the appliance takes the first idle slot.
  const slot = h('input', {type: 'number', min: '1', max: '255', step: '1', placeholder: 'first idle slot', class: 'short'});
  const buffer = h('input', {type: 'checkbox', checked: true});
  const msg = h('div', {class: 'form-error', role: 'alert'});
  const progress = h('div', {class: 'progress', 'aria-live': 'polite'});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Upload and analyse');
  const run = async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    const f = file.files[0];
    if (!f) {
      msg.textContent = 'Choose a pcap or pcapng file.';
      return;
    }
    submit.disabled = true;
    try {
      const st = await app.api.post('/API/system/replay/upload', {
        fileName: f.name, fileSize: f.size, replaySlotID: Number(slot.value) || 1, forceSlotID: slot.value !== '', useReplayBuffer: buffer.checked,
      });
      const n = st.replaySlotID;
      await app.api.post('/API/data/pcap', {command: 'start'}, {slot: n});
      app.loadSlots();
      load();
      const done = await upload(app, n, f, (sent) => {
        progress.textContent = `Uploading into slot :${n}: ${bytes(sent)} of ${bytes(f.size)}`;
      });
      replace(progress, `Analysed ${f.name} in slot :${n}: ${count(done.analysis?.packets)} packets, ${count(done.analysis?.ips)} IPs. `,
        h('a', {href: `#/dashboard?mm=${n}`}, 'Show its statistics'));
      toast(`${f.name} analysed`, 'ok');
    } catch (e) {
      msg.textContent = e.message;
      progress.textContent = '';
    } finally {
      submit.disabled = false;
      load();
      app.loadSlots();
    }
  };
  replace(formBox, h('form', {onsubmit: run},
    field('Capture file', file, 'pcap or pcapng. Its statistics can be browsed while it uploads.'),
    field('Analysis slot', slot, 'Empty: the first idle slot. A number replaces that slot\'s previous analysis.'),
    h('label', {class: 'check'}, buffer, 'Keep the packets in a replay ring buffer (for pcap extraction)'),
    msg, progress,
    h('div', {class: 'actions'}, submit)));
  view.append(pageHeader('Pcap analysis'),
    card('Upload a capture', formBox),
    card('Analysis slots', h('p', {class: 'hint'}, 'Choose a slot in the selector at the top to see every page for its capture. ',
      'Times are the capture\'s own: "last N minutes" counts back from its last packet.'), slotsBox));
  load();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}
