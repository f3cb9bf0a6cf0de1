import 'reflect-metadata';
import { adminDashboardNotice, SAMPLE_ADMIN_TOKEN } from './admin/admin-token.js';
import { createSampleApp } from './create-sample-app.js';
import { resolveSampleAppOptions } from './sample-app.options.js';
import { sampleLogLevels, startUpBanner } from './start-up/start-up-banner.js';
import { checkSampleServices } from './start-up/start-up-checks.js';

/** Stops the start with one line on stderr and a non-zero exit: nothing to scroll through. */
function cannotStart(error: unknown): never {
  console.error(`sample shop cannot start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

const { options, logger } = (() => {
  try {
    return { options: resolveSampleAppOptions(), logger: sampleLogLevels() };
  } catch (error) {
    return cannotStart(error);
  }
})();
await checkSampleServices(options).catch(cannotStart);
const app = await createSampleApp({ ...options, logger });
app.enableShutdownHooks();
const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
console.log(startUpBanner(options, port));
console.log(adminDashboardNotice(app.get(SAMPLE_ADMIN_TOKEN, { strict: false }), port));
