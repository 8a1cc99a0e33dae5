// The embedded-store candidate for the durable queue, kept here only to be measured against the
// segment log (packages/pipeline/src/queue.ts). node:sqlite in WAL mode with synchronous=FULL, and the
// same group commit: enqueues that arrive while the event loop is busy share one transaction.
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { join } from 'node:path';

interface Pending { signal: string; payload: Uint8Array; meta: string | null; resolve: (id: number) => void; reject: (e: unknown) => void }

export interface SqliteQueue {
  enqueue(item: { signal: string; payload: Uint8Array; meta?: unknown }): Promise<number>;
  /** Reads up to `max` oldest items and deletes them in one transaction (a consumer that acks at once). */
  drain(max: number): number;
  close(): void;
}

export function createSqliteQueue(dir: string): SqliteQueue {
  const db = new DatabaseSync(join(dir, 'queue.db'));
  db.exec('PRAGMA journal_mode=WAL');
  db.exec('PRAGMA synchronous=FULL');
  db.exec('CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, signal TEXT NOT NULL, meta TEXT, payload BLOB NOT NULL, enqueued_at REAL NOT NULL)');
  const insert: StatementSync = db.prepare('INSERT INTO items (signal, meta, payload, enqueued_at) VALUES (?, ?, ?, ?)');
  const select: StatementSync = db.prepare('SELECT id, payload FROM items ORDER BY id LIMIT ?');
  const del: StatementSync = db.prepare('DELETE FROM items WHERE id <= ?');
  let pending: Pending[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const batch = pending;
    pending = [];
    const ids: number[] = [];
    try {
      db.exec('BEGIN');
      const now = Date.now();
      for (const p of batch) ids.push(Number(insert.run(p.signal, p.meta, p.payload, now).lastInsertRowid));
      db.exec('COMMIT');
    } catch (err) {
      try { db.exec('ROLLBACK'); } catch { /* already rolled back */ }
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => p.resolve(ids[i] ?? -1));
  };
  return {
    enqueue(item) {
      return new Promise<number>((resolve, reject) => {
        pending.push({ signal: item.signal, payload: item.payload, meta: item.meta === undefined ? null : JSON.stringify(item.meta), resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    drain(max) {
      const rows = select.all(max) as Array<{ id: number; payload: Uint8Array }>;
      const last = rows.at(-1);
      if (last === undefined) return 0;
      db.exec('BEGIN');
      del.run(last.id);
      db.exec('COMMIT');
      return rows.length;
    },
    close() {
      db.close();
    },
  };
}
