import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { LIMITS } from '../core/protocol/wire.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { buildHud, hudBuildIsCurrent, hudDistDir } from '../core/server/hud-build.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber } from '../voice/ports.ts';
import { writeWavFile } from '../voice/wav.ts';
import { chromiumMissing, launchChromium, newScreen, pageCondition, PHONE, screenshot, WALL } from './fixtures/browser.ts';
import { startTestHud, type TestHud } from './fixtures/hud-server.ts';
import { startLlamaServer, type RunningLlamaServer } from './fixtures/llama-server.ts';
import { pngPhoto, y4mVideo } from './fixtures/photos.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { concat, silence, speak } from './fixtures/speech.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';
import { ensureTinyMmproj } from './models/tiny-mmproj.ts';

/**
 * "Look at something" on the phone remote, in Chromium (playwright-core) against a real HUD server and daemon whose
 * vision role is a real llama-server built from node-llama-cpp's llama.cpp sources, serving the test-made chat model
 * with the test-made projector (test/models/tiny-mmproj.ts): the photo goes through llama.cpp's real image path,
 * and the answer (not words) is spoken by espeak-ng into a virtual speaker. The phone's camera is Chromium's fake
 * capture device playing a test picture (a Y4M video made in JS: a colour gradient with a blue square in the
 * middle); its microphone plays a WAV of generated speech. The speech-to-text stage here hands back fixed words for
 * any audio it gets (the test says so): the point is the photo going with what was said.
 */

const skip = chromiumMissing();
let server: RunningLlamaServer;
let hud: TestHud;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let phone: Page;
let wall: Page;
let micSamples = 0;
/** Binary bytes the phone page has sent over its socket (photo pieces, microphone audio). */
let sentBinaryBytes = 0;
const events: RunEvent[] = [];
const HEARD = 'read this label';

/** Fixed words for any audio of some length (the audio itself comes from the phone's fake microphone). */
const fixedWords: Transcriber = {
  engine: 'test (fixed words)',
  load: async () => {},
  transcribe: async (pcm) => ({ text: pcm.length > CAPTURE_SAMPLE_RATE / 2 ? HEARD : '', audioMs: (pcm.length / CAPTURE_SAMPLE_RATE) * 1000 }),
  dispose: async () => {},
};

before(async () => {
  if (skip) return;
  if (!(await hudBuildIsCurrent())) await buildHud();
  const [model, projector] = await Promise.all([ensureTinyGguf(), ensureTinyMmproj()]);
  server = await startLlamaServer({ model, projector });
  hud = await startTestHud({
    hudDir: hudDistDir,
    responder: new ScriptedResponder(() => 'The chat model answered.'),
    transcriber: fixedWords,
    config: { llm: { maxAnswerTokens: 16, roles: { vision: { backend: 'openai', openai: { baseUrl: server.baseUrl, model: 'tiny', maxRetries: 0 } } } } },
  });
  hud.assistant.bus.subscribe((event) => events.push(event));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-look-'));
  const camera = path.join(dir, 'camera.y4m');
  fs.writeFileSync(camera, y4mVideo(320, 240));
  const said = concat(silence(200), await speak(HEARD, { engine: 'espeak', voice: 'en-us', wordsPerMinute: 160 }), silence(300));
  micSamples = said.length;
  const microphone = path.join(dir, 'microphone.wav');
  await writeWavFile(microphone, { samples: said, sampleRate: CAPTURE_SAMPLE_RATE });
  browser = await launchChromium({ cameraY4m: camera, microphoneWav: microphone });
  ({ page: wall } = await newScreen(browser, WALL));
  await wall.goto(hud.url);
  await wall.waitForSelector('[data-testid=wall]');
  ({ page: phone } = await newScreen(browser, PHONE, { phone: true }));
  phone.on('websocket', (socket) => socket.on('framesent', ({ payload }) => typeof payload !== 'string' && (sentBinaryBytes += payload.length)));
});

after(async () => {
  await browser?.close();
  await hud?.close();
  await server?.kill();
});

