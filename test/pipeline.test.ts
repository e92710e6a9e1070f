import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import type { JarvisConfig } from '../config/schema.ts';
import { Assistant, type AssistantEngines } from '../core/pipeline/assistant.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { LlamaResponder } from '../core/llm/llama-responder.ts';
import { silentLogger } from '../base/log.ts';
import { EchoGuard } from '../core/pipeline/echo-guard.ts';
import { SPOKEN } from '../core/pipeline/turn.ts';
import type { Responder } from '../core/responder.ts';
import type { Phase } from '../core/protocol/state.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { levelDbfs } from '../voice/pcm.ts';
import type { Synthesizer, Transcriber } from '../voice/ports.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { EspeakSynthesizer } from '../voice/tts/espeak.ts';
import { FallbackSynthesizer } from '../voice/tts/fallback.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { SileroVad } from '../voice/vad/silero.ts';
import { OpenWakeWordDetector } from '../voice/wake/openwakeword.ts';
import { decodeWav, encodeWav } from '../voice/wav.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { Room } from './fixtures/room.ts';
import { ScriptTranscriber } from './fixtures/script-transcriber.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { concat, silence, speak, type SpeechVoice } from './fixtures/speech.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';
import { ensureTinyPiperVoice } from './models/piper-voice.ts';
import { ensureTinyWhisperModel } from './models/whisper-ggml.ts';

/**
 * Whole turns through the Assistant, from generated speech in a simulated room to a virtual speaker, in real
 * time. Wake word and VAD run on their real weights; Whisper, the LLM and Piper run in their real native
 * runtimes on test-made random-weight models, so transcripts and answers are not words: the tests check the
 * order and timing of what happens, not the text. Where a test needs an answer with known words, a scripted
 * responder stands in for the LLM (said in the test's name).
 */

const user: SpeechVoice = { engine: 'espeak', voice: 'en-us', wordsPerMinute: 160 };
let configInput: { vad: Record<string, unknown> } & Record<string, unknown>;
let config: JarvisConfig;
let wake: OpenWakeWordDetector;
let vad: SileroVad;
let whisper: WhisperTranscriber;
let piper: PiperSynthesizer;
let espeak: EspeakSynthesizer;
let llm: LlamaResponder;

before(async () => {
  const [whisperModel, ggufModel, piperVoice] = await Promise.all([ensureTinyWhisperModel(), ensureTinyGguf(), ensureTinyPiperVoice()]);
  configInput = {
    stt: { model: whisperModel, threads: 1 },
    llm: { model: ggufModel, maxAnswerTokens: 24, restartDelayMs: 100 },
    tts: { voice: piperVoice },
    // The test-made Whisper model cannot hear "Jarvis", so the transcript check would drop every turn.
    wake: { verifyTranscript: false },
    vad: { hangoverMs: 600, noSpeechTimeoutMs: 3000 },
    conversation: { followUpMs: 6000 },
  };
  config = parseConfig(configInput);
  [wake, vad] = await Promise.all([OpenWakeWordDetector.create({ threshold: 0.5 }), SileroVad.create()]);
  whisper = new WhisperTranscriber({ model: config.stt.model, threads: 1, language: 'en', useGpu: false });
  piper = new PiperSynthesizer({ voicePath: piperVoice, rate: 1 });
  espeak = new EspeakSynthesizer({ voice: 'en-gb', rate: 1.3 });
  llm = new LlamaResponder(config.llm, { threads: 1 });
  await Promise.all([whisper.load(), piper.load(), espeak.load(), llm.load()]);
});

after(async () => {
  await Promise.all([wake?.dispose(), vad?.dispose(), whisper?.dispose(), piper?.dispose(), espeak?.dispose(), llm?.dispose()]);
});

interface Session {
  assistant: Assistant;
  events: RunEvent[];
  phases: Phase[];
  sink: VirtualSink;
  room: Room;
}

/**
 * A conversation in a room: `script` says what the user says and when (speech, pauses, silence until something
 * happened). On the room's audio clock unless `pace` is 1: the few checks of real latency run in real time.
 */
