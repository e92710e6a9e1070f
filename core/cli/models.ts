import path from 'node:path';
import type { Command } from 'commander';
import type { JarvisConfig } from '../../config/schema.ts';
import { CONVERSATIONAL_TOKENS_PER_SECOND, type MachineResources } from '../../models/fit.ts';
import { plannedSelection, planFirstRun } from '../../models/first-run.ts';
import { formatBytes } from '../../base/format.ts';
import { probeMachine } from '../../models/machine.ts';
import { DownloadProgressView } from '../../models/progress-bar.ts';
import { fitLlms, type CatalogFit, type LlmFitRow } from '../../models/recommend.ts';
import { fitVisionModels, type VisionFitRow } from '../../models/vision-fit.ts';
import { clearSelection, readSelection, recordPlannedModels, resolveModelPaths, selectModel, type ModelSelection } from '../../models/selection.ts';
import { ModelStore, type InstallState } from '../../models/store.ts';
import type { ModelEntry, SelectableKind } from '../../models/types.ts';
import { describeError } from '../../base/errors.ts';
import { setup } from './common.ts';

/**
 * `jarvis models …`: the model manager on the command line. list [--fits] [--json], pull [ID…], verify [ID…],
 * rm ID, use ID, import PATH. A running daemon picks up `use` within a second, without a restart.
 */

const KIND_NAMES: Record<string, string> = { llm: 'LLM', stt: 'speech to text', tts: 'voice', embedding: 'embedding', wake: 'wake word', vad: 'VAD', vision: 'vision (photos: llm.roles.vision)' };
const STATE_MARK: Record<InstallState, string> = { installed: '✓', missing: ' ', partial: '…', shipped: '✓' };
const MiB = 1024 * 1024;

