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

// liveList returns a DataTable subscribe function for the list, or
// undefined when a time range is selected (the table loads once then).
export function liveList(app, iv, list, extra = {}) {
  const topic = LIST_TOPICS[list];
  if (iv || !topic) return undefined;
  return (q, onData, onError) => app.live.subscribe(topic,
    {...extra, ...app.liveParams(), sort: q.sort, reverse: q.reverse, page: q.page, count: q.count, filter: q.filter},
    (v) => onData({items: v.displayedItems || [], total: v.totalItems || 0}), onError);
}

// liveEntity calls onValue(entity, second) every second, where second
// is the instance's last complete second (from the dashboard topic of
// the same update: the update's own time is the wall clock, which an
// analysed pcap does not run on). It returns the unsubscribe function.
export function liveEntity(app, kind, id, onValue) {
  const [topic, param] = ENTITY_TOPICS[kind];
  let entity = null;
  let second = null;
  const emit = () => {
    if (entity && second && entity.tick === second.tick) {
      onValue(entity.value, second.value);
      entity = null;
    }
  };
  const unsubClock = app.live.subscribe('dashboard', app.liveParams(), (d, tick) => {
    second = {value: d.lastSecond, tick};
    emit();
  });
  const unsubEntity = app.live.subscribe(topic, {...app.liveParams(), [param]: id}, (v, tick) => {
    entity = {value: v, tick};
    emit();
  });
  return () => {
    unsubEntity();
    unsubClock();
  };
}
