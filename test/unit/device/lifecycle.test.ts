import { describe, expect, it } from 'vitest';
import { DeviceState, canTransition, transition } from '../../../src/device/lifecycle.js';

describe('device lifecycle', () => {
  it('follows create -> start -> live -> stop -> stopped -> delete', () => {
    let s = transition(DeviceState.IDLE, 'start');
    expect(s).toBe('starting');
    s = transition(s, 'started');
    expect(s).toBe('live');
    s = transition(s, 'stop');
    expect(s).toBe('stopping');
    s = transition(s, 'drained');
    expect(s).toBe('stopped');
    expect(transition(s, 'delete')).toBe('deleted');
  });

  it('recovery: idle -> recovering -> live, or back to idle when refused', () => {
    expect(transition(transition(DeviceState.IDLE, 'recover'), 'recovered')).toBe('live');
    expect(transition(DeviceState.RECOVERING, 'abandon')).toBe('idle');
    expect(transition(DeviceState.RECOVERING, 'fail')).toBe('stopping');
  });

  it('rejects impossible transitions', () => {
    expect(() => transition(DeviceState.LIVE, 'start')).toThrow(/not allowed/);
    expect(() => transition(DeviceState.LIVE, 'delete')).toThrow(/not allowed/);
    expect(() => transition(DeviceState.DELETED, 'start')).toThrow(/not allowed/);
    expect(() => transition(DeviceState.STOPPING, 'stop')).toThrow(/not allowed/);
    expect(canTransition(DeviceState.IDLE, 'delete')).toBe(true);
    expect(canTransition(DeviceState.STARTING, 'delete')).toBe(false);
  });
});
