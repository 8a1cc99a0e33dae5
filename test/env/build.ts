// `pnpm run env:build`: builds (or finds cached) every tool of the test environment and
// prints, per tool, whether it was cached or built and how long that took.
// Usage: node test/env/build.ts [tool ...]
import { BUILD_LANES, CACHE_DIR, TOOLS, ensureTool } from './tools.ts';
import type { EnsureResult, ToolName } from './tools.ts';

const wanted = new Set<string>(process.argv.slice(2));
for (const w of wanted) {
  if (!(w in TOOLS)) {
    console.error(`env:build: unknown tool "${w}"; valid: ${Object.keys(TOOLS).join(', ')}`);
    process.exit(2);
  }
}
const lanes = BUILD_LANES.map((lane) => lane.filter((t) => wanted.size === 0 || wanted.has(t))).filter((l) => l.length > 0);

const started = performance.now();
console.log(`env:build: tools in ${CACHE_DIR} (${lanes.length} build lanes)`);

function line(r: EnsureResult): string {
  const label = `${r.name} ${r.version}`.padEnd(24);
  if (r.status === 'built') return `  ${label} built   in ${r.seconds.toFixed(1).padStart(6)} s`;
  const cold = r.coldBuildSeconds === undefined ? '' : `  (cold build took ${r.coldBuildSeconds.toFixed(0)} s)`;
  return `  ${label} cached  in ${r.seconds.toFixed(1).padStart(6)} s${cold}`;
}

const results: EnsureResult[] = [];
const failures: { name: ToolName; error: Error }[] = [];
await Promise.all(
  lanes.map(async (lane) => {
    for (const name of lane) {
      try {
        const r = await ensureTool(name, { log: (l) => console.log(`    [${name}] ${l}`) });
        results.push(r);
        console.log(line(r));
      } catch (err) {
        failures.push({ name, error: err as Error });
        console.log(`  ${`${name} ${TOOLS[name].version}`.padEnd(24)} FAILED`);
      }
    }
  }),
);

if (results.some((r) => r.status === 'built')) {
  // The live lines above interleave with build progress; repeat them in a fixed order.
  const order = Object.keys(TOOLS);
  console.log('env:build: summary');
  for (const r of [...results].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))) console.log(line(r));
}
console.log(`env:build: ${results.length} ready, ${failures.length} failed, ${((performance.now() - started) / 1000).toFixed(1)} s total`);
for (const f of failures) console.error(`\n${f.error.message}`);
if (failures.length > 0) process.exit(1);
