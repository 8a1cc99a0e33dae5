// Preloaded (`node --import`) into every process the demo starts. The demo keeps each child's stdin
// open; if the demo dies without stopping its children (SIGKILL, a crash), the pipe closes and the
// child stops itself with SIGTERM, which runs its own graceful shutdown. The handle is unref'd so it
// never keeps a child alive after that child's own shutdown finished.
process.stdin.once('end', () => {
  process.kill(process.pid, 'SIGTERM');
});
process.stdin.on('error', () => undefined);
process.stdin.resume();
(process.stdin as unknown as { unref?: () => void }).unref?.();
