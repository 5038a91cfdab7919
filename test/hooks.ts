// Root mocha hooks, loaded for every test file (.mocharc.json "require").
// An unhandled rejection anywhere fails the run instead of being silently logged.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(String(reason));
});
