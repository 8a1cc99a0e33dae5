// Config of the file exporter and the extraction rules: what is refused names the key.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { resolveTraceReceiverConfig } from '../src/index.ts';

function refusal(input: Record<string, unknown>): string {
  try {
    resolveTraceReceiverConfig(input);
  } catch (err) {
    return `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
  }
  return 'accepted';
}

void test('exporter.type file needs exporter.file.path; the network types need an http(s) endpoint', (t: TestContext) => {
  t.assert.match(refusal({ exporter: { type: 'file' } }), /SEXTANT_TRACES_CONFIG: exporter\.file\.path is undefined/);
  t.assert.match(refusal({ exporter: { type: 'otlp_grpc' } }), /SEXTANT_TRACES_CONFIG: exporter\.endpoint is undefined/);
  t.assert.match(refusal({ exporter: { type: 'otlp_http', endpoint: 'ftp://x' } }), /exporter\.endpoint is "ftp:\/\/x"/);
  const cfg = resolveTraceReceiverConfig({ exporter: { type: 'file', file: { path: '/data/{signal}.bin', maxBytes: '1Mi' } } });
  t.assert.deepEqual(cfg.exporter.file, { path: '/data/{signal}.bin', maxBytes: 1024 * 1024, maxFiles: 5 });
});

void test('kube.rules: the enrichment\'s rule shape; exactly one of key and keyRegex, a valid regex, known from/source', (t: TestContext) => {
  const rules = [
    { from: 'pod', source: 'label', key: 'tier' },
    { from: 'namespace', source: 'annotation', keyRegex: 'owner\\.(.*)', tagName: 'owner.$1' },
  ];
  const got = resolveTraceReceiverConfig({ exporter: { endpoint: 'http://x:4317' }, kube: { rules } }).kube.rules;
  t.assert.deepEqual(JSON.parse(JSON.stringify(got)), rules);
  t.assert.match(refusal({ exporter: { endpoint: 'http://x:4317' }, kube: { rules: [{ from: 'pod', source: 'label' }] } }), /kube\.rules\[0\].*exactly one of key and keyRegex/);
  t.assert.match(refusal({ exporter: { endpoint: 'http://x:4317' }, kube: { rules: [{ from: 'pod', source: 'label', key: 'a', keyRegex: 'b' }] } }), /kube\.rules\[0\]/);
  t.assert.match(refusal({ exporter: { endpoint: 'http://x:4317' }, kube: { rules: [{ from: 'pod', source: 'label', keyRegex: '(' }] } }), /kube\.rules\[0\]\.keyRegex: "\(" is not a valid regular expression/);
  t.assert.match(refusal({ exporter: { endpoint: 'http://x:4317' }, kube: { rules: [{ from: 'service', source: 'label', key: 'a' }] } }), /kube\.rules.*from/);
});
