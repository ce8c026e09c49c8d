// The device lifecycle as seen by this process: one enum and one transition
// function, so every state change is checked in one place.
//
//   idle ──start──> starting ──started──> live ──stop──> stopping ──drained──> stopped
//    │                 │                   ▲               ▲                     │
//    ├──recover──> recovering ──recovered──┘               │                     │
//    │                 └───────────fail / stop─────────────┘                     │
//    └───────────────────────────delete──────────────> deleted <──────delete─────┘
//
// `idle`: the kernel device exists (ADD_DEV done, or opened by id) and this
// process does not serve it. `stopping` is also entered when the kernel
// aborts every queue on its own (STOP_DEV or DEL_DEV from another process).

export const DeviceState = {
  IDLE: 'idle',
  STARTING: 'starting',
  RECOVERING: 'recovering',
  LIVE: 'live',
  STOPPING: 'stopping',
  STOPPED: 'stopped',
  DELETED: 'deleted',
} as const;
export type DeviceStateValue = (typeof DeviceState)[keyof typeof DeviceState];

export type DeviceEvent =
  | 'start'
  | 'recover'
  | 'abandon' // recovery refused before anything was set up
  | 'started'
  | 'recovered'
  | 'fail'
  | 'stop'
  | 'drained'
  | 'delete';

const TRANSITIONS: Record<DeviceStateValue, Partial<Record<DeviceEvent, DeviceStateValue>>> = {
  idle: { start: 'starting', recover: 'recovering', delete: 'deleted' },
  starting: { started: 'live', fail: 'stopping', stop: 'stopping' },
  recovering: { recovered: 'live', abandon: 'idle', fail: 'stopping', stop: 'stopping' },
  live: { stop: 'stopping', fail: 'stopping' },
  stopping: { drained: 'stopped' },
  stopped: { delete: 'deleted' },
  deleted: {},
};

/** The state after `event`, or an Error (a programming error in the caller) if not allowed. */
export function transition(from: DeviceStateValue, event: DeviceEvent): DeviceStateValue {
  const to = TRANSITIONS[from][event];
  if (to === undefined) throw new Error(`ublk device: '${event}' is not allowed in state '${from}'`);
  return to;
}

export function canTransition(from: DeviceStateValue, event: DeviceEvent): boolean {
  return TRANSITIONS[from][event] !== undefined;
}
