import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { JarvisError } from '../../base/errors.ts';
import type { RunEvent, RunEventType } from '../../core/protocol/run-events.ts';
import type { Logger } from '../../base/log.ts';
import { turnTimings } from '../../core/protocol/timings.ts';
import { silence } from '../../test/fixtures/speech.ts';
import { VirtualSink } from '../../voice/audio/virtual-sink.ts';
import { openLiveSession } from '../lib/live-session.ts';
import { ProbeSink } from '../lib/probe-sink.ts';
import type { BenchSetup } from '../lib/setup.ts';
import { asWhisperWrites } from '../lib/script-words.ts';
import type { TurnClip } from '../lib/speech-sets.ts';

/**
 * Whole spoken turns through the daemon as `jarvis start` assembles it (createDaemon),
 * in real time: a generated person says "hey jarvis", a pause, a question, into a live room; the answer plays on
 * a real-time virtual speaker. Every latency comes from the turn's run events; the only other clock readings are
 * the ground truth of when the person stopped speaking (the room) and when the speaker went silent (the sink).
 *
 * Each answer is then cut short, in turn by the stop command, by the person saying "hey jarvis" again (which
 * also starts the next turn), and, when Whisper can hear words, by the person saying "stop": those are the
 * barge-in figures.
 */

export type BargeInKind = 'command' | 'wake' | 'stop-phrase';

export interface TurnRecord {
  readonly voice: string;
  readonly question: string;
  /** End of the person's speech → vad-end. */
  readonly endpointMs: number;
  readonly vadToSttMs: number;
  readonly sttMs: number;
  readonly sttToLlmMs: number;
  readonly firstTokenMs: number;
  readonly firstSentenceMs: number;
  readonly sentenceToTtsMs: number;
  readonly ttsFirstMs: number;
  /** tts-end of the first sentence → playback-start. */
  readonly sinkStartMs: number;
  /** vad-end → playback-start (core/timings.ts voiceToVoice). */
  readonly afterEndpointMs: number;
  /** End of the person's speech → playback-start: what the person waits. */
  readonly voiceToVoiceMs: number;
  /** STT + LLM to the first sentence + TTS of it. */
  readonly enginesMs: number;
  /** afterEndpointMs − enginesMs. */
  readonly overheadMs: number;
  /** End of "hey jarvis" → the wake event. */
  readonly wakeDelayMs: number;
  readonly sttAudioMs: number;
  /** End of the person's speech → the request's final transcript (stt-end). */
  readonly finalTranscriptMs: number;
  /** Why the request ended when it did (vad-end's turnEnd), or 'silence' under the fixed rule. */
  readonly turnEnd: string;
  /** The answer had been started this long before the endpoint (llm-start earlyMs), or 0. */
  readonly earlyMs: number;
}

export interface BargeInRecord {
  readonly kind: BargeInKind;
  /** Trigger (end of the spoken word, or the stop() call) → barge-in run event. */
  readonly toEventMs: number;
  /** Trigger → the sink silenced. */
  readonly toSilentMs: number;
}

export interface TurnsResult {
  readonly turns: TurnRecord[];
  readonly bargeIns: BargeInRecord[];
  readonly wakeDelaysMs: number[];
  /** Turns that produced no figure, and why. */
  readonly incidents: string[];
  readonly engines: string[];
  readonly warmupTurns: number;
}

const WARMUP_TURNS = 1;
/** How long after the answer starts playing the stop command or "stop" interrupts it ("hey jarvis" starts at once). */
const INTERRUPT_AFTER_MS = 300;

