// The capture dialog behind every "pcap" button: a filter expression
// (pre-filled for the entity, e.g. ip==10.1.2.3), a time range from the
// ring buffer or a live capture from now on, and the snap length. It
// downloads GET /API/data/modules/capture of the selected analysis
// instance, shows the API's error if the request is refused, counts the
// packets while they arrive and can stop a live capture, keeping every
// complete packet.
import {h, field} from './dom.js';
import {bytes, count, localInput, parseLocalInput} from './format.js';
import {PcapCounter} from './pcapstream.js';
import {modal} from './ui.js';

export const CAPTURE_PATH = '/API/data/modules/capture';

// pcapButton opens the capture dialog for an expression.
export function pcapButton(app, expression, label = 'pcap') {
  if (!app.has('pcap')) return null;
  // The statistics shown are a virtual link group's: so are its packets
  // (the ring buffer records each packet's group).
  if (app.group) expression = `${/ or |\|\|/.test(expression) ? `(${expression})` : expression} and group==${app.group}`;
  return h('button', {
    type: 'button', class: 'small pcap-button', title: `Capture packets: ${expression}`,
    onclick: () => openCapture(app, {expression}),
  }, label);
}

// captureParams builds the API's query from the dialog's values.
// A live capture without an end runs until stopped; with liveSeconds it
// ends that long after now (the appliance's clock, Unix seconds).
export function captureParams({expression, fromBuffer, start, end, liveSeconds, snap, toMedia}, now) {
  const p = {expression, snapPacketLength: snap};
  if (toMedia) p.captureToMedia = 'true';
  if (fromBuffer) {
    p.fromCaptureBuffer = 'true';
    p.startTime = start * 1e6;
    p.endTime = end * 1e6;
  } else if (liveSeconds) {
    p.endTime = (now + 1 + liveSeconds) * 1e6;
  }
  return p;
}

