import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { TINY_WHISPER_TEXT } from './models/whisper-ggml.ts';

/**
 * Privacy as a test: the audio JARVIS hears never lands on disk, and what was said is not printed where it would be
 * kept. The real daemon hears a spoken request on its "microphone" (raw PCM on stdin) and answers it, its output going
 * to a pipe as a service's goes to the journal; then every file in its data folder, its HOME and its temp folder is
 * checked for audio (a WAV/RIFF, Ogg, FLAC or MP3 header, or an audio file name), and its output for the words.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-privacy-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const AUDIO_NAME = /\.(wav|pcm|raw|s16|ogg|oga|opus|flac|mp3|webm|m4a)$/i;
const AUDIO_MAGIC = ['RIFF', 'OggS', 'fLaC', 'ID3'];

function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

function looksLikeAudio(file: string): boolean {
  if (AUDIO_NAME.test(file)) return true;
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  return AUDIO_MAGIC.some((magic) => head.toString('latin1').startsWith(magic));
}

test('a spoken request is heard, transcribed and answered; no audio of it is written anywhere, and its words are not in the output a journal would keep', async () => {
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(tmp, { recursive: true });
  const config = await testModelsConfig({ conversation: { followUpMs: 0 } });
  const daemon = runJarvis(['-c', config, 'start', '--input', '-', '--output', 'none'], {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    TMPDIR: tmp,
    JARVIS_DATA_DIR: dataDir,
  });
  await daemon.waitFor((l) => l.includes('listening to raw s16le'), 120_000, 'listening');
  const request = concat(silence(500), await speak('hey jarvis, what time is it', { engine: 'espeak', voice: 'en-us' }), silence(2500));
  daemon.child.stdin!.write(Buffer.from(request.buffer, request.byteOffset, request.byteLength));
  await daemon.waitFor((l) => / run end: answered /.test(l), 60_000, 'the answered turn');
  daemon.child.stdin!.end();
  assert.equal(await daemon.exit, 0, daemon.stderr.slice(-5).join('\n'));
  const output = [...daemon.stdout, ...daemon.stderr].join('\n');
  assert.match(output, / transcript \(2 words\) /, 'the request was transcribed (the test-made Whisper says "test-made model")');
  assert.match(output, / sentence 1: \(\d+ words?\)/, 'and answered, the answer printed as a count too');
  assert.ok(!output.includes(TINY_WHISPER_TEXT), 'the transcript\'s words are not printed');

  const written = [home, tmp, dataDir].flatMap(filesUnder);
  assert.ok(written.some((f) => f.endsWith('jarvis.db')), 'the data folder was used');
  const audio = written.filter(looksLikeAudio);
  assert.deepEqual(audio, [], 'no audio on disk');
});
