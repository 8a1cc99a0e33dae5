// The OpenTelemetry Collector as a reference backend: by default an OTLP receiver (gRPC +
// HTTP on free loopback ports) feeding a file exporter that writes one OTLP JSON request
// per line, which tests read back.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { freePort, onProcessExit, spawnManaged, waitForPort } from './proc.ts';
import { ensureTool } from './tools.ts';

/** One line of the file exporter's output: an OTLP/JSON export request. */
export interface OtlpJsonLine {
  readonly resourceLogs?: readonly unknown[];
  readonly resourceSpans?: readonly unknown[];
  readonly resourceMetrics?: readonly unknown[];
  readonly [key: string]: unknown;
}

export interface StartOtelCollectorOptions {
  /**
   * Collector config (object or YAML). Default: otlp receiver → file exporter for logs,
   * traces and metrics. A custom config can use `${env:SEXTANT_OTLP_GRPC_ENDPOINT}`,
   * `${env:SEXTANT_OTLP_HTTP_ENDPOINT}` and `${env:SEXTANT_OTEL_OUTPUT}` (the file readOutput() reads).
   */
  readonly config?: object | string;
  /** Extra environment for the collector process. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the receivers' ports. Default 30 000 ms. */
  readonly readyTimeoutMs?: number;
}

export interface OtelCollector {
  /** `127.0.0.1:<port>` of the OTLP gRPC receiver. */
  readonly grpcEndpoint: string;
  /** `http://127.0.0.1:<port>` of the OTLP/HTTP receiver (POST /v1/logs, /v1/traces, /v1/metrics). */
  readonly httpEndpoint: string;
  /** The file the file exporter writes (JSON lines). */
  readonly outputPath: string;
  readonly configPath: string;
  readonly logPath: string;
  /** Parses every complete line written so far. */
  readOutput(): Promise<OtlpJsonLine[]>;
  /** Polls readOutput() until `predicate` holds; rejects after timeoutMs (default 15 000). */
  waitFor(predicate: (lines: OtlpJsonLine[]) => boolean, timeoutMs?: number): Promise<OtlpJsonLine[]>;
  stop(): Promise<void>;
}

/** Path of the cached otelcol binary (built on first use), e.g. for benchmarks. */
export async function otelcolBin(): Promise<string> {
  return (await ensureTool('otelcol')).path;
}

function defaultConfig(): object {
  const pipeline = { receivers: ['otlp'], exporters: ['file'] };
  return {
    receivers: {
      otlp: {
        protocols: {
          grpc: { endpoint: '${env:SEXTANT_OTLP_GRPC_ENDPOINT}' },
          http: { endpoint: '${env:SEXTANT_OTLP_HTTP_ENDPOINT}' },
        },
      },
    },
    exporters: {
      file: { path: '${env:SEXTANT_OTEL_OUTPUT}', format: 'json', flush_interval: '100ms' },
    },
    service: {
      // No self-metrics listener (it would bind a fixed port shared by every collector).
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
      pipelines: { logs: pipeline, traces: pipeline, metrics: pipeline },
    },
  };
}

export async function startOtelCollector(opts: StartOtelCollectorOptions = {}): Promise<OtelCollector> {
  const bin = await otelcolBin();
  const dir = mkdtempSync(join(tmpdir(), 'sextant-otelcol-'));
  const removeDirOnExit = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  const [grpcPort, httpPort] = await Promise.all([freePort(), freePort()]);
  const outputPath = join(dir, 'output.jsonl');
  const configPath = join(dir, 'config.yaml');
  const configText = typeof opts.config === 'string' ? opts.config : toYaml(opts.config ?? defaultConfig());
  writeFileSync(configPath, configText);
  const logPath = join(dir, 'otelcol.log');
  const proc = spawnManaged('otelcol', bin, [`--config=file:${configPath}`], logPath, {
    env: {
      ...process.env,
      ...opts.env,
      SEXTANT_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
      SEXTANT_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
      SEXTANT_OTEL_OUTPUT: outputPath,
    },
    ownedPaths: [dir],
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await proc.stop();
    removeDirOnExit();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const timeout = opts.readyTimeoutMs ?? 30_000;
    if (configText.includes('SEXTANT_OTLP_GRPC_ENDPOINT')) await waitForPort(grpcPort, timeout, proc);
    if (configText.includes('SEXTANT_OTLP_HTTP_ENDPOINT')) await waitForPort(httpPort, timeout, proc);
  } catch (err) {
    await stop();
    throw err;
  }
  const readOutput = async (): Promise<OtlpJsonLine[]> => {
    const text = await readFile(outputPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    // Only complete lines: the exporter may be mid-write.
    const lines = text.split('\n').slice(0, -1).filter((l) => l.trim() !== '');
    return lines.map((l) => JSON.parse(l) as OtlpJsonLine);
  };
  return {
    grpcEndpoint: `127.0.0.1:${grpcPort}`,
    httpEndpoint: `http://127.0.0.1:${httpPort}`,
    outputPath,
    configPath,
    logPath,
    readOutput,
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const lines = await readOutput();
        if (predicate(lines)) return lines;
        if (proc.hasExited()) throw new Error(`otelcol exited while waiting for output\n--- ${logPath} ---\n${proc.logTail()}`);
        if (Date.now() > deadline) {
          throw new Error(`otelcol: output did not match within ${timeoutMs} ms (${lines.length} lines so far)\n--- ${logPath} ---\n${proc.logTail()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
