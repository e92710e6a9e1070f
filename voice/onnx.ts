import './onnx-telemetry-off.ts';
import fs from 'node:fs';
import type * as ort from 'onnxruntime-node';
import { ModelFileError } from '../base/errors.ts';

/**
 * onnxruntime-node, loaded when a model is first opened: a large native module that the commands which open no
 * model (`jarvis timers`, `jarvis models list`) never need.
 */
export function onnxRuntime(): Promise<typeof ort> {
  return import('onnxruntime-node');
}

/**
 * One CPU thread: the always-on stages (wake word, VAD) each cost a few percent of a core and must not fight
 * Whisper and the LLM for threads.
 */
export const SINGLE_THREAD_SESSION: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

/** Opens an ONNX model with one CPU thread; a missing or unreadable file is a ModelFileError with its fix. */
export async function openOnnxSession(file: string, what: string, fixWhenMissing: string): Promise<ort.InferenceSession> {
  if (!fs.existsSync(file)) {
    throw new ModelFileError('model-missing', file, `${what} model not found at ${file}`, fixWhenMissing);
  }
  try {
    const runtime = await onnxRuntime();
    return await runtime.InferenceSession.create(file, SINGLE_THREAD_SESSION);
  } catch (error) {
    throw new ModelFileError(
      'model-corrupt',
      file,
      `${what} model at ${file} could not be loaded by onnxruntime (${(error as Error).message.split('\n')[0]})`,
      `The file is damaged or not an ONNX model. ${fixWhenMissing}`,
      { cause: error },
    );
  }
}

export function requireIo(session: ort.InferenceSession, file: string, inputs: string[], outputs: string[]): void {
  const missing = [
    ...inputs.filter((n) => !session.inputNames.includes(n)),
    ...outputs.filter((n) => !session.outputNames.includes(n)),
  ];
  if (missing.length > 0) {
    throw new ModelFileError(
      'model-wrong-format',
      file,
      `${file} is an ONNX model but not the expected one (missing ${missing.join(', ')}; it has inputs ${session.inputNames.join(', ')} and outputs ${session.outputNames.join(', ')})`,
      'Point the setting at the right model file.',
    );
  }
}

