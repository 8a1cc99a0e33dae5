// File exporter: appends each item to a file, fdatasync'd before it reports ok, rotating by size.
// Without a transform each item is written length-prefixed (u32 big-endian length, then the bytes),
// so a reader can split OTLP protobuf messages; with one, its output is written as is (e.g. JSON lines).
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SextantError } from './errors.ts';
import type { ExportItem, ExportResult, Exporter } from './exporter.ts';

export interface FileExporterOptions {
  /** Target file; `{signal}` is replaced by the item's signal, e.g. `/data/otlp-{signal}.bin`. */
  path: string;
  /** Rotate when the file would grow past this. Default 100 MiB. */
  maxBytes?: number;
  /** Rotated files kept as `<path>.1` (newest) … `<path>.<n>`. Default 5. */
  maxFiles?: number;
  /** Turns an item into the bytes to write, e.g. OTLP/JSON plus '\n'. */
  transform?: (item: ExportItem) => Uint8Array | string | Promise<Uint8Array | string>;
}

interface Open { fh: FileHandle; size: number }

export function createFileExporter(options: FileExporterOptions): Exporter {
  const maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 5;
  const files = new Map<string, Open>();
  let chain: Promise<unknown> = Promise.resolve();

  const fsyncDir = async (p: string): Promise<void> => {
    const d = await open(dirname(p), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  };

  const rotate = async (path: string, f: Open): Promise<void> => {
    await f.fh.close();
    files.delete(path);
    await rm(`${path}.${maxFiles}`, { force: true });
    for (let i = maxFiles - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => undefined);
    await rename(path, maxFiles >= 1 ? `${path}.1` : `${path}.0`);
    if (maxFiles < 1) await rm(`${path}.0`, { force: true });
    await fsyncDir(path);
  };

  const write = async (item: ExportItem, data: Uint8Array): Promise<void> => {
    const path = options.path.replaceAll('{signal}', item.signal);
    let f = files.get(path);
    if (f !== undefined && f.size > 0 && f.size + data.length > maxBytes) {
      await rotate(path, f);
      f = undefined;
    }
    if (f === undefined) {
      await mkdir(dirname(path), { recursive: true });
      const fh = await open(path, 'a');
      f = { fh, size: (await fh.stat()).size };
      files.set(path, f);
      await fsyncDir(path);
    }
    await f.fh.write(data, 0, data.length);
    await f.fh.datasync();
    f.size += data.length;
  };

  return {
    name: 'file',
    async export(item): Promise<ExportResult> {
      let data: Uint8Array;
      try {
        if (options.transform === undefined) {
          const b = Buffer.allocUnsafe(4 + item.payload.length);
          b.writeUInt32BE(item.payload.length, 0);
          b.set(item.payload, 4);
          data = b;
        } else {
          const out = await options.transform(item);
          data = typeof out === 'string' ? Buffer.from(out) : out;
        }
      } catch (err) {
        return { kind: 'failure', error: new SextantError('SEXTANT_PIPELINE_EXPORT_TRANSFORM', `file exporter transform failed for a ${item.signal} item: ${(err as Error).message}`, { cause: err }) };
      }
      // Writes are serialised so rotation and size accounting stay exact.
      const run = chain.then(() => write(item, data));
      chain = run.catch(() => undefined);
      try {
        await run;
        return { kind: 'ok' };
      } catch (err) {
        // A full or failing disk may heal; the queue holds.
        return { kind: 'retryable', error: err as Error };
      }
    },
    async shutdown() {
      await chain;
      for (const f of files.values()) await f.fh.close();
      files.clear();
    },
  };
}
