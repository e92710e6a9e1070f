import fs from 'node:fs/promises';
import { checkGgufModelFile } from './gguf-file.ts';
import { ModelFileError } from '../base/errors.ts';
import { openOnnxSession, requireIo } from '../voice/onnx.ts';
import { inspectWhisperModel } from '../voice/stt/whisper-model-file.ts';
import { readPiperVoiceConfig } from '../voice/tts/piper.ts';
import type { FileFormat } from './types.ts';

/**
 * Checks that a file is what its engine reads, with the engines' own checkers: the GGUF header and tensor table
 * (plus version and tensor count), the whole whisper.cpp ggml layout, onnxruntime opening the ONNX graph, and a
 * Piper voice config's keys. Used on a download before it gets its final name, by `verify`, and by `import`.
 */

export interface FormatSummary {
  /** One line for listings: "GGUF v3, 291 tensors, llama". */
  readonly description: string;
}

const PIPER_INPUTS = ['input', 'input_lengths', 'scales'];

export async function verifyFormat(file: string, format: FileFormat): Promise<FormatSummary> {
  switch (format) {
    case 'gguf':
      return verifyGguf(file);
    case 'whisper-ggml': {
      const info = await inspectWhisperModel(file);
      return { description: `whisper.cpp ggml, ${info.multilingual ? 'multilingual' : 'English-only'}, ${info.hparams.nAudioLayer}+${info.hparams.nTextLayer} layers, ${info.weightType}` };
    }
    case 'onnx': {
      const session = await openOnnxSession(file, 'ONNX', 'Download it again.');
      try {
        return { description: `ONNX, inputs ${session.inputNames.join(', ')}` };
      } finally {
        await session.release();
      }
    }
    case 'piper-config': {
      const config = await readPiperVoiceConfig(file);
      return { description: `Piper voice config, ${config.sampleRate} Hz, ${config.numSpeakers} speaker${config.numSpeakers > 1 ? 's' : ''}` };
    }
  }
}

/** An ONNX file that is a Piper voice (its inputs are Piper's). */
export async function verifyPiperVoiceModel(file: string): Promise<void> {
  const session = await openOnnxSession(file, 'Piper voice', 'Download it again.');
  try {
    requireIo(session, file, PIPER_INPUTS, ['output']);
  } finally {
    await session.release();
  }
}

async function verifyGguf(file: string): Promise<FormatSummary> {
  const summary = await checkGgufModelFile(file);
  const head = Buffer.alloc(8);
  const handle = await fs.open(file, 'r');
  try {
    await handle.read(head, 0, 8, 0);
  } finally {
    await handle.close();
  }
  const version = head.readUInt32LE(4);
  if (version < 2 || version > 3) {
    throw new ModelFileError('model-wrong-format', file, `${file} is GGUF version ${version}; llama.cpp reads versions 2 and 3`, 'Download a current GGUF of the model.');
  }
  if (summary.tensors === 0) {
    throw new ModelFileError('model-corrupt', file, `${file} has a GGUF header but no tensors`, 'Download it again.');
  }
  return { description: `GGUF v${version}, ${summary.tensors} tensors${summary.architecture ? `, ${summary.architecture}` : ''}` };
}
