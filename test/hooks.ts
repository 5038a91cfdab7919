// Root mocha hooks, loaded before every test file (.mocharc.json "require").
// In-process daemons log only warnings unless the developer asks for more.
process.env.NSM_LOG_LEVEL ??= 'warn';

// An unhandled rejection anywhere fails the run instead of being silently logged.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(String(reason));
});
