import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runJarvis } from './fixtures/cli.ts';
import { repoRoot } from './fixtures/speech.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';

/**
 * onnxruntime-node 1.30 ships Microsoft's telemetry on Linux, on unless ORT_DISABLE_TELEMETRY is set: opening a
 * session writes a device id and an event queue under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and leaves a
 * mat-debug-<pid>.log (and a .ses file) in the temp folder. Each case loads models through JARVIS's own code in a
 * fresh process with its own HOME and TMPDIR and nothing set in its environment, and looks at what appeared.
 */

/** Runs `body` with a fresh HOME and TMPDIR for a process, then lists the telemetry files that appeared there. */
async function traces(body: (env: NodeJS.ProcessEnv) => Promise<void>): Promise<string[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-ort-home-'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-ort-tmp-'));
  // What the library would honour, were it set by the user or by the test runner: this must work without them.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp, ORT_DISABLE_TELEMETRY: undefined, XDG_CACHE_HOME: undefined };
  try {
    await body(env);
    const found = fs
      .readdirSync(tmp)
      .filter((name) => /^mat-debug-\d+\.log$|^\.ses$/.test(name))
      .map((name) => `TMPDIR/${name}`);
    const microsoft = path.join(home, '.cache', 'Microsoft');
    if (fs.existsSync(microsoft)) found.push(...fs.readdirSync(microsoft, { recursive: true }).map((name) => `HOME/.cache/Microsoft/${String(name)}`));
    return found;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs a module script through tsx, as a library user of voice/ would; it prints "loaded" when its models are open. */
function script(source: string): (env: NodeJS.ProcessEnv) => Promise<void> {
  return async (env) => {
    // A file rather than -e: a worker thread inherits the process's options, and --input-type would stop it.
    const file = path.join(env.TMPDIR!, 'load.mjs');
    fs.writeFileSync(file, source);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', import.meta.resolve('tsx'), file], { cwd: repoRoot, env, timeout: 60_000 });
    assert.match(stdout, /^loaded$/m, 'the script opened its models');
  };
}

const url = (file: string) => JSON.stringify(new URL(`../${file}`, import.meta.url).href);

describe('onnxruntime telemetry is off in every process that loads a model', () => {
  test('Silero VAD (onnxruntime on the main thread) leaves nothing in HOME or TMPDIR', async () => {
    const load = script(`
      const { SileroVad } = await import(${url('voice/vad/silero.ts')});
      const vad = await SileroVad.create();
      await vad.process(new Int16Array(1024));
      await vad.dispose();
      console.log('loaded');
    `);
    assert.deepEqual(await traces(load), []);
  });

  test('openWakeWord (three sessions on the main thread) leaves nothing', async () => {
    const load = script(`
      const { OpenWakeWordDetector } = await import(${url('voice/wake/openwakeword.ts')});
      await OpenWakeWordDetector.create({ threshold: 0.5 });
      console.log('loaded');
    `);
    assert.deepEqual(await traces(load), []);
  });

  test('a session in a worker thread (how Piper voices run) leaves nothing', async () => {
    // A worker thread's process.env is a copy that native code never sees: the main thread must set it.
    const load = script(`
      const { ThreadSession } = await import(${url('voice/onnx-thread.ts')});
      const { shippedModels } = await import(${url('voice/shipped.ts')});
      const session = await ThreadSession.create(shippedModels.sileroVadV5, { intraOpNumThreads: 1 });
      await session.release();
      console.log('loaded');
    `);
    assert.deepEqual(await traces(load), []);
  });

  test('the jarvis command (importing a Piper voice, which onnxruntime opens to check it) leaves nothing', async () => {
    const voice = await ensureTinyPiperVoice();
    const found = await traces(async (env) => {
      const jarvis = runJarvis(['models', 'import', voice, '--id', 'telemetry-check'], { ...env, XDG_DATA_HOME: path.join(env.HOME!, 'data') });
      assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
      assert.match(jarvis.stdout.join('\n'), /Imported telemetry-check/);
    });
    assert.deepEqual(found, []);
  });
});
