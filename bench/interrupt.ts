// Benchmarks start servers and worker processes of their own. Ctrl-C or a SIGTERM must not
// leave them running: each registers how to stop what it started, and a signal runs those
// before the process exits.

type Cleanup = () => Promise<unknown> | unknown;

const cleanups = new Set<Cleanup>();
let installed = false;

/** Runs `cleanup` if the benchmark is interrupted; the returned function unregisters it. */
export function onInterrupt(cleanup: Cleanup): () => void {
  if (!installed) {
    installed = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void stopAll(signal));
    }
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

async function stopAll(signal: NodeJS.Signals): Promise<void> {
  console.log(`\n${signal}: stopping what this benchmark started`);
  // Newest first: worker processes before the servers they use.
  for (const cleanup of [...cleanups].reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