function fileName(resp, expression) {
  const cd = resp.headers.get('Content-Disposition') || '';
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  if (m) return decodeURIComponent(m[1]);
  const ext = (resp.headers.get('Content-Type') || '').includes('pcapng') ? 'pcapng' : 'pcap';
  const what = (expression || 'all').replace(/[^A-Za-z0-9.:_-]+/g, '_').replace(/:/g, '-').slice(0, 60);
  const d = new Date();
  const stamp = `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}-${String(d.getHours()).padStart(2, '0')}${String(d.getMinutes()).padStart(2, '0')}${String(d.getSeconds()).padStart(2, '0')}`;
  return `multimeter-${what}-${stamp}.${ext}`;
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// stopOnServer finds the running live capture this dialog started and
// asks the appliance to stop it; false if it cannot be found.
async function stopOnServer(app, run) {
  try {
    const res = await app.api.get(`${CAPTURE_PATH}/captures`);
    const mine = (res.captures || []).filter((c) => c.live && c.state === 'running' && c.expression === run.expression)
      .sort((a, b) => b.id - a.id)[0];
    if (!mine) return false;
    await app.api.post(`${CAPTURE_PATH}/captures/${mine.id}/stop`);
    return true;
  } catch {
    return false;
  }
}

// openCapture shows the dialog. opts: expression, start, end (Unix s).
export async function openCapture(app, opts = {}) {
  let start = opts.start;
  let end = opts.end;
  if (!start || !end) {
    const iv = await app.time.interval();
    if (iv) {
      ({starttime: start, endtime: end} = iv);
    } else {
      end = await app.instanceNow();
      start = end - 5 * 60;
    }
  }
  const expr = h('input', {type: 'text', class: 'mono', value: opts.expression || '', placeholder: 'e.g. ip==10.1.2.3 and port==443', spellcheck: 'false', autocomplete: 'off'});
  const srcBuffer = h('input', {type: 'radio', name: 'capture-source', value: 'buffer', checked: opts.live !== true});
  const srcLive = h('input', {type: 'radio', name: 'capture-source', value: 'live', checked: opts.live === true});
  const from = h('input', {type: 'datetime-local', step: '1', value: localInput(start)});
  const to = h('input', {type: 'datetime-local', step: '1', value: localInput(end)});
  const liveSecs = h('input', {type: 'number', min: '1', step: '1', placeholder: 'until stopped'});
  const snap = h('input', {type: 'number', min: '1', max: '65535', step: '1', value: '65535'});
  const toMedia = h('input', {type: 'checkbox'});
  const rangeFields = h('div', {class: 'field-row'}, field('From', from), field('To', to));
  const liveFields = h('div', {class: 'field-row'}, field('Stop after seconds', liveSecs, 'Empty: until you press Stop.'));
  const msg = h('div', {class: 'form-error', role: 'alert'});
  const progress = h('div', {class: 'progress', 'aria-live': 'polite'});
  const curl = h('code', {class: 'mono'});
  const start_ = h('button', {type: 'submit', class: 'primary'}, 'Download pcap');
  const stop = h('button', {type: 'button', hidden: true}, 'Stop');
  const sync = () => {
    rangeFields.hidden = !srcBuffer.checked;
    liveFields.hidden = srcBuffer.checked;
  };
  srcBuffer.addEventListener('change', sync);
  srcLive.addEventListener('change', sync);
  sync();

  let controller = null;
  let stopping = false;
  let closed = false;
  let running = null;
  const values = () => {
    const v = {
      expression: expr.value.trim(),
      fromBuffer: srcBuffer.checked,
      start: parseLocalInput(from.value),
      end: parseLocalInput(to.value),
      liveSeconds: liveSecs.value ? Number(liveSecs.value) : 0,
      snap: Number(snap.value) || 65535,
      toMedia: toMedia.checked,
    };
    if (v.fromBuffer && (Number.isNaN(v.start) || Number.isNaN(v.end))) throw new Error('Enter the start and the end of the time range.');
    if (v.fromBuffer && v.start >= v.end) throw new Error('The start must be before the end.');
    if (v.snap < 1 || v.snap > 65535) throw new Error('The snap length is 1 to 65535 bytes.');
    if (v.liveSeconds < 0 || !Number.isInteger(v.liveSeconds)) throw new Error('Stop after a whole number of seconds.');
    return v;
  };
  const showCurl = () => {
    try {
      const url = new URL(app.api.url(CAPTURE_PATH, captureParams(values(), Math.floor(Date.now() / 1000))), location.href);
      curl.textContent = `curl -k -u USER:PASSWORD '${url.href}' > capture.pcap`;
    } catch (e) {
      curl.textContent = e.message;
    }
  };
  for (const el of [expr, from, to, liveSecs, snap, srcBuffer, srcLive, toMedia]) el.addEventListener('input', showCurl);
  showCurl();

  const run = async () => {
    msg.textContent = '';
    let v;
    try {
      v = values();
    } catch (e) {
      msg.textContent = e.message;
      return;
    }
    controller = new AbortController();
    stopping = false;
    running = {live: !v.fromBuffer, expression: v.expression};
    start_.disabled = true;
    stop.hidden = false;
    stop.textContent = v.fromBuffer ? 'Cancel' : 'Stop';
    progress.textContent = 'Waiting for packets…';
    const counter = new PcapCounter();
    const chunks = [];
    let received = 0;
    try {
      const now = v.fromBuffer || !v.liveSeconds ? 0 : await app.instanceNow();
      const resp = await app.api.fetch('GET', CAPTURE_PATH, {params: captureParams(v, now), signal: controller.signal, accept: 'application/vnd.tcpdump.pcap, application/octet-stream, */*'});
      if (v.toMedia) {
        const info = await resp.json();
        progress.replaceChildren(`Saved on the appliance as ${info.fileName || 'a pcap file'}: ${count(info.captured)} packets. `,
          h('a', {href: app.href('/captures')}, 'Captures and files'));
        return;
      }
      const name = fileName(resp, v.expression);
      const reader = resp.body.getReader();
      try {
        for (;;) {
          const {done, value} = await reader.read();
          if (done) break;
          chunks.push(value);
          received += value.length;
          counter.push(value);
          progress.textContent = `${count(counter.packets)} packets, ${bytes(received)} received`;
        }
      } catch (e) {
        if (!stopping) throw e;
      }
      let blob = new Blob(chunks, {type: 'application/vnd.tcpdump.pcap'});
      if (stopping && counter.format !== 'unknown') blob = blob.slice(0, counter.complete, blob.type);
      if (closed) return;
      save(blob, name);
      progress.textContent = `Saved ${name}: ${count(counter.packets)} packets, ${bytes(blob.size)}.`;
    } catch (e) {
      if (e.name === 'AbortError' && stopping) {
        progress.textContent = 'Cancelled before any packet arrived.';
      } else {
        msg.textContent = e.param === 'expression' || /expression/i.test(e.message) ? `Filter expression: ${e.message}` : e.message;
        progress.textContent = '';
      }
    } finally {
      controller = null;
      running = null;
      start_.disabled = false;
      stop.hidden = true;
    }
  };
  stop.addEventListener('click', async () => {
    if (!controller) return;
    stopping = true;
    const c = controller;
    // A live capture is ended by the server, which flushes what it
    // holds; a download from the ring buffer is simply cancelled.
    if (running && running.live && await stopOnServer(app, running)) {
      setTimeout(() => c.abort(), 5000);
      return;
    }
    c.abort();
  });

  modal('Capture packets', (close) => h('form', {
    class: 'dialog-body capture-dialog',
    onsubmit: (ev) => {
      ev.preventDefault();
      run();
    },
  },
  field('Filter expression', expr, h('span', null, 'Fields: ip, mac, port, l4Protocol, l7Protocol, vlan, interface, size; combine with and, or, !( … ). Empty: every packet.')),
  h('fieldset', null, h('legend', null, 'Packets'),
    h('label', {class: 'check'}, srcBuffer, 'From the ring buffer (back in time)'),
    h('label', {class: 'check'}, srcLive, 'Live, from now on')),
  rangeFields,
  liveFields,
  field('Snap length (bytes per packet)', snap, '65535 keeps whole packets.'),
  h('label', {class: 'check'}, toMedia, 'Save on the appliance\'s pcap storage instead of downloading'),
  h('details', {class: 'hint'}, h('summary', null, 'Same request for scripts'), h('pre', {class: 'block'}, curl)),
  msg,
  progress,
  h('div', {class: 'actions'}, start_, stop, h('button', {type: 'button', onclick: close}, 'Close'))),
  {wide: true, onClose: () => {
    closed = true;
    if (controller) {
      stopping = true;
      controller.abort();
    }
  }});
}