async function converse(
  script: (room: Room, session: Session) => void,
  options: {
    responder?: Responder;
    transcriber?: Transcriber | ((room: Room) => Transcriber);
    synthesizer?: Synthesizer;
    echo?: boolean;
    pace?: number;
    config?: JarvisConfig;
    onEvent?: (e: RunEvent, s: Session) => void;
  } = {},
): Promise<Session> {
  wake.reset();
  const realTime = options.pace === 1;
  const clock = new ManualClock(Date.now());
  const sink = new VirtualSink({ speed: 1, sampleRate: 22_050, ...(realTime ? {} : { clock }) });
  const room = new Room({ clock, ...(options.echo ? { sink } : {}), ...(options.pace ? { pace: options.pace } : {}) });
  const time = realTime ? {} : { clock };
  const guard = options.echo ? new EchoGuard(sink, await OpenWakeWordDetector.create({ threshold: 0.3 }), time) : undefined;
  const engines: AssistantEngines = {
    source: room,
    sink,
    wake,
    vad,
    transcriber: typeof options.transcriber === 'function' ? options.transcriber(room) : (options.transcriber ?? whisper),
    responder: options.responder ?? llm,
    synthesizer: options.synthesizer ?? piper,
    ...(guard ? { echoGuard: guard } : {}),
  };
  const assistant = new Assistant(engines, options.config ?? config, silentLogger, time);
  const session: Session = { assistant, events: [], phases: [], sink, room };
  assistant.bus.subscribe((event) => {
    session.events.push(event);
    options.onEvent?.(event, session);
  });
  assistant.on('state', (state) => session.phases.push(state.phase));
  script(room, session);
  await assistant.listen(new AbortController().signal);
  await assistant.dispose();
  await guard?.dispose();
  return session;
}

const types = (events: RunEvent[], runId: number) => events.filter((e) => e.runId === runId).map((e) => e.type);
const runEnd = (events: RunEvent[], runId: number) => events.find((e) => e.runId === runId && e.type === 'run-end') as Extract<RunEvent, { type: 'run-end' }> | undefined;
/** True once `count` runs have ended (for silence that lasts until the answer is over). */
const runsEnded = (session: Session, count: number) => () => session.events.filter((e) => e.type === 'run-end').length >= count;
const seen = (session: Session, match: (e: RunEvent) => boolean) => () => session.events.some(match);
/** True when every run that started has ended: nothing is being heard, thought or said. */
const allRunsEnded = (session: Session) => () => {
  const count = (type: RunEvent['type']) => session.events.filter((e) => e.type === type).length;
  return count('run-start') === count('run-end');
};

