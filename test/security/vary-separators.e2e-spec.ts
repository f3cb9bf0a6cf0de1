import 'reflect-metadata';
import type { OutgoingHttpHeaders } from 'node:http';

import type { TestApp } from '../helpers/test-app.js';
import { createAttackApp, rawRequest, freshStart } from './attack-kit.js';

/**
 * Key separators in vary-by values. The rule: two combinations of vary-by values share an entry
 * only when they are equal, whatever separator of the key (`| = , & # %`) a value holds; an
 * absent value is not an empty one.
 */
describe('attack: key separators in vary-by values (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createAttackApp();
  });
  afterAll(() => t.close());
  beforeEach(() => freshStart(t));

  const body = (text: string) => text.replace(/ #\d+$/, '');

  /** The attacker's combination first; the victim's must get a render of its own. */
  async function expectApart(
    path: string,
    attacker: OutgoingHttpHeaders,
    victim: OutgoingHttpHeaders,
  ): Promise<void> {
    const first = await rawRequest(t, path, { headers: attacker });
    expect(first.status).toBe(200);
    const second = await rawRequest(t, path, { headers: victim });
    expect(second.headers['x-cache']).toBe('MISS');
    expect(body(second.text)).not.toBe(body(first.text));
  }

  it.each<[string, OutgoingHttpHeaders, OutgoingHttpHeaders]>([
    ['`|b=` inside a value', { 'x-a': 'x|b=y' }, { 'x-a': 'x', 'x-b': 'y' }],
    ['`=` inside a value', { 'x-a': 'x=y' }, { 'x-a': 'x', 'x-b': 'y' }],
    [
      'a value moved across the separator',
      { 'x-a': 'x|', 'x-b': 'y' },
      { 'x-a': 'x', 'x-b': '|y' },
    ],
    ['`%` escapes', { 'x-a': '%7C' }, { 'x-a': '|' }],
    ['`#` and `&`', { 'x-a': 'x#y&z' }, { 'x-a': 'x', 'x-b': 'y&z' }],
    ['an empty value and no value', { 'x-a': '' }, {}],
    ['an empty value and no value, second name', { 'x-a': 'x', 'x-b': '' }, { 'x-a': 'x' }],
  ])('rule "vary-by values are escaped injectively": %s', async (_what, attacker, victim) => {
    await expectApart('/attack/two-vary', attacker, victim);
  });

  it.each<[string, OutgoingHttpHeaders, OutgoingHttpHeaders]>([
    ['a comma inside one value of a set', { 'x-list': 'a,b' }, { 'x-list': 'a|b' }],
    ['an empty set and no set', { 'x-list': '' }, {}],
    ['an empty member', { 'x-list': 'a|' }, { 'x-list': 'a' }],
  ])('rule "sets of values are escaped member by member": %s', async (_what, attacker, victim) => {
    await expectApart('/attack/list-vary', attacker, victim);
  });

  it('rule "a set is a set": the same members in another order share the entry (order-free by design)', async () => {
    await rawRequest(t, '/attack/list-vary', { headers: { 'x-list': 'b|a' } });
    const res = await rawRequest(t, '/attack/list-vary', { headers: { 'x-list': 'a|b' } });
    // Documented: vary-by arrays are sets (roles); a route that shows their order must not use one.
    expect(res.headers['x-cache']).toBe('HIT');
  });

  it('rule "equal combinations share": the same values hit', async () => {
    await rawRequest(t, '/attack/two-vary', { headers: { 'x-a': 'x|y', 'x-b': '=' } });
    const res = await rawRequest(t, '/attack/two-vary', { headers: { 'x-a': 'x|y', 'x-b': '=' } });
    expect(res.headers['x-cache']).toBe('HIT');
  });
});
