// Warm start times of the test environment (tools already cached): prints the median of
// a few runs of each step. Usage: node test/env/measure.ts [runs=3]
import { analyzeNetworkPolicies } from './cyclonus.ts';
import { startCluster } from './cluster.ts';
import { helm } from './helm.ts';
import { startOtelCollector } from './otelcol.ts';
import { TOOLS, ensureTool } from './tools.ts';
import type { ToolName } from './tools.ts';

const runs = Number(process.argv[2] ?? 3);

async function median(label: string, fn: () => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  console.log(`  ${label.padEnd(52)} ${(times[Math.floor(times.length / 2)] ?? 0).toFixed(2).padStart(6)} s  (runs: ${times.map((t) => t.toFixed(2)).join(', ')})`);
}

console.log(`test-env warm start times, median of ${runs}:`);
for (const name of Object.keys(TOOLS) as ToolName[]) {
  await median(`ensureTool('${name}') (cache hit)`, () => ensureTool(name));
}
await median('startCluster() → /readyz, then stop()', async () => {
  const c = await startCluster();
  await c.stop();
});
await median("helm(['version'])", () => helm(['version']));
await median('analyzeNetworkPolicies (1 policy, 1 connection)', () =>
  analyzeNetworkPolicies({
    policies: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'a' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } }],
    connections: [{ source: { ip: '192.0.2.1' }, destination: { namespace: 'a', namespaceLabels: {}, podLabels: {} }, port: 80, protocol: 'TCP' }],
  }),
);
await median('startOtelCollector() → ports open, then stop()', async () => {
  const o = await startOtelCollector();
  await o.stop();
});