describe('a whole spoken turn (real engines; Whisper, LLM and Piper on test-made random-weight models; on audio time)', () => {
  test('"hey jarvis, what time is it": events in order with monotonic timestamps, and speech comes out', async () => {
    const question = await speak('hey jarvis, what time is it', user);
    const { events, phases, sink, room } = await converse((room, session) => room.pause(700).say(question, 'question').until(runsEnded(session, 1)).pause(300));
    const run = events[0]!.runId;
    const order = types(events, run).filter((t) => !['sentence', 'tts-start', 'tts-end', 'playback-start', 'stt-partial'].includes(t));
    assert.deepEqual(order, ['run-start', 'wake', 'vad-start', 'vad-end', 'stt-start', 'stt-end', 'llm-start', 'first-token', 'llm-end', 'playback-end', 'run-end'], JSON.stringify(types(events, run)));
    const mine = events.filter((e) => e.runId === run);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.t >= mine[i - 1]!.t, `timestamps go back at ${mine[i]!.type}`);
    assert.equal(runEnd(events, run)?.outcome, 'answered');
    // The request was transcribed in its last pause, and that transcript served the turn: no second Whisper run.
    const sttEnd = mine.find((e) => e.type === 'stt-end');
    assert.ok(sttEnd?.type === 'stt-end' && sttEnd.live === true, JSON.stringify(sttEnd));
    assert.ok(mine.some((e) => e.type === 'stt-partial' && e.text === sttEnd.text));
    assert.ok(mine.some((e) => e.type === 'tts-end' && e.audioMs > 0));
    assert.deepEqual(phases.slice(0, 5), ['idle', 'listening', 'thinking', 'speaking', 'idle']);
    // On audio time the endpoint is exact: the VAD's hangover (600 ms) after the question, within a few frames.
    const endpoint = events.find((e) => e.type === 'vad-end')!.t - room.at('question').endMs;
    assert.ok(endpoint >= 300 && endpoint <= 1000, `the request ended ${Math.round(endpoint)} ms (audio) after the speech`);
    const heard = sink.recording();
    assert.ok(heard.samples.length > 0.2 * heard.sampleRate, 'the reply has audio');
    assert.ok(levelDbfs(heard.samples) > -40, 'the reply is not silence');
    const reply = decodeWav(encodeWav(heard), 'reply', heard.sampleRate);
    assert.equal(reply.length, heard.samples.length, 'a valid WAV of the reply');
  });

  test('a follow-up question within the window needs no wake word; the second turn reuses the loaded models', async () => {
    const loads = whisper.loadCount;
    const pid = llm.workerPid;
    const [first, second] = await Promise.all([speak('hey jarvis, set a timer', user), speak('and what about tomorrow', user)]);
    const { events } = await converse(
      (room, session) => room.pause(600).say(first).until(runsEnded(session, 1)).pause(800).say(second).until(runsEnded(session, 2)).pause(300),
      { responder: new ScriptedResponder(() => 'Sure. Done.') },
    );
    const runs = [...new Set(events.map((e) => e.runId))];
    assert.equal(runs.length, 2, JSON.stringify(events.map((e) => [e.runId, e.type])));
    assert.equal(events.find((e) => e.runId === runs[1] && e.type === 'run-start' && e.trigger === 'follow-up')?.type, 'run-start');
    assert.ok(!types(events, runs[1]!).includes('wake'));
    assert.equal(runEnd(events, runs[1]!)?.outcome, 'answered');
    assert.equal(whisper.loadCount, loads, 'Whisper was not loaded again');
    assert.equal(llm.workerPid, pid, 'the LLM worker is the same process');
  });

  test('after the follow-up window, speech without the wake word is ignored', async () => {
    const [first, later] = await Promise.all([speak('hey jarvis, set a timer', user), speak('what about tomorrow', user)]);
    // conversation.followUpMs is 6000: 7 s of silence after the answer closes the window.
    const { events } = await converse((room, session) => room.pause(600).say(first).until(runsEnded(session, 1)).pause(7000).say(later).pause(2000), {
      responder: new ScriptedResponder(() => 'Done.'),
    });
    assert.equal(new Set(events.map((e) => e.runId)).size, 1);
  });

  test('wake word then nobody speaks: no-speech after vad.noSpeechTimeoutMs of audio, back to idle', async () => {
    const keyword = await speak('hey jarvis', user);
    const { events, phases, room } = await converse((room) => room.pause(500).say(keyword, 'keyword').pause(4500));
    assert.deepEqual(types(events, events[0]!.runId), ['run-start', 'wake', 'no-speech', 'run-end']);
    assert.equal(runEnd(events, events[0]!.runId)?.outcome, 'no-speech');
    assert.deepEqual(phases, ['idle', 'listening', 'idle']);
    const gaveUp = events.find((e) => e.type === 'no-speech')!.t - events.find((e) => e.type === 'wake')!.t;
    assert.ok(gaveUp >= 3000 && gaveUp < 3500, `gave up ${Math.round(gaveUp)} ms (audio) after the wake word; noSpeechTimeoutMs is 3000`);
    assert.ok(room.at('keyword').endMs <= events.find((e) => e.type === 'wake')!.t + 500);
  });
});

