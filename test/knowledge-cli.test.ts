import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runJarvis } from './fixtures/cli.ts';
import { writeDocumentSet, writeTroubleFiles } from './fixtures/documents.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';

/** `jarvis docs` as a user runs it (bin/jarvis.js), with the test-made embedding model (random vectors). */

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('jarvis docs add reads a folder with progress and says what it skipped and why; list shows it; forget deletes every trace', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-docs-cli-'));
  dirs.push(root);
  const docs = path.join(root, 'docs');
  await writeDocumentSet(docs);
  writeTroubleFiles(docs, path.join(root, 'outside'));
  const data = path.join(root, 'data');
  const env = { JARVIS_DATA_DIR: data, JARVIS_KNOWLEDGE__MODEL: await ensureTinyGguf(), JARVIS_KNOWLEDGE__GPU: 'cpu', JARVIS_LOG__LEVEL: 'warn', JARVIS_KNOWLEDGE__NICENESS: '0' };

  const add = runJarvis(['docs', 'add', docs], env);
  assert.equal(await add.exit, 0, add.stderr.join('\n'));
  assert.match(add.stdout.join('\n'), /Added .*docs: 5 document\(s\), \d+ passages\./);
  assert.ok(add.stderr.some((line) => /^reading 12 of 12: /.test(line)), add.stderr.join('\n'));
  for (const reason of [/huge-log\.txt is 52 MB, over the 20 MB limit \(knowledge\.maxFileMb\)/, /scan-corrupt\.pdf cannot be read/, /\.env looks like it holds secrets/, /linked-diary\.md is a link to .*outside the knowledge folder/]) {
    assert.ok(add.stdout.some((line) => line.includes('skipped:') && reason.test(line)), `${reason}\n${add.stdout.join('\n')}`);
  }

  const list = runJarvis(['docs', 'list', '--json'], env);
  assert.equal(await list.exit, 0, list.stderr.join('\n'));
  const listed = JSON.parse(list.stdout.join('\n')) as { folders: { path: string }[]; counts: { files: number; skipped: number } };
  assert.deepEqual(listed.folders.map((f) => f.path), [docs]);
  assert.equal(listed.counts.files, 5);
  assert.equal(listed.counts.skipped, 7);

  const forget = runJarvis(['docs', 'forget'], env);
  assert.equal(await forget.exit, 0, forget.stderr.join('\n'));
  assert.deepEqual(fs.readdirSync(data).filter((f) => f.startsWith('knowledge')), [], 'no knowledge file is left');
  assert.ok(fs.existsSync(path.join(docs, 'boiler-manual.pdf')), 'the documents themselves are untouched');
});
