// Setup file of the jest project "express": the HTTP e2e files build their apps on Express.
process.env.TEST_PLATFORM = 'express';
