// @sextant/test-env: the real tools the tests run against. See README.md.
export { startCluster } from './cluster.ts';
export type { Cluster, StartClusterOptions } from './cluster.ts';
export { helm, helmBin } from './helm.ts';
export type { HelmOptions, HelmResult } from './helm.ts';
export { analyzeNetworkPolicies, parseVerdictTable } from './cyclonus.ts';
export type { AnalyzeOptions, Connection, ExternalPeer, PodPeer, Verdict } from './cyclonus.ts';
export { otelcolBin, startOtelCollector } from './otelcol.ts';
export type { OtelCollector, OtlpJsonLine, StartOtelCollectorOptions } from './otelcol.ts';
export { freePort, onProcessExit, waitForPort } from './proc.ts';
export { CACHE_DIR, REPO_ROOT, TOOLS, ensureTool, toolPath } from './tools.ts';
export type { EnsureResult, ToolName } from './tools.ts';
export { createTestPki } from './pki.ts';
export type { TestCa, TestCert, TestLeafOptions, TestPki } from './pki.ts';
