// The `metrics` config section: defaults, snake_case YAML, environment, and coded errors naming the bad value.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { resolveConfig } from '../src/index.ts';

const base = { endpoints: ['127.0.0.1:24321'], nodeName: 'node-a' };

void test('metrics: off without the section; defaults once present; env HOST_IP names the kubelet', (t: TestContext) => {
  t.assert.equal(resolveConfig(base, {}).metrics, false);
  t.assert.deepStrictEqual(resolveConfig({ ...base, metrics: {} }, {}).metrics, {
    intervalMs: 30000,
    path: '/v1/metrics',
    host: { procRoot: '/proc', sysRoot: '/sys', rootfs: undefined },
    kubelet: false,
  });
  const m = resolveConfig(
    { ...base, metrics: { interval_seconds: 10, host: { proc_root: '/host/proc', sys_root: '/host/sys', rootfs: '/hostfs' }, kubelet: { insecure_skip_verify: true } } },
    { HOST_IP: '10.1.2.3' },
  ).metrics;
  t.assert.deepStrictEqual(m, {
    intervalMs: 10000,
    path: '/v1/metrics',
    host: { procRoot: '/host/proc', sysRoot: '/host/sys', rootfs: '/hostfs' },
    kubelet: {
      endpoint: 'https://10.1.2.3:10250',
      insecureSkipVerify: true,
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      timeoutMs: 10000,
    },
  });
  // no IP in the environment: the node name; IPv6 in brackets
  const k = (env: NodeJS.ProcessEnv): string | undefined => {
    const r = resolveConfig({ ...base, metrics: { kubelet: { port: 10255 }, host: false } }, env).metrics;
    return r === false || r.kubelet === false ? undefined : r.kubelet.endpoint;
  };
  t.assert.equal(k({}), 'https://node-a:10255');
  t.assert.equal(k({ NODE_IP: 'fd00::1' }), 'https://[fd00::1]:10255');
  t.assert.equal(resolveConfig({ ...base, metrics: { enabled: false, kubelet: true } }, {}).metrics, false);
});

void test('metrics: invalid values are refused with SEXTANT_COLLECTOR_CONFIG_INVALID naming the key', (t: TestContext) => {
  const cases: [unknown, RegExp][] = [
    [{ intervalSeconds: 0 }, /metrics\.intervalSeconds=0; valid: a number >= 0\.01/],
    [{ host: { procroot: '/x' } }, /metrics\.host\.procroot="\/x"; valid: enabled, procRoot, sysRoot, rootfs/],
    [{ kubelet: 'yes' }, /metrics\.kubelet="yes"; valid: true, false or \{/],
    [{ kubelet: { endpoint: 'http://node:10250' } }, /metrics\.kubelet\.endpoint="http:\/\/node:10250"; valid: https:\/\/host:port/],
    [{ kubelet: { insecureSkipVerify: 'true' } }, /metrics\.kubelet\.insecureSkipVerify="true"; valid: true, false/],
    [[], /metrics=\[\]/],
  ];
  for (const [metrics, msg] of cases) {
    t.assert.throws(() => resolveConfig({ ...base, metrics }, {}), (e: Error & { code?: string }) => e.code === 'SEXTANT_COLLECTOR_CONFIG_INVALID' && msg.test(e.message));
  }
});
