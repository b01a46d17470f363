// Number and time formatting. Byte counters are bytes (the API never
// counts bits); rates are shown in bit/s as operators expect.

const UNITS = ['', 'k', 'M', 'G', 'T', 'P'];

function scaled(v, base, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  let i = 0;
  let x = Math.abs(v);
  while (x >= base && i < UNITS.length - 1) {
    x /= base;
    i += 1;
  }
  const digits = i === 0 || x >= 100 ? 0 : x >= 10 ? 1 : 2;
  return `${v < 0 ? '-' : ''}${x.toFixed(digits)} ${UNITS[i]}${unit}`;
}

// bytes: 1536 -> "1.54 kB" (SI, like tshark's statistics).
export function bytes(v) { return scaled(v, 1000, 'B'); }

// bits per second from bytes per second.
export function bps(bytesPerSecond) { return scaled(bytesPerSecond * 8, 1000, 'bit/s'); }

// pps: packets per second.
export function pps(v) { return scaled(v, 1000, 'pkt/s'); }

// count: 1234567 -> "1,234,567".
export function count(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Math.round(v).toLocaleString('en-US');
}

export function percent(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return `${(v * 100).toFixed(digits)} %`;
}

function pad(n, w = 2) { return String(n).padStart(w, '0'); }

// time: Unix seconds -> "2026-01-01 12:00:05" in the browser's zone.
export function time(sec) {
  if (!sec) return '–';
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// short: Unix seconds -> "01-31 12:00:05", for table cells.
export function short(sec) {
  if (!sec) return '–';
  const d = new Date(sec * 1000);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// clock: Unix seconds -> "12:00:05".
export function clock(sec) {
  const d = new Date(sec * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// localInput: Unix seconds -> value for <input type="datetime-local" step="1">.
export function localInput(sec) {
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// parseLocalInput is the inverse of localInput (NaN when empty or bad).
export function parseLocalInput(v) {
  const ms = new Date(v).getTime();
  return Number.isNaN(ms) ? NaN : Math.floor(ms / 1000);
}

// duration: seconds -> "3d 4h", "5m 20s".
export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '–';
  sec = Math.max(0, Math.round(sec));
  const d = Math.floor(sec / 86400);
  const hr = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}
