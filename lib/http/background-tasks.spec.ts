import { resolveOutputCacheOptions } from '../output-cache.options.js';
import { BackgroundTasks } from './background-tasks.js';

const tasks = (shutdownTimeout: number) =>
  new BackgroundTasks(resolveOutputCacheOptions({ shutdownTimeout }));

describe('BackgroundTasks', () => {
  it('awaits running tasks on shutdown, and starts none after', async () => {
    const background = tasks(5);
    let done = false;
    background.run('t', async () => {
      await new Promise((r) => setTimeout(r, 20));
      done = true;
    });
    await background.onModuleDestroy();
    expect(done).toBe(true);
    expect(background.run('late', async () => undefined)).toBe(false);
  });

  it('stops waiting after shutdownTimeout and aborts what still runs', async () => {
    const background = tasks(0.05);
    let aborted = false;
    background.run('hung', (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise(() => undefined);
    });
    await background.onModuleDestroy();
    expect(aborted).toBe(true);
  });

  it('never lets a task failure escape', async () => {
    const background = tasks(1);
    background.run('fails', () => Promise.reject(new Error('boom')));
    await background.onModuleDestroy();
    expect(background.size).toBe(0);
  });
});
