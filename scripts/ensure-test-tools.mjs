// `npm test`'s set-up on a fresh machine: the Debian packages some tests drive (chromium for the
// dashboard's browser test, varnish in front of the app and the sample shop). Installs the
// missing ones with apt when it can (root on Debian, as here and in CI); otherwise says what to
// install, and the tests that need them fail with the same message (never skipped).
import { execFileSync, spawnSync } from 'node:child_process';

const tools = [
  { command: 'chromium', pkg: 'chromium' },
  { command: 'varnishd', pkg: 'varnish' },
];
const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const missing = tools.filter((tool) => !has(tool.command)).map((tool) => tool.pkg);

if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && has('apt-get')) {
    console.error(`npm test: installing ${missing.join(', ')} (Debian packages the tests drive)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  } else {
    console.error(
      `npm test: ${missing.join(', ')} not installed; the tests that drive them will fail. ` +
        `Install with: sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
}
