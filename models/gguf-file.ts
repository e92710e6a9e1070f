import fs from 'node:fs';
import path from 'node:path';
import type { GgufFileInfo } from 'node-llama-cpp';
import { ModelFileError } from '../base/errors.ts';
import { catalogEntryForFile } from './catalog.ts';
import { tensorDataBytes } from './ggml-types.ts';
import { pullFix } from './model-fix.ts';

/**
 * Checks a GGUF model file in the daemon, before a worker is started for it: a missing, foreign or half-downloaded
 * file gets an error that says what to do, instead of a worker that dies in llama.cpp's loader. Only the header is
 * read (node-llama-cpp's readGgufFileInfo, pure JS); no native code is loaded into the daemon for this.
 */

/** The vocabulary is most of a header's bytes, and nothing that reads headers here needs it. */
const VOCABULARY_KEYS = ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'];

/**
 * A GGUF file's header (metadata and tensor table, without the vocabulary), read by node-llama-cpp in JS. The
 * library is loaded on first use: commands that read no model (`jarvis timers`, `jarvis models list`) never pay
 * for it.
 */
export async function readGgufHeader(file: string, options: { spliceSplitFiles?: boolean } = {}): Promise<GgufFileInfo> {
  const { readGgufFileInfo } = await import('node-llama-cpp');
  return readGgufFileInfo(file, { sourceType: 'filesystem', logWarnings: false, ...options, ignoreKeys: VOCABULARY_KEYS });
}

export const DEFAULT_LLM_MODEL_FILE = 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf';

export interface GgufModelFileSummary {
  readonly path: string;
  readonly bytes: number;
  /** Bytes the tensor table says the file must have. */
  readonly requiredBytes: number;
  readonly architecture: string | undefined;
  readonly name: string | undefined;
  readonly tensors: number;
}

/** The sentence that tells the user where to get the model. */
export function modelDownloadFix(modelPath: string, action: 'download' | 'download-again'): string {
  const file = path.basename(modelPath);
  const entry = catalogEntryForFile(file);
  // The schema's default path stands for "the model that fits this machine": nobody chose this file.
  if (action === 'download' && file === DEFAULT_LLM_MODEL_FILE) {
    return 'Run `jarvis models pull`: it downloads the LLM that fits this machine and uses it (`jarvis start` does the same on a first run).';
  }
  if (entry) return pullFix(entry.id, action === 'download' ? 'missing' : 'broken');
  return action === 'download'
    ? 'Run `jarvis models pull` for the LLM that fits this machine, or `jarvis models import <file.gguf>` and `jarvis models use <id>` for one you have.'
    : `Replace ${file} with a good copy, or run \`jarvis models pull\` for the LLM that fits this machine.`;
}

export async function checkGgufModelFile(modelPath: string): Promise<GgufModelFileSummary> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(modelPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ModelFileError('model-missing', modelPath, `the LLM model file ${modelPath} does not exist`, modelDownloadFix(modelPath, 'download'), {
        cause: error,
      });
    }
    throw new ModelFileError(
      'model-load-failed',
      modelPath,
      `cannot read the LLM model file ${modelPath}: ${(error as Error).message}`,
      `Check that the user running Jarvis may read ${modelPath}.`,
      { cause: error },
    );
  }
  if (!stat.isFile()) {
    throw new ModelFileError('model-wrong-format', modelPath, `${modelPath} is not a file`, 'Set llm.model to the path of a .gguf file, not a directory.');
  }
  if (stat.size === 0) {
    throw new ModelFileError('model-corrupt', modelPath, `the LLM model file ${modelPath} is empty`, modelDownloadFix(modelPath, 'download-again'));
  }

  const head = await readHead(modelPath, 64);
  if (head.subarray(0, 4).toString('latin1') !== 'GGUF') {
    throw new ModelFileError(
      'model-wrong-format',
      modelPath,
      `${modelPath} is not a GGUF model (${describeForeignFile(head)})`,
      `llm.model must be a GGUF file as llama.cpp reads it. ${modelDownloadFix(modelPath, 'download')}`,
    );
  }

  let info: GgufFileInfo;
  try {
    info = await readGgufHeader(modelPath, { spliceSplitFiles: false });
  } catch (error) {
    throw new ModelFileError(
      'model-corrupt',
      modelPath,
      `the GGUF header of ${modelPath} cannot be read (${(error as Error).message}); the file is damaged or cut short`,
      modelDownloadFix(modelPath, 'download-again'),
      { cause: error },
    );
  }

  let requiredBytes = info.infoEndOffset ?? 0;
  for (const tensor of info.tensorInfo ?? []) {
    const start = Number(tensor.fileOffset);
    requiredBytes = Math.max(requiredBytes, start + (tensorDataBytes(tensor) ?? 1));
  }
  if (stat.size < requiredBytes) {
    const percent = Math.floor((stat.size / requiredBytes) * 100);
    throw new ModelFileError(
      'model-corrupt',
      modelPath,
      `${modelPath} is truncated: it has ${stat.size} bytes but its tensors need ${requiredBytes} (${percent} % downloaded?)`,
      modelDownloadFix(modelPath, 'download-again'),
    );
  }
  const general = info.metadata.general as { architecture?: string; name?: string } | undefined;
  return {
    path: modelPath,
    bytes: stat.size,
    requiredBytes,
    architecture: general?.architecture,
    name: general?.name,
    tensors: Number(info.tensorCount),
  };
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Names the usual wrong downloads, so the message says more than "bad magic". */
function describeForeignFile(head: Buffer): string {
  const text = head.toString('latin1');
  if (text.startsWith('version https://git-lfs')) return 'it is a Git LFS pointer, not the model itself';
  if (/^\s*<(!doctype|html)/i.test(text)) return 'it is an HTML page, probably an error page saved instead of the model';
  if (text.startsWith('ggjt') || text.startsWith('tjgg') || text.startsWith('lmgg')) return 'it is an old GGML/GGJT model that current llama.cpp no longer reads';
  if (head[0] === 0x50 && head[1] === 0x4b) return 'it is a zip archive (a PyTorch or safetensors checkpoint?)';
  if (text.startsWith('{')) return 'it is a JSON file';
  const magic = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `its first bytes are ${magic}, a GGUF file starts with "GGUF"`;
}
