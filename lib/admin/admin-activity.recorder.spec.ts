import { AdminActivity, TIMELINE_MINUTES } from './admin-activity.recorder.js';

const MINUTE = 60_000;
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % MINUTE);

describe('AdminActivity', () => {
  it('counts served responses per key, from zero again once a new entry is stored', () => {
    const activity = new AdminActivity(100);
    for (const result of ['hit', 'stale', 'stale-if-error', 'collapsed', 'not-modified'] as const) {
      activity.record({ result, route: 'R', key: 'k1' }, T0);
    }
    activity.record({ result: 'miss', route: 'R', key: 'k1' }, T0);
    activity.record({ result: 'bypass', route: 'R', reason: 'session' }, T0);
    expect(activity.hitsOf('k1')).toBe(5);
    activity.record({ result: 'stored', route: 'R', key: 'k1' }, T0);
    expect(activity.hitsOf('k1')).toBe(0);
    expect(activity.hitsOf('unknown')).toBe(0);
  });

  it('keeps a bounded number of keys, least recently hit going first', () => {
    const activity = new AdminActivity(2);
    for (const key of ['a', 'b', 'a', 'c']) activity.record({ result: 'hit', route: 'R', key }, T0);
    expect([activity.hitsOf('a'), activity.hitsOf('b'), activity.hitsOf('c')]).toEqual([2, 0, 1]);
  });

  it('keeps hits and misses per minute for an hour, oldest first, older minutes dropped', () => {
    const activity = new AdminActivity(10);
    activity.record({ result: 'hit', route: 'R' }, T0 + 5);
    activity.record({ result: 'miss', route: 'R' }, T0 + 59_999);
    activity.record({ result: 'hit', route: 'R' }, T0 + 3 * MINUTE);
    activity.record({ result: 'stored', route: 'R' }, T0 + 3 * MINUTE);
    let timeline = activity.timeline(T0 + 3 * MINUTE + 10);
    expect(timeline).toHaveLength(TIMELINE_MINUTES);
    expect(timeline[TIMELINE_MINUTES - 1]).toEqual({ minute: T0 + 3 * MINUTE, hits: 1, misses: 0 });
    expect(timeline[TIMELINE_MINUTES - 4]).toEqual({ minute: T0, hits: 1, misses: 1 });
    expect(timeline[0].minute).toBe(T0 + 3 * MINUTE - 59 * MINUTE);
    // An hour later the bucket of T0 is reused: its old counts are gone.
    activity.record({ result: 'miss', route: 'R' }, T0 + 60 * MINUTE);
    timeline = activity.timeline(T0 + 60 * MINUTE);
    expect(timeline[TIMELINE_MINUTES - 1]).toEqual({
      minute: T0 + 60 * MINUTE,
      hits: 0,
      misses: 1,
    });
    expect(timeline.find((m) => m.minute === T0)).toBeUndefined();
    expect(timeline.reduce((n, m) => n + m.hits + m.misses, 0)).toBe(2);
  });
});
