import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { sniffImageType } from '../base/image-type.ts';
import { checkVisionRole, VISION_SPOKEN, VisionError, visionResponder, withVision } from '../core/llm/vision.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { LIMITS, type PhotoView } from '../core/protocol/wire.ts';
import type { ImageInput } from '../core/responder.ts';
import { jsonLines, runJarvis, testModelsConfig } from './fixtures/cli.ts';
import { freePort, startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { pngPhoto } from './fixtures/photos.ts';
import { startTestHud, type TestClient, type TestHud } from './fixtures/hud-server.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';
import { ensureTinyMmproj } from './models/tiny-mmproj.ts';

/**
 * "Look at something": a question with a photo goes to the vision role (core/llm/vision.ts), here a real
 * llama-server built from the llama.cpp sources node-llama-cpp ships, serving the test-made chat model with a
 * test-made multimodal projector (test/models/tiny-mmproj.ts: LLaVA's shape, random weights), so the photo goes
 * through llama.cpp's real image path (decoding, the vision encoder, the projection into the model's embeddings).
 * The answers are not words. The phone's side of the protocol (the photo in pieces, checked by its bytes, held for
 * one question) runs through the real HUD server with socket.io clients; the phone remote itself is tested in
 * Chromium in hud-look.test.ts.
 */

let model: string;
let projector: string;
/** Reads images: the model with its projector. */
let seeing: RunningLlamaServer;
/** The same model without a projector: it refuses images. */
let blind: RunningLlamaServer;

before(async () => {
  [model, projector] = await Promise.all([ensureTinyGguf(), ensureTinyMmproj()]);
  [seeing, blind] = await Promise.all([startLlamaServer({ model, projector }), startLlamaServer({ model })]);
});
after(async () => {
  await Promise.all([seeing?.kill(), blind?.kill()]);
});

/** The llama-servers JARVIS started itself (no web page, a random key) with this projector, beside the test's own. */
function jarvisVisionServers(projectorFile: string): string[] {
  return fs.readdirSync('/proc').filter((pid) => {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return args.includes(projectorFile) && args.includes('--no-webui');
    } catch {
      return false;
    }
  });
}

const photo = (): ImageInput => ({ type: 'image/png', data: pngPhoto() });
const visionAt = (baseUrl: string, extra: Record<string, unknown> = {}) =>
  parseConfig({ llm: { maxAnswerTokens: 12, roles: { vision: { backend: 'openai', openai: { baseUrl, model: 'tiny', maxRetries: 0, timeoutMs: 5000 }, ...extra } } } }).llm;

async function answer(responder: { respond(r: { text: string; signal: AbortSignal; image?: ImageInput }): AsyncIterable<string> }, image?: ImageInput): Promise<string> {
  let text = '';
  for await (const piece of responder.respond({ text: 'what is this?', signal: new AbortController().signal, ...(image ? { image } : {}) })) text += piece;
  return text;
}

