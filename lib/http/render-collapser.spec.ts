import type { CacheEntry } from '../stores/cache-entry.js';
import { RenderCollapser } from './render-collapser.js';

describe('RenderCollapser', () => {
  it('lets one lead per key and hands its outcome to every waiter', async () => {
    const collapser = new RenderCollapser();
    const finish = collapser.lead('k')!;
    expect(collapser.lead('k')).toBeUndefined();
    const waiting = [collapser.wait('k', 1000), collapser.wait('k', 1000)];
    const entry = { key: 'k' } as CacheEntry;
    finish({ entry });
    expect(await Promise.all(waiting)).toEqual([{ entry }, { entry }]);
    expect(collapser.has('k')).toBe(false);
    expect(collapser.lead('k')).toBeDefined(); // the next miss leads anew
  });

  it('ends the flight on a hand-over, so that a waiter can lead', async () => {
    const collapser = new RenderCollapser();
    const finish = collapser.lead('k')!;
    const waiting = collapser.wait('k', 1000);
    finish({ handover: true });
    finish({ notStored: 'late' }); // a second call is ignored
    expect(await waiting).toEqual({ handover: true });
    expect(collapser.lead('k')).toBeDefined();
  });

  it('reports no flight, and gives up waiting after the timeout', async () => {
    const collapser = new RenderCollapser();
    expect(await collapser.wait('none', 10)).toBe('none');
    collapser.lead('slow');
    expect(await collapser.wait('slow', 5)).toBe('timeout');
  });
});