describe('barge-in and our own voice (scripted LLM answers with known words, real wake/VAD/STT/TTS)', () => {
  const longAnswer = () =>
    'It is half past ten in the morning. The sun rose at seven. Rain is expected after lunch, so take an umbrella. ' +
    'Tomorrow will be colder, with a chance of frost overnight. The weekend looks bright and dry.';

  test('speech starts with the first sentence while the LLM is still writing the rest (audio time)', async () => {
    const question = await speak('hey jarvis, what is the weather', user);
    const slow = new ScriptedResponder(() => 'It is sunny. Later it will rain. Tomorrow it will be cold.', 150);
    const { events } = await converse((room, session) => room.pause(500).say(question).until(runsEnded(session, 1)).pause(300), { responder: slow, synthesizer: espeak });
    const firstPlay = events.find((e) => e.type === 'playback-start')!;
    const llmEnd = events.find((e) => e.type === 'llm-end')!;
    const sentences = events.filter((e) => e.type === 'sentence');
    assert.equal(sentences.length, 3);
    assert.ok(firstPlay.t < llmEnd.t, `first audio ${Math.round(llmEnd.t - firstPlay.t)} ms before the answer was complete`);
    assert.ok(firstPlay.t < sentences[1]!.t, 'the first sentence plays before the second is even written');
  });

  test('saying the wake word while it speaks aborts the answer; the sink goes silent within 200 ms (real time)', async () => {
    const first = await speak('hey jarvis, what is the weather', user);
    const second = await speak('hey jarvis', { engine: 'espeak', voice: 'en-gb', wordsPerMinute: 140 });
    let stoppedAt = 0;
    const session = await converse(
      (room, s) => room.pause(500).say(first).until(seen(s, (e) => e.type === 'playback-start')).pause(1500).say(second, 'barge').pause(3000),
      {
        pace: 1,
        responder: new ScriptedResponder(longAnswer),
        synthesizer: espeak,
        onEvent: (event, s) => {
          if (event.type === 'barge-in') stoppedAt = s.sink.heardMs();
        },
      },
    );
    const { events, sink } = session;
    const run = events[0]!.runId;
    const barge = events.find((e) => e.type === 'barge-in');
    assert.ok(barge && barge.type === 'barge-in' && barge.cause === 'wake', JSON.stringify(types(events, run)));
    assert.equal(barge.runId, run, 'the answer being spoken was interrupted');
    assert.ok(types(events, run).includes('playback-start'), 'it was speaking');
    assert.equal(runEnd(events, run)?.outcome, 'interrupted');
    // The barge-in is decided on the audio, so it comes shortly after the keyword ends.
    const keywordEnd = session.room.at('barge').endMs;
    assert.ok(barge.t - keywordEnd < 1000, `wake detected ${Math.round(barge.t - keywordEnd)} ms after the keyword ended`);
    // Nothing more is heard after the stop: what was heard grew by less than 200 ms of audio after it.
    const grewMs = sink.heardMs() - stoppedAt;
    assert.ok(grewMs <= 200, `sink went on for ${grewMs.toFixed(0)} ms`);
    // And a new turn listens for the request that follows the wake word.
    const next = events.find((e) => e.runId !== run && e.type === 'wake');
    assert.ok(next, 'the interrupting wake word opened a new turn');
  });

  test('its own voice saying "hey Jarvis" through the room does not wake it; a person saying it does', async () => {
    const selfNaming = () => 'My name is Jarvis. You can wake me by saying hey Jarvis at any time. Hey Jarvis is how it starts.';
    const request = await speak('hey jarvis, who are you', user);
    const { events } = await converse((room, session) => room.pause(500).say(request).until(runsEnded(session, 1)).pause(1000), {
      responder: new ScriptedResponder(selfNaming),
      synthesizer: espeak,
      echo: true,
    });
    assert.ok(events.some((e) => e.type === 'playback-end'), 'the answer was played into the room');
    assert.equal(events.filter((e) => e.type === 'barge-in').length, 0, JSON.stringify(events.map((e) => [e.runId, e.type])));
    assert.equal(events.filter((e) => e.type === 'wake').length, 1);
    assert.equal(runEnd(events, events[0]!.runId)?.outcome, 'answered');
  });

  test('saying "stop" while it speaks silences it (scripted transcripts: the test-made Whisper hears no words; real time)', async () => {
    // Real Whisper runs on every utterance; only its text is replaced: the request's words, then "stop".
    const [request, stop] = await Promise.all([speak('hey jarvis, what is the weather', user), speak('stop', user)]);
    let heardAtStop = 0;
    const session = await converse(
      (room, s) => room.pause(500).say(request, 'request').until(seen(s, (e) => e.type === 'playback-start')).pause(1500).say(stop, 'stop').pause(3000),
      {
        pace: 1,
        responder: new ScriptedResponder(longAnswer),
        synthesizer: espeak,
        transcriber: (room) => new ScriptTranscriber(whisper, room, [
          { label: 'request', text: 'Hey Jarvis, what is the weather?' },
          { label: 'stop', text: 'Stop.' },
        ]),
        onEvent: (event, s) => {
          if (event.type === 'barge-in') heardAtStop = s.sink.heardMs();
        },
      },
    );
    const run = session.events[0]!.runId;
    const barge = session.events.find((e) => e.type === 'barge-in');
    assert.ok(barge?.type === 'barge-in' && barge.cause === 'stop-phrase', JSON.stringify(types(session.events, run)));
    assert.equal(runEnd(session.events, run)?.outcome, 'interrupted');
    assert.ok(session.sink.heardMs() - heardAtStop <= 200);
    assert.equal(new Set(session.events.map((e) => e.runId)).size, 1, 'no follow-up turn');
  });

  test('the transcript check looks for the name in wake.phrase: a custom phrase passes, "Jarvis" and near misses are dropped', async () => {
    const question = await speak('hey jarvis, what time is it', user);
    const heardAs = async (transcript: string, phrase: string) => {
      const custom = parseConfig({ ...configInput, wake: { verifyTranscript: true, phrase } });
      const session = await converse((room, s) => room.pause(500).say(question, 'question').until(runsEnded(s, 1)).pause(300), {
        config: custom,
        responder: new ScriptedResponder(() => 'Ten past six.'),
        synthesizer: espeak,
        transcriber: (room) => new ScriptTranscriber(whisper, room, [{ label: 'question', text: transcript }]),
      });
      return { outcome: runEnd(session.events, session.events[0]!.runId)?.outcome, events: session.events };
    };
    const custom = await heardAs('Hey Computer, what time is it?', 'hey computer');
    assert.equal(custom.outcome, 'answered');
    const sttEnd = custom.events.find((e) => e.type === 'stt-end');
    assert.ok(sttEnd?.type === 'stt-end' && sttEnd.text === 'what time is it?', JSON.stringify(sttEnd));
    assert.equal((await heardAs('Hey Jarvis, what time is it?', 'hey computer')).outcome, 'false-wake');
    assert.equal((await heardAs('Hey Jervis, what time is it?', 'hey jarvis')).outcome, 'answered');
    assert.equal((await heardAs('Hey Travis, what time is it?', 'hey jarvis')).outcome, 'false-wake');
  });

  test('the stop command silences it at once, no follow-up is opened, and the conversation keeps only what was heard', async () => {
    const request = await speak('hey jarvis, what is the weather', user);
    const responder = new ScriptedResponder(longAnswer);
    const session = await converse((room, s) => room.pause(500).say(request).until(runsEnded(s, 1)).pause(8000), {
      responder,
      synthesizer: espeak,
      onEvent: (event, s) => {
        if (event.type === 'playback-start' && event.index === 1) s.assistant.stop();
      },
    });
    const run = session.events[0]!.runId;
    assert.equal(runEnd(session.events, run)?.outcome, 'interrupted');
    assert.equal(session.events.find((e) => e.type === 'barge-in' && e.cause === 'command')?.runId, run);
    assert.equal(new Set(session.events.map((e) => e.runId)).size, 1, 'no follow-up turn from the silence after');
    assert.equal(session.phases.at(-1), 'idle');
    // Stopped as the second sentence started: the first was heard, the rest of the answer never was.
    assert.deepEqual(responder.cutOffs, ['It is half past ten in the morning.']);
  });
});