export async function measureTurns(
  setup: BenchSetup,
  clips: TurnClip[],
  options: { turns: number; kinds: BargeInKind[]; log: Logger; turnEnd?: 'meaning' | 'silence' },
): Promise<TurnsResult> {
  // Every turn starts a conversation (llm.historyTurns = 0), so each measures the same prompt: with history kept,
  // the 9th and later answers on this build fail with llama.cpp's "context shift" error (see the bench report).
  // No follow-up window either: a "hey jarvis" said within it after an answer that ended by itself is taken as a
  // follow-up request (no wake event), and the turns after it would chain as follow-ups, not wake-word turns.
  const config = {
    ...setup.config,
    llm: { ...setup.config.llm, historyTurns: 0 },
    vad: { ...setup.config.vad, turnEnd: options.turnEnd ?? setup.config.vad.turnEnd },
    conversation: { ...setup.config.conversation, followUpMs: 0 },
  };
  const sink = new ProbeSink(new VirtualSink({ speed: 1, sampleRate: 22_050 }));
  const session = await openLiveSession(setup, config, sink, options.log);
  const { room, daemon, log } = session;
  const { assistant } = daemon;
  const broken = assistant.state.problems.filter((p) => p.blocking || p.id === 'stt-model' || p.id === 'llm-model');
  if (broken.length > 0) {
    await session.close();
    throw new JarvisError('bench-engines', `the engines did not load: ${broken.map((p) => p.message).join('; ')}`, broken[0]!.fix);
  }
  const result: TurnsResult = { turns: [], bargeIns: [], wakeDelaysMs: [], incidents: [], engines: [...daemon.summaries], warmupTurns: WARMUP_TURNS };
  const until = (deadline: number) => Math.max(0, deadline - performance.now());
  let pendingWakeBargeIn: number | undefined;
  let completed = 0;

  try {
    await room.pause(1500);
    const target = options.turns + WARMUP_TURNS;
    // One more turn when the last answer waits for its "hey jarvis"; that turn ends with the stop command.
    for (let attempt = 0; (completed < target || pendingWakeBargeIn !== undefined) && attempt < target + 10; attempt++) {
      const clip = clips[attempt % clips.length]!;
      const warmup = completed < WARMUP_TURNS;
      const kind: BargeInKind = warmup || completed >= target ? 'command' : options.kinds[(completed - WARMUP_TURNS) % options.kinds.length]!;
      const mark = log.mark();
      session.saying = `Hey Jarvis, ${asWhisperWrites(clip.question)}`;
      const keywordSaid = room.say(clip.wake);
      room.say(silence(150)).catch(() => undefined);
      const requestSaid = room.say(clip.request);
      const keyword = await keywordSaid;
      const wake = await log.next(mark, (e) => e.type === 'wake', until(keyword.endAt + 3000));

      if (pendingWakeBargeIn !== undefined) {
        const interrupted = pendingWakeBargeIn;
        pendingWakeBargeIn = undefined;
        const bargeIn = log.find(mark, (e) => e.type === 'barge-in' && e.runId === interrupted);
        const silent = sink.stopAfter(keyword.startAt);
        if (bargeIn && silent && bargeIn.type === 'barge-in' && bargeIn.cause === 'wake') {
          result.bargeIns.push({ kind: 'wake', toEventMs: bargeIn.t - keyword.endAt, toSilentMs: silent.at - keyword.endAt });
        } else {
          // The answer had ended before the keyword was heard; the new turn goes on.
          result.incidents.push(`"hey jarvis" during the answer did not interrupt it (${bargeIn ? 'cause ' + (bargeIn as { cause?: string }).cause : 'no barge-in event'})`);
        }
      }
      if (!wake) {
        result.incidents.push(`wake word missed: ${clip.voice}`);
        await requestSaid;
        await room.pause(2000);
        continue;
      }
      result.wakeDelaysMs.push(wake.t - keyword.endAt);
      const speech = await requestSaid;
      const run = wake.runId;
      const first = await log.next(mark, (e) => e.runId === run && (e.type === 'playback-start' || e.type === 'run-end'), until(speech.endAt + 60_000));
      if (!first || first.type !== 'playback-start') {
        const end = log.find(mark, (e) => e.runId === run && e.type === 'run-end');
        result.incidents.push(`turn ${attempt} ("${clip.question}", ${clip.voice}) ended without speaking: ${end?.type === 'run-end' ? end.outcome : 'timed out'}`);
        assistant.stop();
        await room.pause(1000);
        continue;
      }
      const record = turnRecord(log.ofRun(run), speech.endAt, keyword.endAt, clip);
      if (!record) {
        const error = log.ofRun(run).find((e) => e.type === 'error');
        result.incidents.push(
          `turn ${attempt} gave no voice-to-voice figure: ${error?.type === 'error' ? `${error.stage} error ${error.code}: ${error.message}` : `events ${log.ofRun(run).map((e) => e.type).join(', ')}`}`,
        );
      }
      else if (!warmup) result.turns.push(record);
      completed++;

      const interruptAfterMs = kind === 'wake' ? 0 : INTERRUPT_AFTER_MS;
      await sleep(interruptAfterMs);
      const ended = () => log.find(mark, (e) => e.runId === run && e.type === 'run-end') !== undefined;
      if (ended()) {
        result.incidents.push(`the answer ended within ${interruptAfterMs} ms, before it could be interrupted (${kind})`);
      } else if (kind === 'command') {
        const stoppedAt = performance.now();
        assistant.stop();
        const bargeIn = log.find(mark, (e) => e.runId === run && e.type === 'barge-in');
        const silent = sink.stopAfter(stoppedAt);
        if (!warmup && bargeIn && silent) result.bargeIns.push({ kind, toEventMs: bargeIn.t - stoppedAt, toSilentMs: silent.at - stoppedAt });
      } else if (kind === 'stop-phrase') {
        const markStop = log.mark();
        const said = await room.say(clip.stop);
        const bargeIn = await log.next(markStop, (e) => e.runId === run && e.type === 'barge-in', until(said.endAt + 5000));
        const silent = sink.stopAfter(said.startAt);
        if (bargeIn && bargeIn.type === 'barge-in' && bargeIn.cause === 'stop-phrase' && silent) {
          result.bargeIns.push({ kind, toEventMs: bargeIn.t - said.endAt, toSilentMs: silent.at - said.endAt });
        } else {
          result.incidents.push(`"stop" during the answer did not stop it (${clip.voice})`);
          assistant.stop();
        }
      } else {
        pendingWakeBargeIn = run; // the next turn's "hey jarvis" interrupts this answer
        continue;
      }
      await log.next(mark, (e) => e.runId === run && e.type === 'run-end', 10_000);
      await room.pause(300);
    }
    if (pendingWakeBargeIn !== undefined) assistant.stop();
    await room.pause(300);
  } finally {
    await session.close();
  }
  return result;
}

