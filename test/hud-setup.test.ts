import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Problem } from '../core/protocol/state.ts';
import type { ModelsView, ModelView } from '../core/protocol/wire.ts';
import { banners } from '../hud/src/lib/health.ts';
import { setupView } from '../hud/src/lib/setup.ts';

/** The setup view the screens show on a first run (hud/src/lib/setup.ts), from the core's problems and model state. */

const MB = 1e6;
const whisper: ModelView = { kind: 'stt', name: 'Whisper base.en', state: 'downloading', progress: 1, receivedBytes: 148 * MB, totalBytes: 148 * MB };
const llama: ModelView = { kind: 'llm', name: 'Llama 3.2 1B Instruct Q5_K_M', state: 'downloading', progress: 0.4, receivedBytes: 360 * MB, totalBytes: 900 * MB, bytesPerSecond: 5 * MB };
const piper: ModelView = { kind: 'tts', name: 'Piper en_GB alan (medium)', state: 'downloading', progress: 0, receivedBytes: 0, totalBytes: 63 * MB };
const models = (...active: ModelView[]): ModelsView => ({ active, choices: [], switchAvailable: false });
const ready = (m: ModelView): ModelView => ({ kind: m.kind, name: m.name, state: 'ready' });

const microphone: Problem = { id: 'microphone', message: 'no microphone: arecord: main:850: audio open error', fix: 'Plug in a microphone.', blocking: true };
const failed = (kind: string): Problem => ({ id: `download-${kind}`, message: 'cannot resolve huggingface.co', fix: 'Connect to the internet.', blocking: false });
const stageMissing: Problem = { id: 'llm-model', message: 'the LLM model file /home/u/m.gguf does not exist', fix: 'Run `jarvis models pull`.', blocking: false };

function view(problems: Problem[], modelsView: ModelsView) {
  return setupView(banners(problems, undefined, modelsView), problems, modelsView);
}

describe('the first-run setup view', () => {
  test('is there only while models are on their way or wait to be fetched again', () => {
    assert.equal(view([], models(ready(whisper), ready(llama), ready(piper))), undefined);
    assert.equal(view([microphone, stageMissing], models(ready(whisper), { ...llama, state: 'missing' }, ready(piper))), undefined, 'a missing model nobody fetches is a problem line, not setup');
    assert.ok(view([], models(ready(whisper), llama, ready(piper))));
    assert.ok(view([failed('llm')], models(ready(whisper), { ...llama, state: 'missing' }, ready(piper))));
  });

  test('says what it is doing over the whole set, where each stage stands, and the one thing to do', () => {
    const setup = view([microphone, stageMissing], models(whisper, llama, piper))!;
    assert.equal(setup.doing, 'Downloading 3 models: 45 %, about 2 min left');
    assert.ok(Math.abs(setup.progress! - 508 / 1111) < 1e-9);
    assert.deepEqual(
      setup.steps.map((s) => [s.stage, s.status, s.text]),
      [
        ['Hearing', 'checking', 'Checking'],
        ['Thinking', 'downloading', '40 %'],
        ['Voice', 'waiting', 'Waiting'],
      ],
    );
    assert.equal(setup.todo?.headline, 'No microphone');
    assert.equal(setup.todo?.fix, 'Plug in a microphone.');
    assert.deepEqual(setup.others, [], "the stage whose model is on its way has nothing to fix");
  });

  test('nothing to do while all goes well', () => {
    const setup = view([], models(ready(whisper), llama, piper))!;
    assert.equal(setup.todo, undefined);
    assert.equal(setup.steps[0]!.status, 'ready');
    assert.equal(setup.doing, 'Downloading 2 models: 37 %, about 2 min left');
  });

  test('failed downloads: one thing to do with a button to try at once, each failed stage marked', () => {
    const offline = models(ready(whisper), { ...llama, state: 'missing' }, { ...piper, state: 'missing' });
    const setup = view([failed('llm'), failed('tts')], offline)!;
    assert.equal(setup.doing, 'Waiting to download the models again');
    assert.equal(setup.progress, undefined);
    assert.equal(setup.todo?.id, 'downloads-failed');
    assert.equal(setup.todo?.action, 'retry-downloads');
    assert.match(setup.todo!.fix, /internet connection/);
    assert.deepEqual(setup.steps.map((s) => s.text), ['Ready', 'Tries again soon', 'Tries again soon']);
  });

  test('a more severe problem is the one thing to do; the failed downloads wait behind a tap with their button', () => {
    const setup = view([microphone, failed('tts')], models(ready(whisper), llama, { ...piper, state: 'missing' }))!;
    assert.equal(setup.todo?.id, 'microphone');
    assert.deepEqual(setup.others.map((o) => [o.id, o.action]), [['downloads-failed', 'retry-downloads']]);
    assert.equal(setup.doing, 'Downloading Llama 3.2 1B Instruct Q5_K_M: 40 %, about 2 min left');
  });

  test('an information line (a muted microphone) is not something to do', () => {
    const muted: Problem = { id: 'muted', message: 'Microphone muted', fix: 'Unmute it on the HUD or the phone.', blocking: false };
    const setup = view([muted], models(ready(whisper), llama, ready(piper)))!;
    assert.equal(setup.todo, undefined);
    assert.deepEqual(setup.others.map((o) => o.id), ['muted']);
  });
});
