// writeFileAtomic / writeFileAtomicSync: the target holds either the old or the complete new content,
// and no temporary file survives a failed write.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { temporaryPathFor, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

const directory = mkdtempSync(join(tmpdir(), 'tcpade-atomic-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/** Chunks that fail after the first one, as a serializer hitting bad data would. */
function* failingChunks(): Generator<Uint8Array> {
  yield new Uint8Array([1, 2, 3]);
  throw new Error('serialization failed midway');
}

function leftoverTempFiles(): string[] {
  return readdirSync(directory).filter((name) => name.includes('.tmp-'));
}

const writers = [
  { name: 'writeFileAtomic', write: writeFileAtomic },
  { name: 'writeFileAtomicSync', write: async (path: string, data: Parameters<typeof writeFileAtomicSync>[1]) => writeFileAtomicSync(path, data) },
];

for (const { name, write } of writers) {
  describe(name, () => {
    it('writes strings as UTF-8, bytes as given, and chunk sequences concatenated', async () => {
      const path = join(directory, `${name}-kinds`);
      await write(path, 'héllo');
      assert.equal(readFileSync(path, 'utf8'), 'héllo');
      await write(path, new Uint8Array([0, 255, 7]));
      assert.deepEqual([...readFileSync(path)], [0, 255, 7]);
      await write(path, [new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])]);
      assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
      assert.deepEqual(leftoverTempFiles(), []);
    });

    it('leaves the old file untouched and no temp file when serialization throws midway', async () => {
      const path = join(directory, `${name}-old`);
      writeFileSync(path, 'good old content');
      await assert.rejects(write(path, failingChunks()), /serialization failed midway/);
      assert.equal(readFileSync(path, 'utf8'), 'good old content');
      assert.deepEqual(leftoverTempFiles(), []);
    });

    it('removes the temp file when the final rename fails (target is a non-empty directory)', async () => {
      const path = join(directory, `${name}-dir`);
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, 'inside'), 'x');
      await assert.rejects(write(path, 'data'));
      assert.equal(readFileSync(join(path, 'inside'), 'utf8'), 'x');
      assert.deepEqual(leftoverTempFiles(), []);
    });

    it('fails cleanly when the directory does not exist', async () => {
      await assert.rejects(write(join(directory, 'missing', 'file'), 'data'), { code: 'ENOENT' });
    });
  });
}

describe('temporaryPathFor', () => {
  it('names a sibling of the target, unique per call', () => {
    const a = temporaryPathFor('/some/dir/model.safetensors');
    const b = temporaryPathFor('/some/dir/model.safetensors');
    assert.match(a, new RegExp(`^/some/dir/model\\.safetensors\\.tmp-${process.pid}-[0-9a-f]{12}$`));
    assert.notEqual(a, b);
  });
});