describe('failures inside a turn (on audio time)', () => {
  test('the LLM worker dies mid-answer (real node-llama-cpp worker killed): spoken apology, restart, next turn works', async () => {
    let killed = false;
    let restarted = false;
    const stopWatching = llm.subscribe((event) => {
      if (event.type === 'restarted') restarted = true;
    });
    const [story, again] = await Promise.all([speak('hey jarvis, tell me a story', user), speak('hey jarvis, and now', user)]);
    const { events } = await converse(
      (room, session) =>
        room
          .pause(500)
          .say(story)
          .until(() => runsEnded(session, 1)() && restarted)
          .pause(500)
          .say(again)
          .until(runsEnded(session, 2))
          .pause(300),
      {
        onEvent: (event) => {
          if (event.type === 'first-token' && !killed) {
            killed = true;
            process.kill(llm.workerPid!, 'SIGKILL');
          }
        },
      },
    );
    stopWatching();
    const runs = [...new Set(events.map((e) => e.runId))];
    const first = events.filter((e) => e.runId === runs[0]);
    assert.ok(first.some((e) => e.type === 'error' && e.stage === 'llm' && e.code === 'llm-crashed'), JSON.stringify(first.map((e) => e.type)));
    assert.ok(first.some((e) => e.type === 'tts-start' && e.text === SPOKEN.llmCrashed), 'the apology is spoken');
    assert.equal(runEnd(events, runs[0]!)?.outcome, 'error');
    const second = runs.find((id) => runEnd(events, id)?.outcome === 'answered');
    assert.ok(second, `a later turn is answered: ${JSON.stringify(runs.map((id) => runEnd(events, id)?.outcome))}`);
  });

  test('TTS fails: the fallback voice speaks; with no fallback the answer is still given as text and events', async () => {
    const broken: Synthesizer = {
      engine: 'broken-voice',
      load: async () => {},
      synthesize: async () => {
        throw new Error('voice model crashed');
      },
      dispose: async () => {},
    };
    const question = await speak('hey jarvis, what is the weather', user);
    const script = (room: Room, session: Session) => room.pause(500).say(question).until(runsEnded(session, 1)).pause(300);
    const answer = () => 'It is sunny. It is warm.';
    const withFallback = await converse(script, { responder: new ScriptedResponder(answer), synthesizer: new FallbackSynthesizer(broken, espeak) });
    assert.ok(withFallback.events.some((e) => e.type === 'error' && e.stage === 'tts' && e.message.startsWith('broken-voice: voice model crashed')));
    assert.ok(withFallback.events.some((e) => e.type === 'tts-end' && e.engine === 'espeak'));
    assert.ok(withFallback.sink.recording().samples.length > 0);

    const textOnly = await converse(script, { responder: new ScriptedResponder(answer), synthesizer: broken });
    const run = textOnly.events[0]!.runId;
    assert.equal(runEnd(textOnly.events, run)?.outcome, 'answered');
    assert.deepEqual(textOnly.events.filter((e) => e.type === 'sentence').map((e) => (e as { text: string }).text), ['It is sunny.', 'It is warm.']);
    assert.equal(textOnly.events.filter((e) => e.type === 'error' && e.stage === 'tts').length, 2);
    assert.equal(textOnly.sink.recording().samples.length, 0);
  });
});