export function registerModels(program: Command): void {
  const models = program.command('models').description('list, download, verify, choose and import models (LLM, Whisper, voices)');

  models
    .command('list')
    .description('the models JARVIS knows: installed (✓), active (★), partly downloaded (…)')
    .option('--fits', 'also estimate, for this machine, each LLM\'s memory, GPU layers and speed, and say which fits best')
    .option('--json', 'machine-readable')
    .action(async (options: { fits?: boolean; json?: boolean }, command: Command) => {
      const { config } = await setup(command);
      const store = ModelStore.fromConfig(config);
      const active = activeIds(config, store);
      const fits = options.fits ? await fitForMachine(config, store) : undefined;
      if (options.json) {
        console.log(JSON.stringify(listJson(store, active, fits), null, 2));
        return;
      }
      printList(store, active, fits, config);
    });

  models
    .command('pull')
    .description('download models (verified, resumable); without ids, the best set for this machine')
    .argument('[ids...]', 'model ids from `jarvis models list`')
    .action(async (ids: string[], _options: unknown, command: Command) => {
      const { config } = await setup(command);
      const store = ModelStore.fromConfig(config);
      const { entries, picks } = ids.length > 0 ? { entries: ids.map((id) => store.find(id)), picks: {} } : await defaultSet(config, store);
      if (entries.length === 0) {
        console.log('Nothing to download: every model JARVIS needs is here.');
        return;
      }
      const toFetch = entries.reduce((sum, e) => sum + store.missingBytes(e), 0);
      console.log(`Downloading ${entries.map((e) => e.id).join(', ')}${toFetch > 0 ? ` (${formatBytes(toFetch)})` : ''} into ${store.dir}`);
      const view = new DownloadProgressView();
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      const outcomes = await inBatches(entries, 2, async (entry) => {
        try {
          const result = await store.pull(entry, { signal: controller.signal, onProgress: (p) => view.update(p) });
          return { entry, result };
        } catch (error) {
          return { entry, error };
        }
      });
      view.stop();
      process.off('SIGINT', stop);
      let failed = false;
      for (const outcome of outcomes) {
        if ('error' in outcome) {
          failed = true;
          const { message, fix } = describeError(outcome.error);
          console.error(`✘ ${outcome.entry.id}: ${message}${fix ? `\n  fix: ${fix}` : ''}`);
          continue;
        }
        const { result } = outcome;
        if (result.alreadyInstalled) {
          console.log(`✓ ${result.entry.id}: already here`);
          continue;
        }
        for (const file of result.files) {
          const d = file.download;
          if (!d) continue;
          const how = d.alreadyPresent
            ? 'finished by another download running at the same time'
            : `${formatBytes(d.bytes)} in ${(d.ms / 1000).toFixed(1)} s, checked: ${d.checkedAgainst}${d.resumedFromBytes > 0 ? `, resumed at ${formatBytes(d.resumedFromBytes)}` : ''}`;
          console.log(`✓ ${result.entry.id}: ${file.name} (${how})`);
        }
      }
      // The models picked for this machine are used from now on (a running daemon swaps them in).
      const arrived = new Set(outcomes.filter((o) => !('error' in o)).map((o) => o.entry.id));
      await recordPlannedModels(config.dataDir, Object.fromEntries(Object.entries(picks).filter(([, id]) => arrived.has(id))));
      for (const [kind, id] of Object.entries(picks)) if (arrived.has(id)) console.log(`The ${KIND_NAMES[kind]} is now ${id}.`);
      if (!failed && ids.length > 0) {
        const first = entries.find((e) => e.kind === 'llm' || e.kind === 'stt' || e.kind === 'tts');
        if (first) console.log(`Use it with: jarvis models use ${first.id}`);
      }
      process.exitCode = failed ? 1 : 0;
    });

  models
    .command('verify')
    .description('check downloaded and imported models again: size, hash, format')
    .argument('[ids...]', 'model ids (default: every installed model)')
    .action(async (ids: string[], _options: unknown, command: Command) => {
      const { config } = await setup(command);
      const store = ModelStore.fromConfig(config);
      const entries = ids.length > 0 ? ids.map((id) => store.find(id)) : store.entries().filter((e) => store.state(e) === 'installed' || store.state(e) === 'partial');
      if (entries.length === 0) console.log(`No models in ${store.dir} yet.`);
      let ok = true;
      for (const entry of entries) {
        const report = await store.verify(entry);
        ok &&= report.ok;
        for (const file of report.files) {
          console.log(`${file.ok ? '✓' : '✘'} ${entry.id}: ${file.name}: ${file.detail}`);
          if (!file.ok && file.fix) console.log(`  fix: ${file.fix}`);
        }
      }
      process.exitCode = ok ? 0 : 1;
    });

  models
    .command('rm')
    .description('delete a model\'s files')
    .argument('<id>', 'model id')
    .option('--force', 'also when it is the active model (the configured one is used again)')
    .action(async (id: string, options: { force?: boolean }, command: Command) => {
      const { config } = await setup(command);
      const store = ModelStore.fromConfig(config);
      const entry = store.find(id);
      const selection = readSelection(config.dataDir);
      const activeKind = (Object.keys(selection) as SelectableKind[]).find((kind) => selection[kind] === entry.id);
      if (activeKind && !options.force) {
        console.error(`jarvis: ${entry.id} is the active ${KIND_NAMES[activeKind]}\n  fix: choose another first (jarvis models use ID), or add --force.`);
        process.exitCode = 2;
        return;
      }
      const freed = await store.remove(entry);
      if (activeKind) await clearSelection(config.dataDir, activeKind);
      console.log(freed > 0 ? `Removed ${entry.id} (${formatBytes(freed)} freed).` : `${entry.id} was not downloaded; nothing to remove.`);
    });

  models
    .command('use')
    .description('make a model the active LLM, Whisper model or voice (a running JARVIS switches at once)')
    .argument('<id>', 'model id')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { config } = await setup(command);
      const store = ModelStore.fromConfig(config);
      const { entry, kind, previous } = await selectModel(store, config.dataDir, id);
      console.log(`The ${KIND_NAMES[kind]} is now ${entry.id}${previous && previous !== entry.id ? ` (was ${previous})` : ''}: ${store.mainPath(entry)}`);
      console.log('A running JARVIS switches to it within a second, without a restart.');
    });

  models
    .command('import')
    .description('bring your own GGUF LLM, whisper.cpp model or Piper voice (checked, then kept in the models folder)')
    .argument('<path>', '.gguf, ggml-*.bin, or a Piper .onnx (with its .onnx.json beside it)')
    .option('--id <id>', 'the id to give it (default: user-<file name>)')
    .option('--use', 'also make it the active model of its kind')
    .action(async (file: string, options: { id?: string; use?: boolean }, command: Command) => {
      const { config } = await setup(command);
      const store = ModelStore.fromConfig(config);
      const entry = await store.import(file, options.id ? { id: options.id } : {});
      const size = entry.files.reduce((sum, f) => sum + f.bytes, 0);
      console.log(`Imported ${entry.id}: ${entry.title}, ${formatBytes(size)} → ${store.mainPath(entry)}`);
      if (options.use) {
        const { kind } = await selectModel(store, config.dataDir, entry.id);
        console.log(`The ${KIND_NAMES[kind]} is now ${entry.id}.`);
      } else if (entry.kind === 'llm' || entry.kind === 'stt' || entry.kind === 'tts') {
        console.log(`Use it with: jarvis models use ${entry.id}`);
      }
    });
}

