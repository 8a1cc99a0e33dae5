// A log writer process for the stress tests: writes sequence-numbered CRI lines at a given rate into
// <dir>/0.log and rotates the file the way kubelet does (rename to 0.log.<YYYYMMDD-hhmmss>, new 0.log, the newest
// rotation stays plain, older ones are gzipped and the plain file deleted, at most `keep` files), with phases of
// copytruncate and of deleting a rotated file at once. Usage: node writer.ts '<json WriterOptions>'.
// Prints one JSON line at the end: { lines, rotations }.
import { closeSync, copyFileSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expectedBody } from './lines.ts';

import type { Rotation, WriterOptions } from './lines.ts';

function main(): void {
  const o = JSON.parse(process.argv[2] ?? '{}') as WriterOptions;
  const live = join(o.dir, '0.log');
  let fd = openSync(live, 'a');
  let size = 0;
  let n = 0;
  let rotations = 0;
  let clock = Date.UTC(2026, 10, 24, 6, 0, 0);
  const stamp = (): string => {
    clock += 1000;
    const d = new Date(clock);
    const p = (x: number, w = 2) => String(x).padStart(w, '0');
    return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  };
  const lineFor = (i: number): string => {
    const ts = new Date(Date.UTC(2026, 10, 24, 6, 0, 0) + Math.floor(i / 1000)).toISOString().slice(0, 19) + `.${String(i % 1_000_000_000).padStart(9, '0')}Z`;
    const stream = i % 2 === 0 ? 'stdout' : 'stderr';
    const body = expectedBody(o.id, i);
    if (i % 5 === 0 && body.length > 12) {
      // split into P + F, with the split falling inside the body (sometimes right after a space)
      const cut = 6 + (i % 6);
      return `${ts} ${stream} P ${body.slice(0, cut)}\n${ts} ${stream} F ${body.slice(cut)}\n`;
    }
    return `${ts} ${stream} F ${body}\n`;
  };
  const compress = (): void => {
    const rotated = readdirSync(o.dir).filter((f) => /^0\.log\.\d{8}-\d{6}$/.test(f)).sort();
    for (const f of rotated.slice(0, -1)) {
      const p = join(o.dir, f);
      writeFileSync(`${p}.gz`, gzipSync(readFileSync(p)));
      unlinkSync(p);
    }
    const all = readdirSync(o.dir).filter((f) => f.startsWith('0.log.')).sort();
    // the live file counts as one of `keep`
    for (const f of all.slice(0, Math.max(0, all.length - (o.keep - 1)))) unlinkSync(join(o.dir, f));
  };
  const rotate = (how: Rotation): void => {
    rotations++;
    const target = `${live}.${stamp()}`;
    if (how === 'copytruncate') {
      copyFileSync(live, target);
      ftruncateSync(fd, 0);
    } else {
      renameSync(live, target);
      const fresh = openSync(live, 'a');
      for (let k = 0; k < o.lateLines; k++) writeSync(fd, lineFor(n++));
      closeSync(fd);
      fd = fresh;
      if (how === 'rename-delete') unlinkSync(target);
    }
    size = 0;
    compress();
  };
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((o.linesPerSecond * tickMs) / 1000));
  let phase = 0;
  let inPhase = 0;
  const tick = (): void => {
    const p = o.phases[phase];
    if (p === undefined) {
      closeSync(fd);
      process.stdout.write(`${JSON.stringify({ lines: n, rotations })}\n`);
      return;
    }
    let chunk = '';
    for (let k = 0; k < perTick && inPhase < p.lines; k++, inPhase++) chunk += lineFor(n++);
    // kubelet writes nothing itself; the runtime writes whole lines, so a chunk of whole lines is one write
    const b = Buffer.from(chunk);
    writeSync(fd, b);
    size += b.length;
    if (size >= o.rotateBytes) rotate(p.rotation);
    if (inPhase >= p.lines) {
      phase++;
      inPhase = 0;
    }
    setTimeout(tick, tickMs);
  };
  tick();
}

main();
