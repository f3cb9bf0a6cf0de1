// A CPU burner: one busy-looping child process per core (os.availableParallelism()), so that a
// test run shares the machine as it would on a loaded CI runner.
//
//   node scripts/burn.mjs [seconds]      burns until killed (or for `seconds`), then stops them all
//
// `startBurners()` is what scripts/test-loaded.mjs uses. Every child is also told to exit when
// its parent goes away (an IPC channel closes), so none outlives a killed parent.
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);

/** Starts `count` burners; resolves a function that kills them and waits for their exit. */
export async function startBurners(count = availableParallelism()) {
  const children = Array.from({ length: count }, () =>
    fork(self, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  await Promise.all(
    children.map((child) => new Promise((resolve) => child.once('message', resolve))),
  );
  let stopped;
  return () =>
    (stopped ??= Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', resolve);
            child.kill('SIGKILL');
          }),
      ),
    ));
}

if (process.argv.includes('--child')) {
  // Exit as soon as the parent is gone, whatever killed it.
  process.on('disconnect', () => process.exit(0));
  process.send('burning');
  // Busy, but yielding to the event loop now and then so the disconnect is noticed.
  const spin = () => {
    const until = Date.now() + 50;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    setImmediate(spin);
  };
  spin();
} else if (process.argv[1] === self) {
  const seconds = Number(process.argv[2]);
  const stop = await startBurners();
  console.error(
    `burning ${availableParallelism()} cores${seconds > 0 ? ` for ${seconds} s` : ' until killed'}`,
  );
  const end = async () => {
    await stop();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, end);
  if (seconds > 0) setTimeout(end, seconds * 1000);
}