function activeIds(config: JarvisConfig, store: ModelStore): Map<string, SelectableKind> {
  const resolved = resolveModelPaths(config, store, readSelection(config.dataDir));
  const active = new Map<string, SelectableKind>();
  for (const kind of ['llm', 'stt', 'tts'] as const) {
    const entry = resolved[kind].entry;
    if (entry) active.set(entry.id, kind);
  }
  return active;
}

interface MachineFit {
  readonly machine: MachineResources;
  readonly note?: string;
  readonly fit: CatalogFit;
  /** The vision models with their projectors, in RAM (JARVIS's own llama-server runs on the CPU). */
  readonly vision: readonly VisionFitRow[];
  readonly contextSize: number;
  readonly headroomBytes: number;
}

async function fitForMachine(config: JarvisConfig, store: ModelStore): Promise<MachineFit> {
  const { machine, note } = await probeMachine();
  const headroomBytes = config.models.vramHeadroomMb * MiB;
  const fit = await fitLlms(store, machine, { contextSize: config.llm.contextSize, headroomBytes });
  const vision = fitVisionModels(store, machine, { contextSize: config.llm.contextSize });
  return { machine, fit, vision, contextSize: config.llm.contextSize, headroomBytes, ...(note ? { note } : {}) };
}

/**
 * The best-fit LLM, and the configured Whisper model and voice, that are not here yet; `picks`: those that replace
 * what a stage opens now (the LLM that fits this machine instead of the default path).
 */
async function defaultSet(config: JarvisConfig, store: ModelStore): Promise<{ entries: ModelEntry[]; picks: ModelSelection }> {
  const selection = readSelection(config.dataDir);
  const resolved = resolveModelPaths(config, store, selection);
  const plan = await planFirstRun({
    config,
    store,
    selection,
    resolved,
    bestLlm: async () => {
      const { fit } = await fitForMachine(config, store);
      return fit.best.choice ? { entry: fit.best.choice.item, reason: fit.best.reason } : undefined;
    },
  });
  for (const skipped of plan.skipped) console.log(`Not downloading the ${KIND_NAMES[skipped.kind]} (${skipped.path}): ${skipped.why}.`);
  for (const item of plan.downloads) console.log(`${KIND_NAMES[item.kind]}: ${item.entry.id} (${item.why})`);
  return { entries: plan.downloads.map((d) => d.entry), picks: plannedSelection(plan, resolved, store) };
}

