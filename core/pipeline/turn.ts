import { describeError, isAbortError, LlmWorkerCrashedError, ModelFileError } from '../../base/errors.ts';
import { ModelServerError } from '../../base/openai-server.ts';
import type { RunRecorder } from '../events.ts';
import type { RunOutcome } from '../protocol/run-events.ts';
import type { ImageInput, Responder } from '../responder.ts';
import { VisionError } from '../llm/vision.ts';
import { SentenceSplitter } from '../sentences.ts';
import { CAPTURE_SAMPLE_RATE, type Transcriber } from '../../voice/ports.ts';
import { samplesToMs } from '../../voice/pcm.ts';
import { SpeechOutput, type SpeechOutputDeps } from './speech-output.ts';
import { cleanTranscript, splitAtWakeWord, type WakeName } from './transcript.ts';
import { unreadableAnswer } from './unreadable-answer.ts';

export interface TurnDeps {
  /** Needed for audio requests only. */
  transcriber?: Transcriber;
  responder: Responder;
  /** Without a voice the answer is text only (run events), e.g. `jarvis ask` without --speak. */
  voice?: SpeechOutputDeps;
  /** Drop a turn whose audio began with a wake detection but whose transcript has no "Jarvis" in it. */
  verifyWakeWord: boolean;
  /** The name in the wake phrase, as the transcript check looks for it. */
  wakeName?: WakeName;
  /** Each piece of the answer as it streams (the screens show it growing). */
  onPiece?: (piece: string) => void;
  /**
   * Sentences an answer may have, asked when it starts; undefined: no limit. The LLM stops generating at the limit
   * (the GPU governor keeps answers short while the GPU is too hot).
   */
  sentenceCap?: () => number | undefined;
  /** The room the request was heard in (a satellite's area): the responder's "the lights" means the lights there. */
  area?: string;
}

/**
 * `includesWakeWord`: the audio starts with the wake word that opened the turn. `transcript`: its text, taken
 * while it was being spoken (core/pipeline/live-transcript.ts); undefined when that did not work out.
 */
export type TurnInput = (
  | { audio: Int16Array; includesWakeWord: boolean; transcript?: Promise<string | undefined>; early?: EarlyAnswer }
  | { text: string }
) & {
  /** A photo the request is about (the phone remote's "look"): the vision role answers it. */
  image?: ImageInput;
};

/** An answer started before the request's end, on the request as transcribed then (core/pipeline/speculation.ts). */
export interface EarlyAnswer {
  /** The request it was started on; the answer counts only if the turn's transcript is the same. */
  readonly text: string;
  /** Confirms it: the answer as it stands and the rest as it comes (stopped by `signal`), and how long before now it began. */
  readonly take: (signal: AbortSignal) => { answer: AsyncIterable<string>; earlyMs: number };
}

export interface TurnResult {
  outcome: RunOutcome;
  transcript?: string;
  answer?: string;
}

export const SPOKEN = {
  didNotCatch: "Sorry, I didn't catch that.",
  sttServerFailed: 'Sorry, my speech recognition server is not working. The screen says what is wrong.',
  llmCrashed: 'Sorry, my language model stopped while I was thinking. It is restarting, please ask me again.',
  llmFailed: 'Sorry, I cannot answer right now. The screen says what is wrong.',
  modelMissing: 'Sorry, I cannot do that yet: a model file is missing. The screen and the log say which one and how to get it.',
} as const;

/**
 * One turn: transcribe (when the request is audio), stream the answer, speak it sentence by sentence. Every step
 * is reported on `run`; `signal` aborts all of it (barge-in, stop, shutdown) and silences the sink at once.
 * `onSpeaking` fires when the first audio starts playing.
 */
