// Durable read offsets, keyed by device + inode, with a fingerprint of the file's first bytes to tell inode reuse.
// Written atomically: temp file, fsync, rename, fsync of the directory (ARCHITECTURE.md "Delivery contract" 3).
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { collectorError } from './errors.ts';

interface CheckpointEntry {
  dev: string;
  ino: string;
  /** Last known path, for humans. */
  path: string;
  /** Every byte before this was delivered (acked). */
  offset: number;
  /** Hex of the first bytes of the file (up to the fingerprint size). */
  fp: string;
  /** Streams (1 stdout, 2 stderr) whose parts up to their next F at `offset` belong to delivered records. */
  skip?: number;
}

interface CheckpointStore {
  load(): Promise<Map<string, CheckpointEntry>>;
  set(e: CheckpointEntry): void;
  delete(key: string): void;
  /** Writes now if anything changed, coalescing concurrent calls. */
  persist(): Promise<void>;
  /** Writes soon (after `intervalMs`), coalescing calls. */
  schedule(): void;
  shutdown(): Promise<void>;
}

const FILE = 'checkpoints.json';

function checkpointKey(dev: string | bigint, ino: string | bigint): string {
  return `${dev}:${ino}`;
}

class FileCheckpointStore implements CheckpointStore {
  private readonly dir: string;
  private readonly intervalMs: number;
  private readonly entries = new Map<string, CheckpointEntry>();
  private dirty = false;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onWrite: (ok: boolean) => void;

  constructor(dir: string, intervalMs: number, onWrite: (ok: boolean) => void) {
    this.dir = dir;
    this.intervalMs = intervalMs;
    this.onWrite = onWrite;
  }

  async load(): Promise<Map<string, CheckpointEntry>> {
    const parsed = (await readCheckpointJson(this.dir, FILE, (e) => collectorError('SEXTANT_COLLECTOR_CHECKPOINT_DIR', `${this.dir} (${String(e)})`, e))) as { version?: number; files?: CheckpointEntry[] } | null | undefined;
    const files = Array.isArray(parsed?.files) ? parsed.files : [];
    for (const e of files) {
      if (typeof e === 'object' && e !== null && typeof e.dev === 'string' && typeof e.ino === 'string' && typeof e.offset === 'number' && typeof e.fp === 'string') {
        this.entries.set(checkpointKey(e.dev, e.ino), e);
      }
    }
    return new Map(this.entries);
  }

  set(e: CheckpointEntry): void {
    const key = checkpointKey(e.dev, e.ino);
    const old = this.entries.get(key);
    if (old !== undefined && old.offset === e.offset && old.path === e.path && old.fp === e.fp && old.skip === e.skip) return;
    this.entries.set(key, e);
    this.dirty = true;
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.dirty = true;
  }

  schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.persist().catch(() => undefined);
    }, this.intervalMs);
  }

  async persist(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const p = this.write();
    this.writing = p;
    try {
      await p;
      this.onWrite(true);
    } catch (e) {
      this.dirty = true;
      this.onWrite(false);
      throw e;
    } finally {
      this.writing = undefined;
    }
  }

  async shutdown(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.persist();
  }

  private async write(): Promise<void> {
    const body = JSON.stringify({ version: 1, files: [...this.entries.values()] });
    await writeFileAtomic(this.dir, FILE, body);
  }
}

/**
 * Creates `dir` and reads `dir/name` as JSON: undefined when the file is missing or unreadable
 * (writeFileAtomic's rename makes a torn file impossible). A directory that cannot be created
 * throws what `dirError` makes of the cause.
 */
async function readCheckpointJson(dir: string, name: string, dirError: (cause: unknown) => Error): Promise<unknown> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw dirError(e);
  }
  let text: string;
  try {
    text = await readFile(join(dir, name), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Writes dir/name atomically and durably: temp file, fsync, rename, fsync of the directory (LESSONS.md "Checkpoints"). */
async function writeFileAtomic(dir: string, name: string, body: string): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(body, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

function createCheckpointStore(dir: string, intervalMs: number, onWrite: (ok: boolean) => void = () => undefined): CheckpointStore {
  return new FileCheckpointStore(dir, intervalMs, onWrite);
}

export { createCheckpointStore, checkpointKey, readCheckpointJson, writeFileAtomic };
export type { CheckpointStore, CheckpointEntry };
