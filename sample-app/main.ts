import 'reflect-metadata';
import { createSampleApp } from './create-sample-app.js';

const app = await createSampleApp();
app.enableShutdownHooks();
const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
console.log(`nestjs-output-cache sample shop: http://localhost:${port}`);