describe('the vision role against a real llama-server with a test-made projector', () => {
  test('a question with a photo is answered by the vision server through its image path; one without goes to the chat model', async () => {
    const chat = new ScriptedResponder(() => 'Chat answer.');
    const router = withVision(visionAt(seeing.baseUrl), chat);
    assert.ok((await answer(router, photo())).length > 0, 'the vision model answered');
    assert.deepEqual(chat.questions, [], 'the chat model never saw the photo question');
    assert.equal(await answer(router), 'Chat answer.');

    // The image really is read: the same model without its projector refuses the same request.
    await assert.rejects(answer(visionResponder(visionAt(blind.baseUrl), visionAt(blind.baseUrl).roles.vision!), photo()), /image input is not supported/);
  });

  test('a server whose model reads no images: a short error that says how to give it one, and the words to say', async () => {
    const router = withVision(visionAt(blind.baseUrl), new ScriptedResponder(() => 'unused'));
    const error = await answer(router, photo()).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof VisionError, String(error));
    assert.equal(error.code, 'vision-remote-blind');
    assert.match(error.message, /the vision server at http:\/\/127\.0\.0\.1:\d+\/v1 failed .*image input is not supported/);
    assert.match(error.fix, /--mmproj/);
    assert.equal(error.spoken, VISION_SPOKEN.failed);
  });

  test('backend "local": JARVIS starts llama-server itself with the model and its projector, again if it dies, and stops it', async (t) => {
    const llm = parseConfig({ llm: { maxAnswerTokens: 12, threads: 1, contextSize: 1024, roles: { vision: { backend: 'local', model, projector } } } }).llm;
    const router = withVision(llm, new ScriptedResponder(() => 'unused'));
    const started = performance.now();
    assert.ok((await answer(router, photo())).length > 0);
    const firstMs = performance.now() - started;
    const again = performance.now();
    assert.ok((await answer(router, photo())).length > 0);
    const secondMs = performance.now() - again;
    t.diagnostic(`local vision server: first photo ${Math.round(firstMs)} ms (starting it), next ${Math.round(secondMs)} ms`);
    assert.ok(secondMs < firstMs, 'the server stays running between photos');
    const pids = jarvisVisionServers(projector);
    assert.equal(pids.length, 1, 'one llama-server of JARVIS runs');
    // Killed (out of memory, say): the next photo starts it again.
    process.kill(Number(pids[0]), 'SIGKILL');
    assert.ok((await answer(router, photo())).length > 0);
    assert.equal(jarvisVisionServers(projector).length, 1);
    await router.disposeVision();
    assert.deepEqual(jarvisVisionServers(projector), [], 'it is stopped with JARVIS');
  });

  test('jarvis doctor asks the vision role about a test picture for real: how soon it answers, or why it cannot', async () => {
    assert.match(await checkVisionRole(visionAt(seeing.baseUrl)), /^tiny at http:\/\/127\.0\.0\.1:\d+\/v1: began answering about a test picture in \d+ ms$/);
    await assert.rejects(checkVisionRole(visionAt(blind.baseUrl)), (error: VisionError) => error.code === 'vision-remote-blind' && /--mmproj/.test(error.fix));
    await assert.rejects(checkVisionRole(parseConfig({}).llm), (error: VisionError) => error.code === 'vision-not-configured');
  });

  test('backend "local" with a projector file that is not there: a model-file error naming it', async () => {
    const missing = path.join(path.dirname(projector), 'no-such-mmproj.gguf');
    const llm = parseConfig({ llm: { roles: { vision: { backend: 'local', model, projector: missing } } } }).llm;
    await assert.rejects(answer(withVision(llm, new ScriptedResponder(() => 'unused')), photo()), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'model-missing');
      assert.match(error.message, /no-such-mmproj\.gguf/);
      return true;
    });
    // Not configured completely: told what is missing, without starting anything.
    const half = parseConfig({ llm: { roles: { vision: { backend: 'local', model } } } }).llm;
    await assert.rejects(answer(withVision(half, new ScriptedResponder(() => 'unused')), photo()), /needs both "model" and "projector"/);
  });
});

/** Sends `bytes` as a photo the way the phone remote does: photo-start, binary pieces, photo-end. */
async function sendPhoto(client: TestClient, bytes: Uint8Array) {
  const started = await client.command('photo-start', { bytes: bytes.byteLength });
  if (!started.ok) return started;
  for (let at = 0; at < bytes.byteLength; at += LIMITS.photoChunkBytes) {
    const ack = await client.command('photo-chunk', bytes.subarray(at, at + LIMITS.photoChunkBytes));
    if (!ack.ok) return ack;
  }
  return client.command('photo-end', {});
}

const runEvents = (client: TestClient) => client.received.filter((r) => r.name === 'run-event').map((r) => r.payload as RunEvent);
const runOf = (client: TestClient, runId: number) => runEvents(client).filter((e) => e.runId === runId);
async function nextRunEnd(client: TestClient, after: number, timeoutMs = 20_000): Promise<RunEvent[]> {
  const end = (await client.waitFor('run-event', (e: RunEvent) => e.type === 'run-end' && e.runId > after, timeoutMs)) as RunEvent;
  return runOf(client, end.runId);
}
const lastRunId = (client: TestClient) => runEvents(client).reduce((max, e) => Math.max(max, e.runId), 0);
const outcome = (events: RunEvent[]) => (events.at(-1) as Extract<RunEvent, { type: 'run-end' }>).outcome;

