import { describeDecision, describeEviction } from './decision-log.listener.js';

describe('the decision log lines', () => {
  it('say result, reason, route id, url and duration', () => {
    expect(
      describeDecision({ result: 'hit', route: 'Catalog/category', url: '/c/1', durationMs: 0.42 }),
    ).toBe('hit Catalog/category /c/1 0.4ms');
    expect(
      describeDecision({ result: 'not-stored', reason: 'status', route: 'A/a', url: '/a' }),
    ).toBe('not-stored (status) A/a /a');
    expect(describeDecision({ result: 'bypass', reason: 'method', route: 'A/a' })).toBe(
      'bypass (method) A/a',
    );
  });

  it('say cause, soft, remote, count and (at most ten) values', () => {
    expect(describeEviction({ cause: 'tag', values: ['Product:1'], count: 3, soft: true })).toBe(
      'eviction (tag) soft 3 entries: Product:1',
    );
    expect(describeEviction({ cause: 'all', values: [], remote: true })).toBe(
      'eviction (all) remote',
    );
    const many = Array.from({ length: 12 }, (_, i) => `t${i}`);
    expect(describeEviction({ cause: 'tag', values: many, count: 1 })).toBe(
      `eviction (tag) 1 entry: ${many.slice(0, 10).join(', ')}, ... (12)`,
    );
  });
});
