// Live tables and entities over the websocket: in live mode a page
// subscribes and the server pushes its rows every second.

// LIST_TOPICS maps a list to the topic that serves its pages.
const LIST_TOPICS = {
  ips: 'ips_top',
  macs: 'macs_top',
  dpi: 'dpi_top',
};

// ENTITY_TOPICS maps an entity kind to the topic of one entity and the
// parameter naming it.
const ENTITY_TOPICS = {
  ip: ['ip', 'ip'],
  mac: ['mac', 'mac'],
};

function slotParam(app) {
  return app.slot ? {'mm-id': `:${app.slot}`} : {};
}

// liveList returns a DataTable subscribe function for the list, or
// undefined when a time range is selected (the table loads once then).
export function liveList(app, iv, list, extra = {}) {
  const topic = LIST_TOPICS[list];
  if (iv || !topic) return undefined;
  return (q, onData, onError) => app.live.subscribe(topic,
    {...extra, ...slotParam(app), sort: q.sort, reverse: q.reverse, page: q.page, count: q.count, filter: q.filter},
    (v) => onData({items: v.displayedItems || [], total: v.totalItems || 0}), onError);
}

// liveEntity calls onValue(entity, unixTime) every second and returns the
// unsubscribe function.
export function liveEntity(app, kind, id, onValue) {
  const [topic, param] = ENTITY_TOPICS[kind];
  return app.live.subscribe(topic, {...slotParam(app), [param]: id}, onValue);
}
