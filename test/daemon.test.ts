import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { levelDbfs } from '../voice/pcm.ts';
import { jsonLines, runJarvis, testModelsConfig, type JarvisProcess } from './fixtures/cli.ts';
import { MIC_SINK, startPulse, type PulseServer } from './fixtures/pulse.ts';
import { concat, silence, speak } from './fixtures/speech.ts';

/**
 * `jarvis start` as the always-on daemon, on a real sound server (PulseAudio with a virtual microphone and a
 * virtual speaker): it starts without a microphone (degraded, with the fix), recovers when the sound server
 * comes up, hears "hey Jarvis" from the microphone and answers through the speaker. Whisper, the LLM and Piper
 * run on test-made random-weight models.
 */

let pulse: PulseServer | undefined;
let jarvis: JarvisProcess | undefined;
after(async () => {
  jarvis?.child.kill('SIGKILL');
  await pulse?.stop();
});

const logLine = (match: (entry: Record<string, unknown>) => boolean) => (line: string) => {
  if (!line.startsWith('{')) return false;
  try {
    return match(JSON.parse(line) as Record<string, unknown>);
  } catch {
    return false;
  }
};

test('daemon: no microphone → degraded with a fix; microphone appears → recovers; answers a spoken request through the speaker; the microphone unplugged and replugged and the sound server restarted → listening again within 6 s', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-daemon-'));
  fs.writeFileSync(path.join(dir, 'client.conf'), 'autospawn = no\n');
  // The address the sound server will have once it is started: until then, nothing answers there.
  const soundEnv = {
    PULSE_SERVER: `unix:${path.join(dir, 'native')}`,
    PULSE_CLIENTCONFIG: path.join(dir, 'client.conf'),
    PULSE_COOKIE: path.join(dir, 'cookie'),
  };
  const config = await testModelsConfig({
    // The microphone by name: unplugged, it is missing (not silently replaced by the speaker's monitor).
    audio: { input: { backend: 'parec', device: `${MIC_SINK}.monitor`, retryMs: 500 }, output: { backend: 'pacat' } },
    conversation: { followUpMs: 0 },
  });
  jarvis = runJarvis(['-c', config, 'start', '--json'], soundEnv);

  const degraded = await jarvis.waitFor(logLine((e) => e.msg === 'state' && e.phase === 'degraded'), 30_000, 'the degraded state');
  assert.ok(degraded);
  const problem = await jarvis.waitFor(logLine((e) => e.problem === 'microphone' && typeof e.fix === 'string'), 5000, 'the microphone problem with its fix');
  assert.match(problem, /parec/);

  pulse = await startPulse({ dir });
  await jarvis.waitFor(logLine((e) => e.msg === 'resolved' && e.problem === 'microphone'), 15_000, 'recovery');
  await jarvis.waitFor(logLine((e) => e.msg === 'state' && e.phase === 'idle'), 5000, 'idle again');

  const speaker = pulse.recordSpeaker();
  await speaker.ready;
  const request = concat(silence(300), await speak('hey jarvis, what time is it', { engine: 'espeak', voice: 'en-us' }), silence(2500));
  await pulse.playIntoMic(request);
  await jarvis.waitFor((line) => line.includes('"type":"run-end"'), 30_000, 'the end of the turn');
  const heard = await speaker.stop();

  const events = jsonLines(jarvis.stdout).filter((e) => typeof e.runId === 'number');
  assert.deepEqual(events.filter((e) => e.type === 'run-end').map((e) => e.outcome), ['answered']);
  assert.ok(events.some((e) => e.type === 'wake'));
  const played = events.filter((e) => e.type === 'tts-end').reduce((ms, e) => ms + (e.audioMs as number), 0);
  // What the speaker played is really there: at least most of the synthesized answer, clearly above silence.
  let loud = 0;
  for (let i = 0; i + 160 <= heard.samples.length; i += 160) if (levelDbfs(heard.samples.subarray(i, i + 160)) > -50) loud += 10;
  assert.ok(loud >= played * 0.5, `speaker had ${loud} ms of sound for ${Math.round(played)} ms of answer`);

  // Unplugged for a while (the back-off grows), then plugged back in: listening again within 6 s.
  /** Matches lines printed from now on only. */
  const fromNow = (match: (line: string) => boolean) => {
    const before = new Set([...jarvis!.stdout, ...jarvis!.stderr]);
    return (line: string) => !before.has(line) && match(line);
  };
  const resolvedAfter = async (what: string, plugIn: () => Promise<unknown>) => {
    const resolved = fromNow(logLine((e) => e.msg === 'resolved' && e.problem === 'microphone'));
    await plugIn();
    const started = Date.now();
    await jarvis!.waitFor(resolved, 10_000, `recovery after ${what}`);
    return Date.now() - started;
  };
  const modules = await pulse.pactl('list', 'short', 'modules');
  const micModule = modules.split('\n').find((line) => line.includes(`sink_name=${MIC_SINK}`))!.split('\t')[0]!;
  const unplugged = fromNow(logLine((e) => e.problem === 'microphone' && e.msg !== 'resolved'));
  await pulse.pactl('unload-module', micModule);
  await jarvis.waitFor(unplugged, 10_000, 'the unplugged microphone reported');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const replugMs = await resolvedAfter('the microphone was plugged back in', () => pulse!.pactl('load-module', 'module-null-sink', `sink_name=${MIC_SINK}`, 'rate=16000', 'channels=1'));
  assert.ok(replugMs < 6000, `listening again ${replugMs} ms after the microphone came back`);

  // The sound server itself restarted (a desktop session's PipeWire/PulseAudio crashing and coming back).
  await pulse.stop();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const restartMs = await resolvedAfter('the sound server restarted', async () => (pulse = await startPulse({ dir })));
  assert.ok(restartMs < 6000, `listening again ${restartMs} ms after the sound server came back`);

  const again = jarvis.stdout.length;
  const turnEnded = fromNow((line) => line.includes('"type":"run-end"'));
  await pulse.playIntoMic(request);
  await jarvis.waitFor(turnEnded, 30_000, 'a turn after both faults');
  assert.deepEqual(jsonLines(jarvis.stdout.slice(again)).filter((e) => e.type === 'run-end').map((e) => e.outcome), ['answered']);

  jarvis.child.kill('SIGINT');
  assert.equal(await jarvis.exit, 0, 'a clean shutdown on Ctrl+C');
});
