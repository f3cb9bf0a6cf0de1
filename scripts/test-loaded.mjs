// The proof that the suite does not depend on a quiet machine: runs `npm test` (extra arguments
// go to jest) while every core is busy with a CPU burner, and stops the burners whatever happens
// (test failure, Ctrl-C, a crash of this script).
//
//   npm run test:loaded                      the whole suite under load
//   npm run test:loaded -- test/foo.e2e-spec.ts
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { startBurners } from './burn.mjs';

const cores = availableParallelism();
const stop = await startBurners(cores);
console.error(
  `test:loaded: ${cores} CPU burners running; npm test ${process.argv.slice(2).join(' ')}`,
);

const run = spawn('npm', ['test', '--', ...process.argv.slice(2)], { stdio: 'inherit' });
const forward = (signal) => () => run.kill(signal);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal));

const code = await new Promise((resolve) => {
  run.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  run.once('error', (error) => {
    console.error(`test:loaded: cannot run npm test: ${error.message}`);
    resolve(1);
  });
});
await stop();
console.error(`test:loaded: burners stopped; npm test exited ${code}`);
process.exit(code);