function totalBytes(entry: ModelEntry): number {
  return entry.files.reduce((sum, f) => sum + f.bytes, 0);
}

function sizeText(entry: ModelEntry): string {
  if (totalBytes(entry) === 0) return '?';
  const exact = entry.files.every((f) => f.exactBytes);
  return `${exact ? '' : '~'}${formatBytes(totalBytes(entry))}`;
}

function printList(store: ModelStore, active: Map<string, SelectableKind>, fits: MachineFit | undefined, config: JarvisConfig): void {
  console.log(`Models folder: ${store.dir}   (✓ installed, ★ active, … partly downloaded)`);
  const rowsByKind = new Map<string, ModelEntry[]>();
  for (const entry of store.entries()) rowsByKind.set(entry.kind, [...(rowsByKind.get(entry.kind) ?? []), entry]);
  const fitRows = new Map(fits?.fit.rows.map((r) => [r.entry.id, r]) ?? []);
  const visionRows = new Map(fits?.vision.map((r) => [r.entry.id, r]) ?? []);
  for (const [kind, entries] of rowsByKind) {
    console.log(`\n${KIND_NAMES[kind] ?? kind}`);
    if (kind === 'llm' && fits) {
      console.log(`      ${'id'.padEnd(30)} ${'size'.padStart(8)}  ${'quant'.padEnd(7)} ${'memory'.padStart(9)}  ${'fit'.padEnd(8)} ${'GPU layers'.padEnd(10)} speed`);
    }
    for (const entry of entries) {
      const state = store.state(entry);
      const mark = `${active.has(entry.id) ? '★' : ' '}${STATE_MARK[state]}`;
      const base = `  ${mark}  ${entry.id.padEnd(30)} ${sizeText(entry).padStart(8)}`;
      if (kind === 'llm' && fits) console.log(`${base}  ${(entry.llm?.quantization ?? '').padEnd(7)} ${fitColumns(fitRows.get(entry.id), fits.machine)}`);
      else if (kind === 'vision' && fits) console.log(`${base}  ${visionColumns(visionRows.get(entry.id))}`);
      else console.log(`${base}  ${entry.licence}${state === 'shipped' ? ' (ships with npm)' : ''}`);
    }
  }
  for (const [id, kind] of active) {
    const entry = store.find(id);
    if (store.state(entry) !== 'installed' && store.state(entry) !== 'shipped') {
      console.log(`\nThe active ${KIND_NAMES[kind]} ${id} is not downloaded yet: jarvis models pull ${id}`);
    }
  }
  if (fits) printFitReasoning(fits, config);
}

function fitColumns(row: LlmFitRow | undefined, machine: MachineResources): string {
  if (!row?.fit) return `cannot estimate: ${row?.error ?? 'no header'}`;
  const f = row.fit;
  const memory = machine.gpu ? f.vramBytes : f.ramBytes;
  const speed = f.verdict === 'no' ? '-' : `~${f.tokensPerSecond.toFixed(f.tokensPerSecond < 10 ? 1 : 0)} tok/s${f.conversational ? '' : ' (slow)'}`;
  return `${formatBytes(memory).padStart(9)}  ${f.verdict.padEnd(8)} ${`${f.gpuLayers}/${f.totalLayers}`.padEnd(10)} ${speed}`;
}

/** Memory with both files (model and projector), context and working memory; on the CPU. */
function visionColumns(row: VisionFitRow | undefined): string {
  if (!row?.fit) return `cannot estimate: ${row?.error ?? 'no details'}`;
  const f = row.fit;
  const parts = `model ${formatBytes(f.modelBytes)} + projector ${formatBytes(f.projectorBytes)} + context ${formatBytes(f.contextBytes)} + working ${formatBytes(f.computeBytes)}`;
  return f.verdict === 'no' ? `${formatBytes(f.ramBytes)} RAM: does not fit (${parts})` : `${formatBytes(f.ramBytes)} RAM, CPU, ~${f.tokensPerSecond.toFixed(1)} tok/s (${parts})`;
}

