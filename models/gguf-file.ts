import fs from 'node:fs';
import path from 'node:path';
import type { GgufFileInfo, GgufTensorInfo } from 'node-llama-cpp';
import { ModelFileError } from '../base/errors.ts';

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
export const DEFAULT_LLM_MODEL_URL =
  'https://huggingface.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF/resolve/main/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf';

export interface GgufModelFileSummary {
  readonly path: string;
  readonly bytes: number;
  /** Bytes the tensor table says the file must have. */
  readonly requiredBytes: number;
  readonly architecture: string | undefined;
  readonly name: string | undefined;
  readonly tensors: number;
}

/**
 * ggml's [elements per block, bytes per block] by GGML type id, as the prebuilt llama.cpp of node-llama-cpp 3.21.1
 * reports them (getBlockSizeForGgmlType / getTypeSizeForGgmlType). Ids missing here are retired or repacked
 * types; a tensor of such a type is only checked for starting inside the file.
 */
const GGML_TYPE_LAYOUT: ReadonlyMap<number, readonly [block: number, bytes: number]> = new Map([
  [0, [1, 4]], // F32
  [1, [1, 2]], // F16
  [2, [32, 18]], // Q4_0
  [3, [32, 20]], // Q4_1
  [6, [32, 22]], // Q5_0
  [7, [32, 24]], // Q5_1
  [8, [32, 34]], // Q8_0
  [9, [32, 36]], // Q8_1
  [10, [256, 84]], // Q2_K
  [11, [256, 110]], // Q3_K
  [12, [256, 144]], // Q4_K
  [13, [256, 176]], // Q5_K
  [14, [256, 210]], // Q6_K
  [15, [256, 292]], // Q8_K
  [16, [256, 66]], // IQ2_XXS
  [17, [256, 74]], // IQ2_XS
  [18, [256, 98]], // IQ3_XXS
  [19, [256, 50]], // IQ1_S
  [20, [32, 18]], // IQ4_NL
  [21, [256, 110]], // IQ3_S
  [22, [256, 82]], // IQ2_S
  [23, [256, 136]], // IQ4_XS
  [24, [1, 1]], // I8
  [25, [1, 2]], // I16
  [26, [1, 4]], // I32
  [27, [1, 8]], // I64
  [28, [1, 8]], // F64
  [29, [256, 56]], // IQ1_M
  [30, [1, 2]], // BF16
  [34, [256, 54]], // TQ1_0
  [35, [256, 66]], // TQ2_0
  [39, [32, 17]], // MXFP4
  [40, [64, 36]], // NVFP4
  [41, [128, 18]], // Q1_0
  [42, [64, 18]], // Q2_0
]);

/** Bytes a tensor's data takes in the file, or undefined for a type this table does not know. */
export function tensorDataBytes(tensor: Pick<GgufTensorInfo, 'dimensions' | 'ggmlType'>): number | undefined {
  const layout = GGML_TYPE_LAYOUT.get(tensor.ggmlType);
  if (!layout) return undefined;
  const [block, bytes] = layout;
  const elements = tensor.dimensions.reduce<number>((n, d) => n * Number(d), 1);
  return Math.ceil(elements / block) * bytes;
}

/** The sentence that tells the user where to get the model. */
export function modelDownloadFix(modelPath: string, action: 'download' | 'download-again'): string {
  const file = path.basename(modelPath);
  if (file === DEFAULT_LLM_MODEL_FILE) {
    return (
      `${action === 'download' ? 'Download' : 'Download it again:'} ${file} from ${DEFAULT_LLM_MODEL_URL} ` +
      `and save it as ${modelPath} (or set llm.model to a GGUF chat model you have).`
    );
  }
  return action === 'download'
    ? `Download a GGUF chat model and set llm.model to its path (for example ${DEFAULT_LLM_MODEL_FILE} from ${DEFAULT_LLM_MODEL_URL}).`
    : `Download ${file} again, or download a GGUF chat model and set llm.model to its path.`;
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
