// Properties of the parser on generated CRI content (seeded, so a failure can be replayed):
// 1. reading in chunks of any size gives exactly the records of one read (joins survive any pause);
// 2. restarting from any record's resumeOffset (and resumeSkip) with a fresh parser loses nothing and invents
//    nothing: it yields exactly a suffix of the records that includes every record after that one (the checkpoint
//    never skips an unfinished join, and a delivered join's tail never comes back as a record of its own).
import { test } from 'node:test';
import { FileParser } from '../src/index.ts';
import type { ParsedRecord } from '../src/index.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['a', 'bc', ' ', '  ', 'é', '日本', '\t', 'x'.repeat(50), '🙂', 'end '];

function generate(seed: number, lines: number): Buffer {
  const r = rng(seed);
  const out: string[] = [];
  const open = { stdout: false, stderr: false };
  for (let i = 0; i < lines; i++) {
    const ts = `2026-11-24T06:15:${String(Math.floor(r() * 60)).padStart(2, '0')}.${String(Math.floor(r() * 1e9)).padStart(9, '0')}Z`;
    if (r() < 0.03) {
      out.push(`garbage line ${i} `);
      continue;
    }
    const stream = r() < 0.5 ? 'stdout' : 'stderr';
    const partial = r() < 0.35;
    open[stream] = partial;
    let msg = '';
    const n = Math.floor(r() * 6);
    for (let k = 0; k < n; k++) msg += WORDS[Math.floor(r() * WORDS.length)] ?? '';
    out.push(`${ts} ${stream} ${partial ? 'P' : 'F'} ${msg}`);
  }
  if (open.stdout) out.push('2026-11-24T06:16:00Z stdout F closing');
  if (open.stderr) out.push('2026-11-24T06:16:00Z stderr F closing');
  return Buffer.from(out.join('\n') + '\n');
}

interface Rec {
  body: string;
  stream: string;
  time: string;
  resume: number;
  skip: number;
  flags: string;
}

function parse(data: Buffer, from: number, chunkSizes: () => number, maxRecordBytes = 1 << 20, skip = 0): Rec[] {
  const hooks = { onTruncated: () => undefined, onSkippedBytes: () => undefined, onParseError: () => undefined, onInvalidUtf8: () => undefined };
  const p = new FileParser({ maxRecordBytes, hooks });
  p.setResumeSkip(skip);
  const out: Rec[] = [];
  const emit = (x: ParsedRecord): void => {
    out.push({
      body: Buffer.from(x.body).toString('hex'),
      stream: x.stream ?? '-',
      time: x.timeUnixNano.toString(),
      resume: x.resumeOffset,
      skip: x.resumeSkip,
      flags: `${x.truncated ? 'T' : ''}${x.parseError ? 'E' : ''}${x.invalidUtf8 ? 'U' : ''}`,
    });
  };
  const buf = Buffer.alloc(8192);
  let off = from;
  while (off < data.length) {
    const n = Math.min(chunkSizes(), buf.length, data.length - off);
    data.copy(buf, 0, off, off + n);
    p.push(buf, n, off, 0n, emit);
    off += n;
  }
  return out;
}

const strip = (rs: Rec[]): Omit<Rec, 'resume' | 'skip'>[] => rs.map(({ resume: _r, skip: _s, ...rest }) => rest);

void test('chunked reads give the same records as one read, for any chunk sizes', (t) => {
  for (let seed = 1; seed <= 30; seed++) {
    const data = generate(seed, 300);
    const whole = parse(data, 0, () => data.length);
    const r = rng(seed * 7919);
    const chunked = parse(data, 0, () => 1 + Math.floor(r() * (r() < 0.5 ? 16 : 3000)));
    t.assert.deepEqual(strip(chunked), strip(whole), `seed ${seed}`);
    t.assert.deepEqual(chunked.map((x) => x.resume), whole.map((x) => x.resume), `seed ${seed}: resume offsets`);
  }
});

void test('restarting from any record resumeOffset loses no later record, repeats only whole earlier ones', (t) => {
  for (let seed = 100; seed < 130; seed++) {
    const data = generate(seed, 200);
    const whole = parse(data, 0, () => data.length);
    const r = rng(seed);
    for (let trial = 0; trial < 10; trial++) {
      const k = Math.floor(r() * whole.length);
      const resume = whole[k]?.resume ?? 0;
      const again = parse(data, resume, () => 1 + Math.floor(r() * 500), 1 << 20, whole[k]?.skip ?? 0);
      const later = whole.length - (k + 1);
      t.assert.equal(again.length >= later, true, `seed ${seed} record ${k}: ${again.length} records from ${resume}, ${later} needed`);
      // every record after k, in order, at the end; before them only whole records already delivered (duplicates)
      t.assert.deepEqual(strip(again.slice(again.length - later)), strip(whole.slice(k + 1)), `seed ${seed} record ${k}`);
      const delivered = new Set(strip(whole.slice(0, k + 1)).map((x) => JSON.stringify(x)));
      for (const x of strip(again.slice(0, again.length - later))) t.assert.equal(delivered.has(JSON.stringify(x)), true, `seed ${seed} record ${k}: no fragment ${JSON.stringify(x)}`);
    }
  }
});

void test('the size cap cuts on UTF-8 boundaries whatever the chunking', (t) => {
  for (let seed = 200; seed < 215; seed++) {
    const data = generate(seed, 300);
    const whole = parse(data, 0, () => data.length, 40);
    const r = rng(seed);
    const chunked = parse(data, 0, () => 1 + Math.floor(r() * 64), 40);
    t.assert.deepEqual(strip(chunked), strip(whole), `seed ${seed}`);
    for (const x of whole) {
      const b = Buffer.from(x.body, 'hex');
      t.assert.equal(b.length <= 40, true);
      t.assert.equal(b.toString('utf8').includes('\ufffd'), false, `seed ${seed}: no replacement character from a cut`);
    }
  }
});