/**
 * Words for the audio the room has played so far, with no model run (the test-made Whisper hears no words): what
 * was said up to the last labelled part the room reached. Instant, so on audio time a pause's transcript arrives
 * within the same chunk and the turn's end is exact to a chunk.
 */
function wordsSoFar(parts: readonly { label: string; text: string }[]): (room: Room) => Transcriber {
  return (room) => ({
    engine: 'words from the script',
    load: async () => {},
    transcribe: async (pcm) => {
      const said = parts.filter((part) => room.reached(part.label)).map((part) => part.text);
      return { text: `Hey Jarvis, ${said.join(' ')}`, audioMs: (pcm.length / 16_000) * 1000 };
    },
    dispose: async () => {},
  });
}

describe('the turn ends on what was said, not a fixed silence (words from the script; on audio time)', () => {
  /** Requests with a hesitation after a word that announces more: each must come through as one request. */
  const hesitations = [
    ['set a timer for', 'twelve minutes', 600],
    ['remind me to call mum and', 'buy some milk', 650],
    ["what's the weather like in", 'Paris tomorrow', 550],
    ['turn on the', 'kitchen lights', 700],
    ['what is the capital of um', 'France', 600],
  ] as const;

  async function say(first: string, second: string, hesitationMs: number, turnEndMode: 'meaning' | 'silence') {
    const [a, b] = await Promise.all([speak(`hey jarvis, ${first}`, user), speak(second, user)]);
    const tuned = parseConfig({ ...configInput, vad: { ...configInput.vad, turnEnd: turnEndMode } });
    return converse((room, s) => room.pause(500).say(a, 'first').pause(hesitationMs).say(b, 'second').until(allRunsEnded(s)).pause(300), {
      config: tuned,
      responder: new ScriptedResponder(() => 'Done.'),
      synthesizer: espeak,
      transcriber: wordsSoFar([
        { label: 'first', text: first },
        { label: 'second', text: `${second}.` },
      ]),
    });
  }

  for (const [first, second, hesitationMs] of hesitations) {
    test(`"${first} … (${hesitationMs} ms) … ${second}" is one request`, async () => {
      const { events } = await say(first, second, hesitationMs, 'meaning');
      const partials = events.filter((e) => e.type === 'stt-partial').map((e) => (e as { text: string }).text);
      assert.ok(partials.includes(first), `the pause was heard and transcribed: ${JSON.stringify(partials)}`);
      assert.equal(events.filter((e) => e.type === 'vad-end').length, 1, JSON.stringify(events.map((e) => e.type)));
      const transcript = events.find((e) => e.type === 'stt-end');
      assert.ok(transcript?.type === 'stt-end');
      assert.equal(transcript.text, `${first} ${second}.`);
      assert.equal(transcript.live, true, 'the transcript taken in the last pause was the request\'s');
    });
  }

  test('the same hesitation with the fixed silence rule (vad.turnEnd "silence") cuts the request: what the rule fixes', async () => {
    const [first, second] = ['set a timer for', 'twelve minutes'];
    const { events } = await say(first, second, 700, 'silence');
    const ended = events.find((e) => e.type === 'vad-end');
    const heard = events.find((e) => e.type === 'stt-end');
    assert.ok(ended && heard?.type === 'stt-end');
    assert.equal(heard.text, first, 'the request ended in the hesitation');
  });

  test('thinking starts in the pause: a confirmed request takes the answer begun before its end', async () => {
    const question = await speak('hey jarvis, what is the capital of France', user);
    const tuned = parseConfig({ ...configInput, vad: { ...configInput.vad, turnEnd: 'meaning' } });
    const responder = new ScriptedResponder(() => 'Paris.');
    const { events } = await converse((r, s) => r.pause(500).say(question, 'question').until(runsEnded(s, 1)).pause(300), {
      config: tuned,
      responder,
      synthesizer: espeak,
      transcriber: wordsSoFar([{ label: 'question', text: 'what is the capital of France?' }]),
    });
    const start = events.find((e) => e.type === 'llm-start');
    const ended = events.find((e) => e.type === 'vad-end')!;
    assert.ok(start?.type === 'llm-start' && start.earlyMs !== undefined && start.earlyMs > 0, JSON.stringify(start));
    assert.ok(start.t >= ended.t, 'nothing is said before the end is confirmed');
    assert.deepEqual(responder.questions, ['what is the capital of France?'], 'asked once');
    assert.deepEqual(responder.retracted, []);
    assert.equal(runEnd(events, events[0]!.runId)?.outcome, 'answered');
  });

  test('the person speaks on after a pause: the answer started in it is dropped and forgotten, the whole request answered', async () => {
    const [first, second] = await Promise.all([speak('hey jarvis, tell me about the weather', user), speak('in Paris', user)]);
    const tuned = parseConfig({ ...configInput, vad: { ...configInput.vad, turnEnd: 'meaning' } });
    const responder = new ScriptedResponder(() => 'It is mild.');
    const { events } = await converse((r, s) => r.pause(500).say(first, 'first').pause(250).say(second, 'second').until(allRunsEnded(s)).pause(300), {
      config: tuned,
      responder,
      synthesizer: espeak,
      transcriber: wordsSoFar([
        { label: 'first', text: 'tell me about the weather' },
        { label: 'second', text: 'in Paris.' },
      ]),
    });
    assert.equal(events.filter((e) => e.type === 'vad-end').length, 1);
    assert.deepEqual(events.filter((e) => e.type === 'speculation-discarded').map((e) => (e as { text: string }).text), ['tell me about the weather']);
    assert.deepEqual(responder.retracted, ['tell me about the weather'], 'the responder forgot the withdrawn question');
    assert.equal(responder.questions.at(-1), 'tell me about the weather in Paris.');
    assert.equal(runEnd(events, events[0]!.runId)?.outcome, 'answered');
  });

  test('a complete request ends after vad.completeMs of silence, not the hangover', async () => {
    const question = await speak('hey jarvis, what is the capital of France', user);
    const tuned = parseConfig({ ...configInput, vad: { ...configInput.vad, turnEnd: 'meaning' } });
    const { events, room } = await converse((r, s) => r.pause(500).say(question, 'question').until(runsEnded(s, 1)).pause(300), {
      config: tuned,
      responder: new ScriptedResponder(() => 'Paris.'),
      synthesizer: espeak,
      transcriber: wordsSoFar([{ label: 'question', text: 'what is the capital of France?' }]),
    });
    const ended = events.find((e) => e.type === 'vad-end');
    assert.ok(ended?.type === 'vad-end' && ended.turnEnd?.reason === 'complete', JSON.stringify(ended));
    assert.equal(ended.turnEnd.silenceMs, tuned.vad.completeMs);
    // From the end of the clip (espeak leaves ~100 ms of silence after the words) to the request's end: the VAD's
    // own lag plus completeMs, far under the 600 ms hangover.
    const delay = ended.t - room.at('question').endMs;
    assert.ok(delay <= tuned.vad.completeMs + 200, `the request ended ${Math.round(delay)} ms after the clip`);
    assert.equal(events.find((e) => e.type === 'stt-end')?.type === 'stt-end' && (events.find((e) => e.type === 'stt-end') as { ms: number }).ms, 0, 'its transcript was ready');
  });
});
