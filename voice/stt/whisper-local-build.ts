import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../../base/package-root.ts';

/**
 * The whisper.cpp binding built on this machine at `npm install` (scripts/build-whisper.js, sources in
 * native/whisper): where it is, what it was built for, and why it cannot be used when it cannot.
 */

export const WHISPER_BUILD_DIR = path.join(packageRoot, '.cache', 'whisper-cpp');
export const BUILD_WHISPER_FIX = 'Run `npm run build:whisper` (it needs cmake, g++ and make: `sudo apt install cmake g++ make`).';

/** What scripts/build-whisper.js records in build.json. */
export type WhisperBuildManifest =
  | {
      readonly ok: true;
      readonly addon: string;
      readonly whisperCpp: string;
      readonly source: string;
      readonly cpu: string;
      /** The instruction sets of the CPU it was built on (-march=native may use any of them). */
      readonly cpuFlags: readonly string[];
      /** What ggml says the build uses: "AVX2", "FMA", "AVX512", "OPENMP"… */
      readonly features: readonly string[];
      readonly compiler: string;
    }
  | { readonly ok: false; readonly reason: string; readonly fix: string };

/** An opaque handle to a loaded model. */
export type AddonContext = { readonly __whisperContext: unique symbol };

/** whisper.cpp's log of one call: [ggml_log_level (1 debug, 2 info, 3 warn, 4 error, 5 continues the line), text]. */
export type AddonLog = readonly (readonly [number, string])[];

export interface AddonTranscription {
  readonly text: string;
  readonly segments: number;
  readonly aborted: boolean;
  /** Mean time of one encoder pass (one per 30 s window, or per audio_ctx window). */
  readonly encodeMs: number;
  readonly decodeMs: number;
  readonly totalMs: number;
  readonly log: AddonLog;
}

/** native/whisper/addon.cpp. */
export interface WhisperAddon {
  /** Rejects with an Error that carries `log`. */
  load(file: string): Promise<{ context: AddonContext; log: AddonLog; ms: number }>;
  transcribe(
    context: AddonContext,
    pcm16k: Int16Array,
    options: { threads: number; language: string; audioCtx: number; noTimestamps?: boolean; singleSegment?: boolean },
  ): { promise: Promise<AddonTranscription>; abort(): void };
  /** False when a running transcription still uses it: it is then released when that one ends. */
  release(context: AddonContext): boolean;
  systemInfo(): string;
  version(): string;
}

export type WhisperLocalBuild =
  | { readonly ok: true; readonly addon: WhisperAddon; readonly manifest: Extract<WhisperBuildManifest, { ok: true }> }
  | { readonly ok: false; readonly reason: string; readonly fix: string };

const found = new Map<string, WhisperLocalBuild & { ok: true }>();

/**
 * The local build in `dir`, loaded once per process; or why there is none (looked for again on the next call, so a
 * `npm run build:whisper` made meanwhile is found by the next model load).
 */
export function findWhisperBuild(dir = WHISPER_BUILD_DIR): WhisperLocalBuild {
  const known = found.get(dir);
  if (known) return known;
  const build = find(dir);
  if (build.ok) found.set(dir, build);
  return build;
}

function find(dir: string): WhisperLocalBuild {
  let manifest: WhisperBuildManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'build.json'), 'utf8')) as WhisperBuildManifest;
  } catch {
    return {
      ok: false,
      reason: `the whisper.cpp build for this CPU is not there (no ${path.join(dir, 'build.json')}: \`npm install\` did not build it, or ran with --ignore-scripts)`,
      fix: BUILD_WHISPER_FIX,
    };
  }
  if (!manifest.ok) return { ok: false, reason: `the whisper.cpp build for this CPU is missing: ${manifest.reason}`, fix: manifest.fix };
  const lacking = missingInstructionSets(manifest.cpuFlags, cpuFlags());
  if (lacking.length > 0) {
    return {
      ok: false,
      reason: `the whisper.cpp build was made for another CPU (${manifest.cpu}); this one lacks ${lacking.join(', ')}`,
      fix: BUILD_WHISPER_FIX,
    };
  }
  const file = path.join(dir, manifest.addon);
  try {
    return { ok: true, addon: createRequire(import.meta.url)(file) as WhisperAddon, manifest };
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return { ok: false, reason: `the whisper.cpp build for this CPU did not load (${file}: ${message})`, fix: BUILD_WHISPER_FIX };
  }
}

/** The instruction sets a build needs (recorded when it was made) that this CPU does not have. */
export function missingInstructionSets(builtWith: readonly string[], present: ReadonlySet<string> | undefined): string[] {
  return present ? builtWith.filter((flag) => !present.has(flag)) : [];
}

/** The CPU's flags from /proc/cpuinfo; undefined where there is no such file (then nothing is checked). */
function cpuFlags(): Set<string> | undefined {
  try {
    const line = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    return line === undefined ? undefined : new Set(line.trim().split(/\s+/));
  } catch {
    return undefined;
  }
}