describe('a photo from the phone remote, through the HUD server', () => {
  let hud: TestHud;
  let chat: ScriptedResponder;
  before(async () => {
    chat = new ScriptedResponder(() => 'It is sunny today.');
    hud = await startTestHud({
      responder: chat,
      config: { server: { trustLocalDisplay: false }, llm: { maxAnswerTokens: 12, roles: { vision: { backend: 'openai', openai: { baseUrl: seeing.baseUrl, model: 'tiny', maxRetries: 0 } } } } },
    });
  });
  after(async () => {
    await hud?.close();
  });

  test('is answered by the vision model and spoken; the screens get the photo beside the answer; nothing is kept', async (t) => {
    const { client: phone } = await hud.pairedClient('controller');
    const { client: wall } = await hud.pairedClient('viewer');
    const bytes = pngPhoto(400, 300);
    const before = lastRunId(wall);
    const sent = performance.now();
    const ack = await sendPhoto(phone, bytes);
    assert.deepEqual(ack, { ok: true, type: 'image/png', bytes: bytes.byteLength });
    assert.deepEqual(await phone.command('ask', { text: 'what is this?', photo: true }), { ok: true });
    const firstAudio = (await wall.waitFor('run-event', (e: RunEvent) => e.type === 'playback-start' && e.runId > before, 20_000)) as RunEvent;
    const photoToAudioMs = performance.now() - sent;
    const events = await nextRunEnd(wall, before);
    const types = events.map((e) => e.type);
    assert.equal(outcome(events), 'answered', types.join(' '));
    const start = events.find((e): e is Extract<RunEvent, { type: 'llm-start' }> => e.type === 'llm-start');
    assert.deepEqual(start?.image, { type: 'image/png', bytes: bytes.byteLength });
    const backend = events.find((e): e is Extract<RunEvent, { type: 'llm-backend' }> => e.type === 'llm-backend');
    assert.match(backend?.backend ?? '', /^tiny at 127\.0\.0\.1:\d+$/);
    assert.equal(backend?.role, 'vision');
    assert.ok(types.includes('tts-start') && types.includes('playback-start'), 'the answer was spoken');
    assert.equal(firstAudio.runId, start?.runId);
    assert.deepEqual(chat.questions, [], 'the chat model never saw it');
    t.diagnostic(`photo sent → first audio: ${Math.round(photoToAudioMs)} ms (${bytes.byteLength} bytes, test-made models)`);

    // Both screens got the photo for that turn, as sent; nothing about it is in the run events but its size.
    for (const screen of [wall, phone]) {
      const shown = (await screen.waitFor('photo')) as PhotoView;
      assert.equal(shown.runId, start?.runId);
      assert.equal(shown.type, 'image/png');
      assert.deepEqual(new Uint8Array(shown.data), bytes);
    }
    assert.ok(!JSON.stringify(events).includes(Buffer.from(bytes.subarray(0, 64)).toString('base64')));

    // Held for that question only, and written nowhere.
    const again = await phone.command('ask', { text: 'and now?', photo: true });
    assert.equal(again.ok, false);
    assert.match(!again.ok ? again.message : '', /no photo from this device/);
    assert.equal(fs.existsSync(path.join(hud.config.dataDir, 'photos')), false);
    phone.close();
    wall.close();
  });

  test('too big, not a photo (a text file called .jpg), sent in part or by an unpaired device: each refused with a clear reason; JARVIS goes on', async () => {
    const { client: phone } = await hud.pairedClient('controller');
    // Said to be too big: refused before a byte is sent.
    const huge = await phone.command('photo-start', { bytes: LIMITS.photoBytes + 1 });
    assert.equal(huge.ok, false);
    assert.match(!huge.ok ? huge.message : '', /the photo is 2\.0 MB; JARVIS takes photos of up to 2\.0 MB/);
    // Bigger than it said: dropped at the piece that goes over.
    assert.ok((await phone.command('photo-start', { bytes: 10 })).ok);
    const over = await phone.command('photo-chunk', new Uint8Array(11));
    assert.match(!over.ok ? over.message : '', /larger than/);
    assert.match(JSON.stringify(await phone.command('photo-end', {})), /no photo is being sent/);
    // A piece bigger than the protocol allows is refused by the schema.
    assert.ok((await phone.command('photo-start', { bytes: LIMITS.photoChunkBytes + 1 })).ok);
    const piece = await phone.command('photo-chunk', new Uint8Array(LIMITS.photoChunkBytes + 1));
    assert.equal(!piece.ok && piece.code, 'invalid');
    // Not a photo, whatever it is called: the bytes decide.
    const text = new TextEncoder().encode('This is a shopping list, not a photo.\nmilk\neggs\n');
    const notPhoto = await sendPhoto(phone, text);
    assert.equal(notPhoto.ok, false);
    assert.match(!notPhoto.ok ? notPhoto.message : '', /not a photo: JARVIS looks at JPEG, PNG and WebP images/);
    assert.equal(sniffImageType(text), undefined);
    assert.match(JSON.stringify(await phone.command('ask', { text: 'what is this?', photo: true })), /no photo from this device/);
    // Incomplete: fewer bytes than said.
    assert.ok((await phone.command('photo-start', { bytes: 100 })).ok);
    assert.ok((await phone.command('photo-chunk', pngPhoto().subarray(0, 50))).ok);
    assert.match(JSON.stringify(await phone.command('photo-end', {})), /incomplete \(50 of 100 bytes\)/);

    // An unpaired device may not send one at all.
    const stranger = hud.connect();
    await stranger.hello;
    for (const [name, payload] of [['photo-start', { bytes: 100 }], ['photo-chunk', new Uint8Array(10)], ['photo-end', {}], ['ask', { text: 'what is this?', photo: true }]] as const) {
      const refused = await stranger.command(name as 'photo-start', payload as never);
      assert.equal(!refused.ok && refused.code, 'forbidden', `${name}: ${JSON.stringify(refused)}`);
    }
    stranger.close();

    // JARVIS goes on: the phone's next question is answered.
    const before = lastRunId(phone);
    assert.ok((await phone.command('ask', { text: 'what is the weather' })).ok);
    assert.equal(outcome(await nextRunEnd(phone, before)), 'answered');
    phone.close();
  });
});

