// Setup file of the jest project "fastify": the HTTP e2e files build their apps on Fastify.
process.env.TEST_PLATFORM = 'fastify';