function turnRecord(events: RunEvent[], speechEndAt: number, keywordEndAt: number, clip: TurnClip): TurnRecord | undefined {
  const first = <T extends RunEventType>(type: T) => events.find((e) => e.type === type) as Extract<RunEvent, { type: T }> | undefined;
  const timings = turnTimings(events);
  const [wake, vadEnd, sttStart, sttEnd, llmStart, sentence, ttsStart, ttsEnd, playback] = [
    first('wake'), first('vad-end'), first('stt-start'), first('stt-end'), first('llm-start'), first('sentence'), first('tts-start'), first('tts-end'), first('playback-start'),
  ];
  if (!wake || !vadEnd || !sttStart || !sttEnd || !llmStart || !sentence || !ttsStart || !ttsEnd || !playback) return undefined;
  const { voiceToVoice, stt, firstToken, firstSentence, firstTts } = timings;
  if (voiceToVoice === undefined || stt === undefined || firstToken === undefined || firstSentence === undefined || firstTts === undefined) return undefined;
  const enginesMs = stt + firstSentence + firstTts;
  return {
    voice: clip.voice,
    question: clip.question,
    endpointMs: vadEnd.t - speechEndAt,
    vadToSttMs: sttStart.t - vadEnd.t,
    sttMs: stt,
    sttToLlmMs: llmStart.t - sttEnd.t,
    firstTokenMs: firstToken,
    firstSentenceMs: firstSentence,
    sentenceToTtsMs: ttsStart.t - sentence.t,
    ttsFirstMs: firstTts,
    sinkStartMs: playback.t - ttsEnd.t,
    afterEndpointMs: voiceToVoice,
    voiceToVoiceMs: playback.t - speechEndAt,
    enginesMs,
    overheadMs: voiceToVoice - enginesMs,
    wakeDelayMs: wake.t - keywordEndAt,
    sttAudioMs: sttStart.audioMs,
    finalTranscriptMs: sttEnd.t - speechEndAt,
    turnEnd: vadEnd.turnEnd?.reason ?? 'silence',
    earlyMs: llmStart.earlyMs ?? 0,
  };
}
