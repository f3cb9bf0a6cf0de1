import { type Metric, Registry } from 'prom-client';
import { DurationHistogram } from './duration-histogram.js';

describe('DurationHistogram', () => {
  it('is exposed by a prom-client registry as a histogram: cumulative buckets, sum, count', async () => {
    const histogram = new DurationHistogram('d_seconds', 'durations', [0.01, 0.1], 'result', [
      'hit',
      'miss',
    ]);
    const registry = new Registry();
    registry.registerMetric(histogram as unknown as Metric);
    histogram.observe(0, 0.005);
    histogram.observe(0, 0.01); // on a bound: counted in it (le is "less or equal")
    histogram.observe(0, 0.5);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE d_seconds histogram');
    expect(text).toContain('d_seconds_bucket{le="0.01",result="hit"} 2');
    expect(text).toContain('d_seconds_bucket{le="0.1",result="hit"} 2');
    expect(text).toContain('d_seconds_bucket{le="+Inf",result="hit"} 3');
    expect(text).toContain('d_seconds_sum{result="hit"} 0.515');
    expect(text).toContain('d_seconds_count{result="hit"} 3');
    expect(text).not.toContain('result="miss"'); // nothing observed
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('d_seconds_count');
  });
});
