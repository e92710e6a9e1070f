import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTinyGguf, writeTinyGguf } from './models/tiny-gguf.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { ensureTinyWhisperModel } from './models/whisper-ggml.ts';
import { runJarvis } from './fixtures/cli.ts';
import { repoRoot } from './fixtures/speech.ts';
import { sha256, startModelMirror, type ModelMirror } from './fixtures/model-mirror.ts';

/**
 * `jarvis models …` end to end, as a user runs it, against a Hugging Face-like mirror on 127.0.0.1: list, pull
 * (with progress, resume after a cut connection, two at once), verify, use, rm, import, offline mode. The models
 * served are test-made files in the real formats (GGUF, whisper.cpp ggml, Piper ONNX), added to the catalog
 * through models.extra in the config.
 */

let mirror: ModelMirror;
let dir: string;
let configFile: string;
let modelsDir: string;
const llmBytes = buildTinyGguf({ seed: 4242, name: 'cli test llm' });

before(async () => {
  mirror = await startModelMirror();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-models-cli-'));
  modelsDir = path.join(dir, 'data', 'models');
  const whisper = fs.readFileSync(await ensureTinyWhisperModel());
  const voice = await ensureTinyPiperVoice();
  // The first download of the LLM is cut half-way: the pull must resume it.
  mirror.put('test/tiny-llm-GGUF', 'tiny-chat-Q8_0.gguf', { content: llmBytes, cutAfterBytes: 60_000, cutTimes: 1 });
  mirror.put('test/tiny-whisper', 'ggml-tiny-test.bin', { content: whisper, chunkDelayMs: 7 });
  mirror.put('test/tiny-voice', 'en_US-test_tiny-x_low.onnx', { content: fs.readFileSync(voice), chunkDelayMs: 150 });
  mirror.put('test/tiny-voice', 'en_US-test_tiny-x_low.onnx.json', { content: fs.readFileSync(`${voice}.json`), linkedSha256: null });
  // A mirror copy that is not what the catalog describes.
  mirror.put('ggerganov/whisper.cpp', 'ggml-tiny.en.bin', { content: whisper });
  configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      models: {
        baseUrl: mirror.baseUrl,
        stallTimeoutMs: 3000,
        retries: 2,
        extra: [
          { id: 'test-llm', kind: 'llm', title: 'Tiny test LLM', repo: 'test/tiny-llm-GGUF', files: [{ path: 'tiny-chat-Q8_0.gguf', bytes: llmBytes.length, sha256: sha256(llmBytes) }], licence: 'MIT', capabilities: ['chat'] },
          { id: 'test-stt', kind: 'stt', repo: 'test/tiny-whisper', files: [{ path: 'ggml-tiny-test.bin' }] },
          { id: 'test-voice', kind: 'tts', repo: 'test/tiny-voice', files: [{ path: 'en_US-test_tiny-x_low.onnx' }, { path: 'en_US-test_tiny-x_low.onnx.json' }] },
        ],
      },
    }),
  );
});

after(async () => {
  await mirror.close();
});

