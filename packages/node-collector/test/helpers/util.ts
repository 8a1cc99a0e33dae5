import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeCollectorConfig } from '../../src/index.ts';

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  // retried: a collector still shutting down may write its checkpoint file while the directory is removed
  t.after(() => rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
  return d;
}

function testConfig(root: string, checkpointDir: string, endpoints: string[], extra: NodeCollectorConfig = {}): NodeCollectorConfig {
  return {
    logRoot: root,
    checkpointDir,
    endpoints,
    nodeName: 'node-a',
    server: { port: 0, host: '127.0.0.1' },
    pollIntervalMs: 200,
    rescanIntervalMs: 1000,
    rotatedCloseAfterMs: 1000,
    checkpointIntervalMs: 20,
    batch: { maxAgeMs: 50 },
    retry: { initialMs: 20, maxMs: 300 },
    ...extra,
  };
}

/** Value of one sample in Prometheus text format. */
function metricValue(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels} `) || (labels === '' && line.startsWith(`${name} `))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

export { waitFor, tempDir, testConfig, metricValue };
