// The process entry: `main.ts --config file.yaml` serves, and SIGTERM shuts it down cleanly.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { PODS, writePodsFile } from './fixtures.ts';
import { createRawGrpcClient, receivedResources, startCapturingBackend, traceRequest } from './helpers.ts';
import { freePortForTest } from './ports.ts';

void test('main.ts --config serves OTLP gRPC and exits 0 after SIGTERM', async (t: TestContext) => {
  const backend = await startCapturingBackend();
  const pods = writePodsFile();
  const dir = mkdtempSync(join(tmpdir(), 'sextant-traces-main-'));
  t.after(async () => {
    await backend.stop();
    pods.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const [grpcPort, telemetryPort] = [await freePortForTest(), await freePortForTest()];
  const config = join(dir, 'traces.yaml');
  writeFileSync(
    config,
    stringify({
      grpc: { host: '127.0.0.1', port: grpcPort },
      http: { enabled: false },
      telemetry: { host: '127.0.0.1', port: telemetryPort },
      kube: { source: 'file', path: pods.path },
      exporter: { endpoint: backend.endpoint },
      log: { level: 'warn' },
    }),
  );
  const child = spawn(process.execPath, [new URL('../src/main.ts', import.meta.url).pathname, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    ready = await fetch(`http://127.0.0.1:${telemetryPort}/readyz`).then((r) => r.status === 200, () => false);
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  t.assert.ok(ready, `ready: ${stderr}`);
  const client = createRawGrpcClient(grpcPort, '127.0.0.1', { localAddress: PODS.web.ip });
  t.assert.equal((await client.exportTraces(traceRequest({}, 2))).code, 0);
  client.close();
  await backend.waitForSpans(2);
  t.assert.equal(receivedResources(backend)[0]?.['k8s.pod.name'], 'web');
  child.kill('SIGTERM');
  t.assert.equal(await exited, 0, stderr);
});