/** The events of the next run that asks something after `from` events, once it has ended. */
async function nextTurn(from: number, timeoutMs = 30_000): Promise<RunEvent[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const later = events.slice(from);
    const start = later.find((e) => e.type === 'llm-start');
    if (start && later.some((e) => e.type === 'run-end' && e.runId === start.runId)) return later.filter((e) => e.runId === start.runId);
    if (performance.now() > deadline) throw new Error(`no answered turn within ${timeoutMs} ms: ${later.map((e) => e.type).join(' ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const find = <T extends RunEvent['type']>(turn: RunEvent[], type: T) => turn.find((e) => e.type === type) as Extract<RunEvent, { type: T }> | undefined;

/** The colour at the middle of the photo shown on `page` (read back from the page's own object URL). */
const middleOfShownPhoto = (page: Page) =>
  page.evaluate(`(() => {
    const img = document.querySelector('[data-testid=turn-photo]');
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const [r, g, b] = context.getImageData(img.naturalWidth / 2, img.naturalHeight / 2, 1, 1).data;
    return { r, g, b, width: img.naturalWidth, height: img.naturalHeight, src: img.src };
  })()`) as Promise<{ r: number; g: number; b: number; width: number; height: number; src: string }>;

describe('"Look at something" on the phone remote, in Chromium', { skip }, () => {
  test('a photo from the phone camera and a typed question: the vision model answers, it is spoken, and both screens show the photo beside the answer', async (t) => {
    // Unpaired, the page has no way to send a photo.
    await phone.goto(hud.url);
    await phone.waitForSelector('[data-testid=pair-form], [data-testid=pair-page]');
    assert.equal(await phone.locator('[data-testid=look]').count(), 0);
    await phone.goto(`${hud.url}/#pair=${hud.issueCode()}`);
    await phone.waitForSelector('[data-testid=look]');

    await phone.click('[data-testid=look]');
    await phone.click('[data-testid=look-camera]');
    await phone.waitForSelector('[data-testid=look-shoot]');
    await phone.waitForFunction(pageCondition("document.querySelector('[data-testid=look-video]')?.videoWidth > 0"));
    await screenshot(phone, 'hud-phone-look-camera');
    await phone.click('[data-testid=look-shoot]');
    await phone.waitForSelector('[data-testid=look-preview]');
    await phone.waitForSelector('[data-testid=look-ask]:not([disabled])');
    await phone.fill('[data-testid=look-question]', 'what is this?');
    const from = events.length;
    const asked = performance.now();
    await phone.click('[data-testid=look-ask]');
    const turn = await nextTurn(from);
    const start = find(turn, 'llm-start')!;
    assert.equal(start.text, 'what is this?');
    assert.equal(start.image?.type, 'image/jpeg', 'the phone sends the camera picture as a JPEG');
    assert.ok(start.image!.bytes > 1000 && start.image!.bytes <= LIMITS.photoBytes, `${start.image!.bytes} bytes`);
    assert.equal(find(turn, 'llm-backend')?.role, 'vision');
    assert.equal(find(turn, 'run-end')?.outcome, 'answered', turn.map((e) => e.type).join(' '));
    const firstAudio = find(turn, 'playback-start');
    assert.ok(firstAudio, 'the answer was spoken');
    // The core runs in this process on the system clock, so its event times compare with this test's.
    t.diagnostic(`"Ask" tapped on the phone (photo already sent) → first audio: ${Math.round(firstAudio.t - asked)} ms`);

    // Both screens show the camera's picture beside the answer: the blue square in the middle of the test picture.
    for (const page of [wall, phone]) {
      await page.waitForSelector('[data-testid=turn-photo]');
      await page.waitForFunction(pageCondition("document.querySelector('[data-testid=turn-photo]')?.naturalWidth > 0"));
      const middle = await middleOfShownPhoto(page);
      assert.match(middle.src, /^blob:/, 'held in the page as an object URL');
      assert.deepEqual([middle.width, middle.height], [320, 240]);
      assert.ok(middle.b > 150 && middle.b > middle.r + 40 && middle.b > middle.g + 40, `the middle of the photo is the blue square: ${JSON.stringify(middle)}`);
      assert.ok(((await page.textContent('[data-testid=answer]')) ?? '').trim().length > 0, 'the answer is shown');
      assert.match((await page.textContent('[data-testid=answered-by]')) ?? '', /vision model\s*·\s*tiny at 127\.0\.0\.1:\d+/);
    }
    await screenshot(wall, 'hud-wall-look');
    await screenshot(phone, 'hud-phone-look');
    assert.equal(await phone.locator('[data-testid=look-panel]').count(), 0, 'the panel closes once the photo went with a question');
  });

  test('a chosen file: a text file called .jpg is refused on the phone; a large picture is scaled down and asked about by voice', async () => {
    await phone.click('[data-testid=look]');
    const shoppingList = Buffer.from('milk\neggs\nbread\n');
    await phone.setInputFiles('[data-testid=look-file]', { name: 'label.jpg', mimeType: 'image/jpeg', buffer: shoppingList });
    assert.match((await phone.textContent('[data-testid=look-error]')) ?? '', /not a photo this browser can read.*Choose a JPEG, PNG or WebP picture/s);

    // A picture bigger than the phone sends: made a JPEG of at most LIMITS.photoMaxSide pixels first.
    await phone.setInputFiles('[data-testid=look-file]', { name: 'label.png', mimeType: 'image/png', buffer: Buffer.from(pngPhoto(2400, 1800)) });
    await phone.waitForSelector('[data-testid=look-ask]:not([disabled])');
    assert.equal(await phone.locator('[data-testid=look-error]').count(), 0);

    // Asked by voice: hold the talk button while the phone's microphone plays the question.
    const from = events.length;
    const box = (await phone.locator('[data-testid=talk]').boundingBox())!;
    await phone.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const sentBefore = sentBinaryBytes;
    await phone.mouse.down();
    // Held until the phone has sent as much audio as the WAV holds.
    while (sentBinaryBytes - sentBefore < micSamples * 2) await new Promise((resolve) => setTimeout(resolve, 50));
    await phone.mouse.up();
    const turn = await nextTurn(from);
    const start = find(turn, 'llm-start')!;
    assert.equal(find(turn, 'run-start')?.trigger, 'remote');
    assert.equal(start.text, HEARD);
    assert.equal(start.image?.type, 'image/jpeg');
    assert.equal(find(turn, 'llm-backend')?.role, 'vision');
    assert.equal(find(turn, 'run-end')?.outcome, 'answered');
    await wall.waitForFunction(pageCondition("document.querySelector('[data-testid=turn-photo]')?.naturalWidth === 1600"));
    const shown = await middleOfShownPhoto(wall);
    assert.deepEqual([shown.width, shown.height], [LIMITS.photoMaxSide, 1200], 'scaled to 1600 pixels on its longer side');
  });
});
