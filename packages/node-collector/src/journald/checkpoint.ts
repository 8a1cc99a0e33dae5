// Durable journald positions: per journal file (by its header file_id) the index and seqnum of the last entry
// whose batch was acknowledged, plus that entry's cursor for humans. The collector's own checkpoint store is
// keyed by device + inode and byte offsets, which do not fit a journal (archiving renames, and a position is an
// entry, not a byte), so this is a small store of its own, written the same way: temp file, fsync, rename, fsync
// of the directory (ARCHITECTURE.md "Delivery contract" 3).
import type { FilePosition } from './directory.ts';
import { JournalError } from './errors.ts';
import { readCheckpointJson, writeFileAtomic } from '../checkpoints.ts';

const FILE = 'journald.json';

interface SavedPosition extends FilePosition {
  fileId: string;
  cursor: string;
  path: string;
}

interface JournalCheckpoint {
  load(): Promise<Map<string, SavedPosition>>;
  set(p: SavedPosition): void;
  /** Forgets files that are no longer on disk. */
  retain(fileIds: Set<string>): void;
  /** Writes now if anything changed; concurrent calls are coalesced. */
  persist(): Promise<void>;
  /** The last cursor written, for status and tests. */
  lastCursor(): string | undefined;
}

class FileJournalCheckpoint implements JournalCheckpoint {
  private readonly dir: string;
  private readonly entries = new Map<string, SavedPosition>();
  private dirty = false;
  private writing: Promise<void> | undefined;
  private last: string | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  async load(): Promise<Map<string, SavedPosition>> {
    type Saved = { fileId?: unknown; index?: unknown; seqnum?: unknown; cursor?: unknown; path?: unknown };
    const parsed = (await readCheckpointJson(this.dir, FILE, (e) => new JournalError('SEXTANT_COLLECTOR_JOURNAL_CONFIG', `checkpoint directory ${this.dir} cannot be created (${String(e)})`, { cause: e }))) as { files?: Saved[]; cursor?: unknown } | null | undefined;
    const files = Array.isArray(parsed?.files) ? parsed.files : [];
    for (const f of files) {
      if (typeof f === 'object' && f !== null && typeof f.fileId === 'string' && typeof f.index === 'number' && typeof f.seqnum === 'string' && /^\d+$/.test(f.seqnum)) {
        this.entries.set(f.fileId, { fileId: f.fileId, index: f.index, seqnum: BigInt(f.seqnum), cursor: typeof f.cursor === 'string' ? f.cursor : '', path: typeof f.path === 'string' ? f.path : '' });
      }
    }
    if (typeof parsed?.cursor === 'string') this.last = parsed.cursor;
    return new Map(this.entries);
  }

  set(p: SavedPosition): void {
    const old = this.entries.get(p.fileId);
    if (old !== undefined && old.index === p.index && old.seqnum === p.seqnum && old.path === p.path) return;
    this.entries.set(p.fileId, p);
    this.last = p.cursor;
    this.dirty = true;
  }

  retain(fileIds: Set<string>): void {
    for (const id of [...this.entries.keys()]) {
      if (!fileIds.has(id)) {
        this.entries.delete(id);
        this.dirty = true;
      }
    }
  }

  lastCursor(): string | undefined {
    return this.last;
  }

  async persist(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const p = this.write();
    this.writing = p;
    try {
      await p;
    } catch (e) {
      this.dirty = true;
      throw e;
    } finally {
      this.writing = undefined;
    }
  }

  private async write(): Promise<void> {
    const files = [...this.entries.values()].map((e) => ({ fileId: e.fileId, index: e.index, seqnum: e.seqnum.toString(), cursor: e.cursor, path: e.path }));
    const body = JSON.stringify({ version: 1, cursor: this.last, files });
    await writeFileAtomic(this.dir, FILE, body);
  }
}

function createJournalCheckpoint(dir: string): JournalCheckpoint {
  return new FileJournalCheckpoint(dir);
}

export { createJournalCheckpoint };
export type { JournalCheckpoint, SavedPosition };