async function jarvis(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = runJarvis(['-c', configFile, ...args], env);
  const code = await run.exit;
  return { code, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n') };
}

function contentRequests(file: string): number {
  return mirror.requests.filter((r) => r.path.startsWith('/cdn/') && r.path.endsWith(encodeURIComponent(file))).length;
}

describe('jarvis models (CLI, loopback mirror, test-made models in the real formats)', () => {
  test('list shows the catalog and the extra models, none installed yet', async () => {
    const { code, stdout } = await jarvis(['models', 'list']);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`Models folder: ${modelsDir.replace(/[/.]/g, '\\$&')}`));
    assert.match(stdout, /llama-3\.2-1b-q4_k_m +~800 MB +Llama 3\.2 Community License/);
    assert.match(stdout, /whisper-base\.en/);
    assert.match(stdout, /piper-en_GB-alan-medium/);
    assert.match(stdout, /\n {6}test-llm +123 kB +MIT/);
    assert.match(stdout, /silero-vad-v5 .*ships with npm/);
  });

  test('pull: progress with speed and ETA, resume after the connection is cut, verified against the catalog hash', async () => {
    const { code, stdout, stderr } = await jarvis(['models', 'pull', 'test-llm', 'test-voice']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Downloading test-llm, test-voice/);
    assert.match(stdout, /✓ test-llm: tiny-chat-Q8_0\.gguf \(.* checked: catalog sha256, resumed at \d+\.\d kB\)/);
    assert.match(stdout, /✓ test-voice: en_US-test_tiny-x_low\.onnx \(5\.6 kB in .* checked: server sha256/);
    assert.match(stdout, /✓ test-voice: en_US-test_tiny-x_low\.onnx\.json \(.* checked: size and format only/);
    assert.match(stderr, /tiny-chat-Q8_0\.gguf: downloading \d+% .*B\/s, ETA /, 'progress lines with speed and ETA');
    assert.match(stderr, /tiny-chat-Q8_0\.gguf: done 100%/);
    assert.deepEqual(fs.readFileSync(path.join(modelsDir, 'tiny-chat-Q8_0.gguf')), llmBytes);
    const llmRanges = mirror.requests.filter((r) => r.path.endsWith('tiny-chat-Q8_0.gguf') && r.path.startsWith('/cdn/')).map((r) => r.range);
    assert.equal(llmRanges.length, 2, 'one cut, one resume');
    assert.match(llmRanges[1] ?? '', /^bytes=\d+-$/);
    assert.deepEqual(fs.readdirSync(modelsDir).filter((f) => !f.startsWith('.')).sort(), ['en_US-test_tiny-x_low.onnx', 'en_US-test_tiny-x_low.onnx.json', 'tiny-chat-Q8_0.gguf']);
  });

  test('pull on a terminal draws a cli-progress bar', { skip: !fs.existsSync('/usr/bin/script') && 'needs script(1) for a pseudo-terminal' }, async () => {
    const command = `stty cols 200; ${JSON.stringify(process.execPath)} bin/jarvis.js -c ${JSON.stringify(configFile)} models pull test-stt`;
    const output = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: repoRoot, env: { ...process.env, HOME: dir, COLUMNS: '160' } });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('close', () => resolve(text));
    });
    assert.match(output, /ggml-tiny-test\.bin +\|[█░]+\| \d+% [\d.]+ [kM]B\/4\.9 MB [\d.]+ [kM]B\/s ETA \d+s/);
    assert.match(output, /✓ test-stt: ggml-tiny-test\.bin \(4\.9 MB in .* checked: server sha256/);
  });

  test('two pulls of the same model at once: one download, both succeed, the file is intact', async () => {
    await jarvis(['models', 'rm', 'test-stt']);
    const before = contentRequests('ggml-tiny-test.bin');
    const [a, b] = await Promise.all([jarvis(['models', 'pull', 'test-stt']), jarvis(['models', 'pull', 'test-stt'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(contentRequests('ggml-tiny-test.bin') - before, 1, 'the second pull waited for the first');
    assert.match(`${a.stdout}\n${b.stdout}`, /finished by another download running at the same time/);
    assert.deepEqual(fs.readFileSync(path.join(modelsDir, 'ggml-tiny-test.bin')), fs.readFileSync(await ensureTinyWhisperModel()));
    assert.deepEqual(fs.readdirSync(modelsDir).filter((f) => f.startsWith('ggml-tiny-test.bin')), ['ggml-tiny-test.bin']);
  });

  test('verify checks size, hash and format; a damaged file is reported with the fix', async () => {
    const ok = await jarvis(['models', 'verify']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /✓ test-llm: tiny-chat-Q8_0\.gguf: catalog SHA-256; .*GGUF v3, \d+ tensors, llama/);
    assert.match(ok.stdout, /✓ test-stt: ggml-tiny-test\.bin: SHA-256 as verified on .*whisper\.cpp ggml, English-only/);
    const file = path.join(modelsDir, 'ggml-tiny-test.bin');
    const bytes = fs.readFileSync(file);
    const flip = () => bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    flip();
    fs.writeFileSync(file, bytes);
    const bad = await jarvis(['models', 'verify', 'test-stt']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /✘ test-stt: ggml-tiny-test\.bin: SHA-256 changed since it was verified/);
    assert.match(bad.stdout, /fix: Run `jarvis models rm test-stt` and `jarvis models pull test-stt`/);
    flip();
    fs.writeFileSync(file, bytes);
  });

  test('use makes a model active (★ in the list); rm refuses the active one unless forced', async () => {
    const use = await jarvis(['models', 'use', 'test-llm']);
    assert.equal(use.code, 0, use.stderr);
    assert.match(use.stdout, /The LLM is now test-llm/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'data', 'active-models.json'), 'utf8')), { llm: 'test-llm' });
    const list = await jarvis(['models', 'list']);
    assert.match(list.stdout, /\n {2}★✓ {2}test-llm +123 kB/);
    assert.match(list.stdout, /\n {3}✓ {2}test-stt/);

    const notInstalled = await jarvis(['models', 'use', 'llama-3.2-3b-q4_k_m']);
    assert.equal(notInstalled.code, 2);
    assert.match(notInstalled.stderr, /not downloaded yet[\s\S]*fix: Run `jarvis models pull llama-3\.2-3b-q4_k_m` first/);

    const refused = await jarvis(['models', 'rm', 'test-llm']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /test-llm is the active LLM/);
    const forced = await jarvis(['models', 'rm', 'test-llm', '--force']);
    assert.equal(forced.code, 0);
    assert.match(forced.stdout, /Removed test-llm \(\d+(\.\d)? kB freed\)/);
    assert.ok(!fs.existsSync(path.join(modelsDir, 'tiny-chat-Q8_0.gguf')));
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'data', 'active-models.json'), 'utf8')), {});
  });

  test('import brings your own GGUF in (checked, linked into the models folder) and can make it active', async () => {
    // On the same disk as the models folder, so it can be linked rather than copied.
    const own = path.join(dir, 'my-own-model.gguf');
    fs.copyFileSync(await writeTinyGguf({ seed: 77, name: 'my own model' }), own);
    const imported = await jarvis(['models', 'import', own, '--use']);
    assert.equal(imported.code, 0, imported.stderr);
    const id = `user-${path.basename(own, '.gguf')}`;
    assert.match(imported.stdout, new RegExp(`Imported ${id}: my own model \\(imported, llama\\)`));
    assert.match(imported.stdout, /The LLM is now user-/);
    const linked = path.join(modelsDir, path.basename(own));
    assert.equal(fs.statSync(linked).ino, fs.statSync(own).ino, 'a hard link, not a copy');

    const notAModel = path.join(dir, 'notes.gguf');
    fs.writeFileSync(notAModel, 'shopping list');
    const refused = await jarvis(['models', 'import', notAModel]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is not a GGUF model/);
  });

  test('a mirror copy that is not the catalog\'s file is refused, and nothing is kept', async () => {
    const { code, stderr } = await jarvis(['models', 'pull', 'whisper-tiny.en']);
    assert.equal(code, 1);
    assert.match(stderr, /✘ whisper-tiny\.en: the server offers 4935428 bytes for ggml-tiny\.en\.bin, but the catalog expects about 78643200/);
    assert.ok(!fs.readdirSync(modelsDir).some((f) => f.startsWith('ggml-tiny.en.bin')));
  });

  test('offline mode fails at once with the URL to fetch by hand', async () => {
    const { code, stderr } = await jarvis(['models', 'pull', 'test-llm'], { JARVIS_MODELS__OFFLINE: 'true' });
    assert.equal(code, 1);
    assert.match(stderr, /not downloading tiny-chat-Q8_0\.gguf: offline mode is on/);
    assert.match(stderr, new RegExp(`Fetch ${mirror.baseUrl}/test/tiny-llm-GGUF/resolve/main/tiny-chat-Q8_0\\.gguf by hand and save it as ${modelsDir.replace(/[/.]/g, '\\$&')}/tiny-chat-Q8_0\\.gguf`));
  });

  test('an unknown id gets suggestions', async () => {
    const { code, stderr } = await jarvis(['models', 'pull', 'qwen']);
    assert.equal(code, 2);
    assert.match(stderr, /no model "qwen"[\s\S]*Did you mean qwen2\.5-7b-q4_k_m/);
  });
});
