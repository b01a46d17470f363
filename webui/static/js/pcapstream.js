// PcapCounter follows a pcap or pcapng byte stream as it arrives and
// knows where the last complete packet record ends, so that a download
// stopped in the middle still saves a file every tool can read, and the
// capture dialog can count packets while they come.

export class PcapCounter {
  constructor() {
    this.head = new Uint8Array(0); // bytes not yet parsed (at most one record header)
    this.offset = 0;   // stream position of head[0]
    this.complete = 0; // stream position after the last complete record
    this.packets = 0;
    this.format = '';  // 'pcap' | 'pcapng' | 'unknown'
    this.little = true;
    this.skip = 0;     // bytes of the current record still to come
  }

  // push feeds the next chunk.
  push(chunk) {
    if (this.format === 'unknown') return;
    const buf = concat(this.head, chunk);
    let pos = 0;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - pos);
        this.skip -= n;
        pos += n;
        if (this.skip > 0) break;
        this.complete = this.offset + pos;
        continue;
      }
      const need = this.format === '' ? 24 : this.format === 'pcap' ? 16 : 12;
      if (buf.length - pos < need) break;
      const v = new DataView(buf.buffer, buf.byteOffset + pos, need);
      if (this.format === '') {
        const magic = v.getUint32(0, true);
        if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
          this.format = 'pcap';
          this.little = true;
        } else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) {
          this.format = 'pcap';
          this.little = false;
        } else if (magic === 0x0a0d0d0a) {
          this.format = 'pcapng';
          this.little = v.getUint32(8, true) === 0x1a2b3c4d;
          this.skip = v.getUint32(4, this.little);
          continue;
        } else {
          this.format = 'unknown';
          return;
        }
        pos += 24;
        this.complete = this.offset + pos;
        continue;
      }
      if (this.format === 'pcap') {
        this.skip = 16 + v.getUint32(8, this.little);
        this.packets += 1;
      } else {
        const type = v.getUint32(0, this.little);
        this.skip = v.getUint32(4, this.little);
        if (this.skip < 12) {
          this.format = 'unknown';
          return;
        }
        if (type === 6 || type === 3 || type === 2) this.packets += 1; // EPB, SPB, obsolete PB
      }
    }
    this.offset += pos;
    this.head = buf.slice(pos);
  }
}

function concat(a, b) {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
