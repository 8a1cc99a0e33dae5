// Decodes every frame of a zstd body: the exporter sends one pair of frames per resource
// (@sextant/otlp encodeZstdFramedLogs), and node:zlib's decoder alone stops after the first frame.
import { zstdDecompressSync } from 'node:zlib';
import { walkZstdFrames } from '@sextant/pipeline';

function zstdDecodeAll(body: Buffer): Buffer<ArrayBuffer> {
  const walk = walkZstdFrames(body);
  if (walk.kind !== 'ok') throw new Error(`zstd body is malformed: ${walk.reason}`);
  return Buffer.concat(walk.frames.map((f) => zstdDecompressSync(body.subarray(f.start, f.end))));
}

export { zstdDecodeAll };