export async function runTurn(
  deps: TurnDeps,
  run: RunRecorder,
  input: TurnInput,
  signal: AbortSignal,
  onSpeaking: () => void = () => {},
): Promise<TurnResult> {
  const speech = deps.voice ? new SpeechOutput(deps.voice, run, signal, onSpeaking) : undefined;
  const say = (sentence: string) => speech?.say(sentence);
  /** `answered`: the responder's answer was being spoken (not an apology), so its conversation hears of a cut. */
  const finish = async (result: TurnResult, answered = false): Promise<TurnResult> => {
    const played = await speech?.finish();
    const outcome = signal.aborted || played?.interrupted ? 'interrupted' : result.outcome;
    if (answered && played && outcome === 'interrupted') {
      // The conversation keeps what the user heard, not everything the model wrote.
      await deps.responder.answerCutOff(played.heard).catch((error: unknown) => {
        const { code, message } = describeError(error);
        run.emit({ type: 'error', stage: 'llm', code, message: `could not shorten the interrupted answer in the conversation: ${message}` });
      });
    }
    run.end(outcome);
    return { ...result, outcome };
  };

  let text: string;
  if ('audio' in input) {
    const audioMs = samplesToMs(input.audio.length, CAPTURE_SAMPLE_RATE);
    run.emit({ type: 'stt-start', audioMs });
    const started = run.clock.monotonic();
    let raw: string;
    let live = false;
    try {
      const taken = await input.transcript;
      live = taken !== undefined;
      if (taken !== undefined) raw = taken;
      else if (!deps.transcriber) throw new Error('no speech-to-text engine for an audio request');
      else raw = (await deps.transcriber.transcribe(input.audio, signal)).text;
    } catch (error) {
      if (isAbortError(error) || signal.aborted) return finish({ outcome: 'interrupted' });
      const { code, message, fix } = describeError(error);
      run.emit({ type: 'error', stage: 'stt', code, message, fix });
      // A server that is down is not a mumble: saying "I didn't catch that" would have the user repeat in vain.
      say(error instanceof ModelFileError ? SPOKEN.modelMissing : error instanceof ModelServerError ? SPOKEN.sttServerFailed : SPOKEN.didNotCatch);
      return finish({ outcome: 'error' });
    }
    const heard = input.includesWakeWord
      ? splitAtWakeWord(raw, deps.wakeName)
      : { heardWakeWord: false, request: cleanTranscript(raw, deps.wakeName) };
    text = heard.request;
    run.emit({ type: 'stt-end', text, ms: run.since(started), ...(live ? { live } : {}) });
    if (input.includesWakeWord && deps.verifyWakeWord && !heard.heardWakeWord) {
      run.emit({ type: 'wake-rejected', heard: raw.trim() });
      return finish({ outcome: 'false-wake', transcript: text });
    }
    if (!text) {
      say(SPOKEN.didNotCatch);
      return finish({ outcome: 'empty-transcript', transcript: '' });
    }
  } else {
    text = input.text.trim();
  }

  // An answer cut at its sentence limit ends like any other: the limit stops the LLM, not the turn.
  const cap = deps.sentenceCap?.();
  const limit = new AbortController();
  const answerSignal = cap === undefined ? signal : AbortSignal.any([signal, limit.signal]);
  const early = 'audio' in input && input.early?.text === text ? input.early.take(answerSignal) : undefined;
  const answer = await streamAnswer(deps, run, text, answerSignal, say, early, cap === undefined ? undefined : { sentences: cap, stop: () => limit.abort() }, input.image);
  if (answer.error) {
    const { code, message, fix } = describeError(answer.error);
    run.emit({ type: 'error', stage: 'llm', code, message, fix });
    say(
      answer.error instanceof VisionError
        ? answer.error.spoken
        : answer.error instanceof LlmWorkerCrashedError
          ? SPOKEN.llmCrashed
          : answer.error instanceof ModelFileError
            ? SPOKEN.modelMissing
            : SPOKEN.llmFailed,
    );
    return finish({ outcome: 'error', transcript: text, answer: answer.text });
  }
  return finish({ outcome: 'answered', transcript: text, answer: answer.text }, true);
}

async function streamAnswer(
  { responder, onPiece, area }: TurnDeps,
  run: RunRecorder,
  question: string,
  signal: AbortSignal,
  onSentence: (sentence: string) => void,
  early?: { answer: AsyncIterable<string>; earlyMs: number },
  cap?: { sentences: number; stop: () => void },
  image?: ImageInput,
): Promise<{ text: string; error?: unknown }> {
  const splitter = new SentenceSplitter();
  let sentenceIndex = 0;
  let capped = false;
  const emitSentences = (sentences: string[]) => {
    for (const sentence of sentences) {
      if (capped) return;
      run.emit({ type: 'sentence', index: sentenceIndex++, text: sentence });
      onSentence(sentence);
      if (cap && sentenceIndex >= cap.sentences) {
        capped = true;
        cap.stop();
      }
    }
  };
  run.emit({ type: 'llm-start', text: question, ...(early ? { earlyMs: early.earlyMs } : {}), ...(image ? { image: { type: image.type, bytes: image.data.byteLength } } : {}) });
  const started = run.clock.monotonic();
  let text = '';
  let pieces = 0;
  let error: unknown;
  try {
    for await (const piece of early?.answer ?? responder.respond({ text: question, signal, run, ...(area === undefined ? {} : { area }), ...(image ? { image } : {}) })) {
      if (pieces++ === 0) run.emit({ type: 'first-token', ms: run.since(started) });
      text += piece;
      // Judged as it streams (holding text back would delay every answer): a damaged model's answer stops early.
      const unreadable = unreadableAnswer(text);
      if (unreadable) throw unreadable;
      onPiece?.(piece);
      emitSentences(splitter.push(piece));
    }
  } catch (caught) {
    if (!isAbortError(caught) && !signal.aborted) error = caught;
  }
  if (!error && !signal.aborted) emitSentences(splitter.flush());
  run.emit({ type: 'llm-end', text: text.trim(), ms: run.since(started), pieces, aborted: signal.aborted && !capped });
  return error ? { text, error } : { text };
}