function printFitReasoning(fits: MachineFit, config: JarvisConfig): void {
  const { machine, fit } = fits;
  const gpu = machine.gpu
    ? `${machine.gpu.names.join(', ') || machine.gpu.type} (${machine.gpu.type}), ${formatBytes(machine.gpu.freeBytes)} of ${formatBytes(machine.gpu.totalBytes)} VRAM free, ${formatBytes(fits.headroomBytes)} kept free (models.vramHeadroomMb)`
    : 'none that llama.cpp can use: every layer runs on the CPU';
  console.log(`\nThis machine: GPU ${gpu}; ${formatBytes(machine.ramAvailableBytes)} of ${formatBytes(machine.ramTotalBytes)} RAM available; ${machine.cpuCores} CPU cores.`);
  if (fits.note) console.log(`  (${fits.note})`);
  console.log(
    `Estimates for a ${fits.contextSize}-token context (llm.contextSize) from each model's GGUF header (node-llama-cpp GgufInsights). ` +
      `Memory is VRAM with a GPU, RAM without; speed assumes each token reads every weight once ` +
      `(${machine.gpu ? 'about 300 GB/s from VRAM, ' : ''}about ${formatBytes(Math.min(25e9, 5e9 * machine.cpuCores))}/s from RAM); conversational is ≥ ${CONVERSATIONAL_TOKENS_PER_SECOND} tokens/s.`,
  );
  const best = fit.best.choice;
  if (!best) {
    console.log(`Best fit: none (${fit.best.reason}).`);
    return;
  }
  const f = best.fit;
  console.log(
    `Best fit: ${best.item.id}, ${fit.best.reason}: ${f.verdict === 'cpu' ? 'on the CPU' : `${f.gpuLayers}/${f.totalLayers} layers on the GPU`}, ` +
      `~${formatBytes(machine.gpu ? f.vramBytes : f.ramBytes)}, ~${f.tokensPerSecond.toFixed(1)} tokens/s.`,
  );
  const active = path.basename(config.llm.model);
  console.log(best.item.files[0]?.name === active ? 'It is the active LLM.' : `Get it with: jarvis models pull ${best.item.id} && jarvis models use ${best.item.id}`);
}

function listJson(store: ModelStore, active: Map<string, SelectableKind>, fits: MachineFit | undefined): unknown {
  const fitRows = new Map<string, { fit: unknown; error?: string }>([...(fits?.fit.rows ?? []), ...(fits?.vision ?? [])].map((r) => [r.entry.id, r]));
  const models = store.entries().map((entry) => {
    const row = fitRows.get(entry.id);
    return {
      id: entry.id,
      kind: entry.kind,
      title: entry.title,
      state: store.state(entry),
      active: active.has(entry.id),
      bytes: totalBytes(entry),
      licence: entry.licence,
      capabilities: entry.capabilities,
      ...(entry.llm ? { quantization: entry.llm.quantization, contextLength: entry.llm.contextLength, parametersB: entry.llm.parametersB } : {}),
      ...(entry.vision ? { parametersB: entry.vision.parametersB, contextLength: entry.vision.contextLength } : {}),
      files: entry.files.map((f) => ({
        name: f.name,
        path: store.filePath(entry, f),
        url: store.url(f),
        bytes: f.bytes,
        exactBytes: f.exactBytes ?? false,
        ...(f.sha256 ? { sha256: f.sha256 } : {}),
        ...(f.sha1 ? { sha1: f.sha1 } : {}),
      })),
      ...(row?.fit ? { fit: row.fit } : row?.error ? { fitError: row.error } : {}),
    };
  });
  if (!fits) return { dir: store.dir, models };
  const best = fits.fit.best;
  return { dir: store.dir, machine: fits.machine, best: best.choice ? { id: best.choice.item.id, reason: best.reason } : null, models };
}

async function inBatches<T, R>(items: readonly T[], width: number, body: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await body(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return results;
}