describe('when the vision role cannot answer', () => {
  /** A daemon with this vision config; asks about a photo, then asks a plain question. */
  async function askBoth(vision: Record<string, unknown> | undefined): Promise<{ photo: RunEvent[]; plain: RunEvent[] }> {
    const hud = await startTestHud({ responder: new ScriptedResponder(() => 'It is sunny today.'), config: { server: { trustLocalDisplay: false }, llm: { roles: vision ? { vision } : {} } } });
    try {
      const { client: phone } = await hud.pairedClient('controller');
      assert.ok((await sendPhoto(phone, pngPhoto())).ok);
      const before = lastRunId(phone);
      assert.ok((await phone.command('ask', { text: 'what is this?', photo: true })).ok);
      const photo = await nextRunEnd(phone, before);
      assert.ok((await phone.command('ask', { text: 'what is the weather' })).ok);
      const plain = await nextRunEnd(phone, photo[0]!.runId);
      return { photo, plain };
    } finally {
      await hud.close();
    }
  }
  const errorOf = (events: RunEvent[]) => events.find((e): e is Extract<RunEvent, { type: 'error' }> => e.type === 'error');
  const said = (events: RunEvent[]) => events.filter((e): e is Extract<RunEvent, { type: 'tts-start' }> => e.type === 'tts-start').map((e) => e.text).join(' ');

  test('none configured: it says so, and the screen says how to set one up; the next question is answered', async () => {
    const { photo, plain } = await askBoth(undefined);
    assert.equal(errorOf(photo)?.code, 'vision-not-configured');
    assert.match(errorOf(photo)?.fix ?? '', /llm\.roles\.vision.*backend "openai".*llama-server with --mmproj.*Ollama with llava or moondream.*backend "local"/);
    assert.equal(said(photo), VISION_SPOKEN.notConfigured);
    assert.equal(outcome(photo), 'error');
    assert.equal(said(plain), 'It is sunny today.');
  });

  test('the vision server is down: it says it cannot look now, the screen says where it tried; the next question is answered', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}/v1`;
    const { photo, plain } = await askBoth({ backend: 'openai', openai: { baseUrl: nowhere, model: 'tiny', maxRetries: 0 } });
    assert.equal(errorOf(photo)?.code, 'vision-remote-unreachable');
    assert.match(errorOf(photo)?.message ?? '', new RegExp(`the vision server at ${nowhere.replace(/\./g, '\\.')} cannot be reached`));
    assert.match(errorOf(photo)?.fix ?? '', /llm\.roles\.vision\.openai\.baseUrl/);
    assert.equal(said(photo), VISION_SPOKEN.failed);
    assert.equal(said(plain), 'It is sunny today.');
  });
});

describe('`jarvis ask --photo`', () => {
  test('asks the vision model about a photo file; a file that is not a photo is refused by its bytes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-ask-photo-'));
    const config = await testModelsConfig({ dataDir: path.join(dir, 'data'), llm: { maxAnswerTokens: 8, roles: { vision: { backend: 'openai', openai: { baseUrl: seeing.baseUrl, model: 'tiny', maxRetries: 0 } } } } });
    const photoFile = path.join(dir, 'label.png');
    fs.writeFileSync(photoFile, pngPhoto());
    const jarvis = runJarvis(['-c', config, 'ask', '--json', '--photo', photoFile, 'read this label']);
    assert.equal(await jarvis.exit, 0, jarvis.stderr.join('\n'));
    const events = jsonLines(jarvis.stdout);
    assert.deepEqual(events.find((e) => e.type === 'llm-start')?.image, { type: 'image/png', bytes: fs.statSync(photoFile).size });
    assert.equal(events.find((e) => e.type === 'llm-backend')?.role, 'vision');
    assert.ok(String(events.find((e) => e.type === 'llm-end')?.text).length > 0);

    const notPhoto = path.join(dir, 'list.jpg');
    fs.writeFileSync(notPhoto, 'milk\neggs\n');
    const refused = runJarvis(['-c', config, 'ask', '--photo', notPhoto, 'what is this?']);
    assert.notEqual(await refused.exit, 0);
    assert.match(refused.stderr.join('\n'), /list\.jpg is not a photo: JARVIS looks at JPEG, PNG and WebP images/);
  });
});

describe('keeping photos (llm.roles.vision.keepPhotos)', () => {
  test('off by default; on, each photo asked about is kept in <dataDir>/photos, readable by this account only', async () => {
    const hud = await startTestHud({
      responder: new ScriptedResponder(() => 'unused'),
      config: { server: { trustLocalDisplay: false }, llm: { maxAnswerTokens: 8, roles: { vision: { backend: 'openai', keepPhotos: true, openai: { baseUrl: seeing.baseUrl, model: 'tiny', maxRetries: 0 } } } } },
    });
    try {
      const { client: phone } = await hud.pairedClient('controller');
      const bytes = pngPhoto();
      assert.ok((await sendPhoto(phone, bytes)).ok);
      const before = lastRunId(phone);
      assert.ok((await phone.command('ask', { text: 'what is this?', photo: true })).ok);
      await nextRunEnd(phone, before);
      const dir = path.join(hud.config.dataDir, 'photos');
      const files = fs.readdirSync(dir);
      assert.equal(files.length, 1);
      assert.match(files[0]!, /^\d{4}-\d\d-\d\dT.*-test-controller\.png$/);
      assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(dir, files[0]!))), bytes);
      assert.equal(fs.statSync(path.join(dir, files[0]!)).mode & 0o777, 0o600);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    } finally {
      await hud.close();
    }
  });
});
