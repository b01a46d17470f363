// The live feed: one websocket (/API/ws) shared by every page. A page
// subscribes to topics and gets each value once per second; the server
// pushes, the UI never polls. The socket reconnects by itself and
// re-sends the subscriptions; a close with code 4401 (credentials no
// longer valid) ends the session instead.

const AUTH_LOST = 4401;

export class Live {
  constructor({onAuthLost = () => {}, onState = () => {}} = {}) {
    this.onAuthLost = onAuthLost;
    this.onState = onState;
    this.subs = new Map(); // id -> {topic, params, onValue, onError}
    this.nextId = 0;
    this.ws = null;
    this.state = 'closed';
    this.retry = 0;
    this.timer = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'logout');
    this.ws = null;
    this.subs.clear();
    this.setState('closed');
  }

  setState(st) {
    this.state = st;
    this.onState(st);
  }

  connect() {
    if (this.stopped) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/API/ws`);
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      this.retry = 0;
      this.setState('open');
      for (const [id, sub] of this.subs) this.send({type: 'subscribe', id, topic: sub.topic, params: sub.params});
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === AUTH_LOST) {
        this.setState('closed');
        this.onAuthLost();
        return;
      }
      this.setState('offline');
      if (this.stopped) return;
      // A refused upgrade (401 after a logout elsewhere) also lands
      // here; the next API call finds out and ends the session.
      const delay = Math.min(10000, 500 * 2 ** this.retry);
      this.retry += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === 'update') {
      for (const [id, v] of Object.entries(msg.values || {})) this.subs.get(id)?.onValue(v, msg.time);
      for (const [id, e] of Object.entries(msg.errors || {})) this.subs.get(id)?.onError(e);
    } else if (msg.type === 'error' && msg.id) {
      this.subs.get(msg.id)?.onError(msg);
    }
  }

  // subscribe calls onValue(value, unixTime) every second until the
  // returned function is called. Params are the topic's query parameters.
  subscribe(topic, params, onValue, onError = () => {}) {
    this.nextId += 1;
    const id = `s${this.nextId}`;
    const clean = {};
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') clean[k] = v;
    }
    this.subs.set(id, {topic, params: clean, onValue, onError});
    this.send({type: 'subscribe', id, topic, params: clean});
    return () => {
      if (this.subs.delete(id)) this.send({type: 'unsubscribe', id});
    };
  }
}
