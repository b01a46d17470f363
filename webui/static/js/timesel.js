// The time selection that applies to every statistics page: live (the
// last second, updated every second over the websocket), the last 5, 15
// or 60 minutes, or a custom interval. It is the URL's t parameter
// ("15m", or "START-END" in Unix seconds) and becomes the API's
// starttime/endtime. "Last N minutes" counts back from the analysis
// instance's own clock, which for an analysed pcap is the capture's.
import {h, field, replace} from './dom.js';
import {localInput, parseLocalInput, time as fmtTime} from './format.js';
import {modal} from './ui.js';

const PRESETS = [
  ['live', 'Live'],
  ['5m', 'Last 5 minutes'],
  ['15m', 'Last 15 minutes'],
  ['60m', 'Last 60 minutes'],
  ['custom', 'Custom interval…'],
];

// parse turns the t parameter into {mode: 'live'|'last'|'range', ...}.
export function parse(t) {
  if (!t || t === 'live') return {mode: 'live'};
  const last = /^(\d+)m$/.exec(t);
  if (last) return {mode: 'last', minutes: Number(last[1])};
  const range = /^(\d+)-(\d+)$/.exec(t);
  if (range && Number(range[1]) < Number(range[2])) return {mode: 'range', start: Number(range[1]), end: Number(range[2])};
  return {mode: 'live'};
}

export class TimeSelection {
  constructor(app) {
    this.app = app;
    this.sel = {mode: 'live'};
    this.t = '';
  }

  get live() { return this.sel.mode === 'live'; }

  control() {
    this.select = h('select', {'aria-label': 'Time range', onchange: (ev) => this.choose(ev.target.value)},
      PRESETS.map(([v, label]) => h('option', {value: v}, label)));
    this.rangeLabel = h('button', {type: 'button', class: 'range-label link-button', hidden: true, onclick: () => this.custom()});
    this.el = h('div', {class: 'time-select'}, this.select, this.rangeLabel);
    this.sync(this.t);
    return this.el;
  }

  // sync shows the selection of the URL's t parameter.
  sync(t) {
    this.t = t || '';
    this.sel = parse(t);
    if (!this.select) return;
    const v = this.sel.mode === 'live' ? 'live' : this.sel.mode === 'last' ? `${this.sel.minutes}m` : 'custom';
    if (![...this.select.options].some((o) => o.value === v)) {
      this.select.insertBefore(h('option', {value: v}, `Last ${this.sel.minutes} minutes`), this.select.lastChild);
    }
    this.select.value = v;
    if (this.sel.mode === 'range') {
      this.rangeLabel.hidden = false;
      replace(this.rangeLabel, `${fmtTime(this.sel.start)} – ${fmtTime(this.sel.end)}`);
    } else {
      this.rangeLabel.hidden = true;
    }
  }

  choose(v) {
    if (v === 'custom') {
      this.custom();
      return;
    }
    this.app.setGlobal({t: v === 'live' ? '' : v});
  }

  async custom() {
    let start;
    let end;
    if (this.sel.mode === 'range') {
      ({start, end} = this.sel);
    } else {
      end = await this.app.instanceNow();
      start = end - 15 * 60;
    }
    const from = h('input', {type: 'datetime-local', step: '1', value: localInput(start), required: true});
    const to = h('input', {type: 'datetime-local', step: '1', value: localInput(end), required: true});
    const msg = h('div', {class: 'form-error', role: 'alert'});
    modal('Custom time interval', (close) => h('form', {
      class: 'dialog-body',
      onsubmit: (ev) => {
        ev.preventDefault();
        const a = parseLocalInput(from.value);
        const b = parseLocalInput(to.value);
        if (Number.isNaN(a) || Number.isNaN(b)) {
          msg.textContent = 'Enter both the start and the end.';
          return;
        }
        if (a >= b) {
          msg.textContent = 'The start must be before the end.';
          return;
        }
        close();
        this.app.setGlobal({t: `${a}-${b}`});
      },
    },
    h('p', {class: 'hint'}, 'Times are in your browser\'s time zone.'),
    field('From', from), field('To', to), msg,
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Apply'), h('button', {type: 'button', onclick: close}, 'Cancel'))),
    {onClose: () => this.sync(this.t)});
  }

  // interval resolves the selection to {starttime, endtime} in Unix
  // seconds, or null for live.
  async interval() {
    switch (this.sel.mode) {
    case 'last': {
      const now = await this.app.instanceNow();
      return {starttime: now - this.sel.minutes * 60, endtime: now};
    }
    case 'range':
      return {starttime: this.sel.start, endtime: this.sel.end};
    default:
      return null;
    }
  }

  // describe says in words what is selected.
  describe() {
    switch (this.sel.mode) {
    case 'last': return `last ${this.sel.minutes} minutes`;
    case 'range': return `${fmtTime(this.sel.start)} – ${fmtTime(this.sel.end)}`;
    default: return 'live';
    }
  }
}
