import fs from 'node:fs';
import path from 'node:path';
import type { JarvisConfig } from '../../config/schema.ts';
import type { AudioSink } from '../../voice/ports.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import type { Responder } from '../responder.ts';
import { describeError } from '../../base/errors.ts';
import { makePrivateDir } from '../../base/private-files.ts';
import type { ImageInput } from '../responder.ts';
import { packageVersion } from '../../base/package-root.ts';
import type { Logger } from '../../base/log.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { CommandHandlers, type ModelSwitcher } from './commands.ts';
import { DeviceStore, devicesDbPath } from './device-store.ts';
import { DocumentLinks, type DocumentSource } from './document-links.ts';
import { buildHud, hudBuildIsCurrent, hudDistDir } from './hud-build.ts';
import { HudServer } from './hud-server.ts';
import { LiveFeed } from './live-feed.ts';
import { ManagedModels, type ModelManager } from './models-view.ts';
import type { HudFiles } from './static-files.ts';
import { ensureCertificate, tlsDir } from './tls.ts';

/**
 * Everything the daemon needs for its screens: `start` brings up telemetry, the device store and the server
 * around a running assistant, `close` takes them down.
 */

export interface RemoteAccessOptions {
  /** Folder of the built HUD (default hud/dist) and whether to build it when missing or stale. */
  hudDir?: string;
  buildHud?: boolean;
  /** Replaces the model manager's view (a test's). */
  models?: ModelSwitcher;
  nvidiaSmi?: string;
  /** Whether a client address is this computer (a test's, to play a phone on loopback). */
  isThisMachine?: (address: string) => boolean;
}

export interface ScreensOf {
  /** The model manager: what the screens list, and switching. */
  readonly manager: ModelManager;
  /** The answering LLM: its worker process is labelled with the model's name on the GPU panel. */
  readonly llm?: Pick<Responder, 'workerPid'>;
  /** The sink everything is played on, for the speaker's level. */
  readonly speaker?: AudioSink;
  /** The household's documents (core/knowledge), which the sources under an answer open. */
  readonly documents?: DocumentSource;
}

export class RemoteAccess {
  #devices: DeviceStore | undefined;
  #telemetry: Telemetry | undefined;
  #feed: LiveFeed | undefined;
  #server: HudServer | undefined;
  #unsubscribe: (() => void)[] = [];

  constructor(
    private readonly config: JarvisConfig,
    private readonly log: Logger,
    private readonly options: RemoteAccessOptions = {},
  ) {}

  get server(): HudServer | undefined {
    return this.#server;
  }

  get feed(): LiveFeed | undefined {
    return this.#feed;
  }

  /**
   * Starts telemetry and the server and logs where the HUD is. A server that cannot start (port taken) is a
   * problem on the assistant's list, not the end of the daemon: it goes on listening without screens.
   */
  async start(assistant: Assistant, of: ScreensOf): Promise<HudServer | undefined> {
    try {
      return await this.#start(assistant, of);
    } catch (error) {
      const { message, fix } = describeError(error);
      assistant.reportProblem({ id: 'hud-server', message: `the HUD server did not start: ${message}`, fix: fix ?? 'See the log for details.', blocking: false });
      await this.close();
      return undefined;
    }
  }

  async #start(assistant: Assistant, { manager, speaker, llm, documents }: ScreensOf): Promise<HudServer> {
    const { config, log } = this;
    const serverConfig = config.server;
    this.#devices = new DeviceStore(devicesDbPath(config.dataDir), { codeTtlMs: serverConfig.pairingCodeTtlMs });
    const llmWorker = () => llm?.workerPid;
    const llmName = () => manager.paths.llm.entry?.title ?? path.basename(manager.paths.llm.path);
    this.#telemetry = new Telemetry({
      intervalMs: serverConfig.telemetryIntervalMs,
      log,
      processLabels: () => {
        const labels = new Map<number, string>([[process.pid, config.stt.useGpu ? 'JARVIS (Whisper)' : 'JARVIS']]);
        const pid = llmWorker();
        if (pid !== undefined) labels.set(pid, `LLM ${llmName()}`);
        return labels;
      },
      ...(this.options.nvidiaSmi ? { nvidiaSmi: this.options.nvidiaSmi } : {}),
    });
    const managed = new ManagedModels(manager, assistant);
    const models = this.options.models ?? managed;
    const feed = (this.#feed = new LiveFeed(assistant, models, this.#telemetry, speaker));
    this.#unsubscribe.push(managed.onChange(throttle(() => feed.modelsChanged(), MODELS_UPDATE_MS)));
    let problems = assistant.state.problems;
    const onProblems = () => {
      if (assistant.state.problems === problems) return;
      problems = assistant.state.problems;
      feed.modelsChanged();
    };
    assistant.on('state', onProblems);
    this.#unsubscribe.push(() => assistant.off('state', onProblems));

    const hudDir = this.options.hudDir ?? hudDistDir;
    let hudFiles: HudFiles = fs.existsSync(path.join(hudDir, 'index.html'))
      ? { ready: true }
      : { ready: false, message: 'The HUD is being built; reload this page in a few seconds.' };
    if (this.options.buildHud !== false && !this.options.hudDir) void this.#buildIfNeeded((files) => (hudFiles = files));

    const tls = serverConfig.lan ? await ensureCertificate(tlsDir(config.dataDir), serverConfig.allowedHosts) : undefined;
    const documentLinks = documents ? new DocumentLinks(documents, log) : undefined;
    const commands = new CommandHandlers({
      ...(documentLinks ? { documents: documentLinks } : {}),
      assistant,
      devices: this.#devices,
      models,
      log,
      pairingUrl: () => this.#server?.urls[0] ?? '',
      pairFromThisComputer: serverConfig.pairFromThisComputer,
      confirm: (id, yes) => feed.answerConfirmation(id, yes),
      ...(config.llm.roles.vision?.keepPhotos ? { keepPhoto: (image: ImageInput, device: string) => keepPhoto(config.dataDir, image, device) } : {}),
    });
    this.#server = new HudServer({
      config: serverConfig,
      feed,
      commands,
      devices: this.#devices,
      log,
      version: packageVersion(),
      hud: { dir: hudDir, status: () => hudFiles },
      ...(tls ? { tls } : {}),
      ...(this.options.isThisMachine ? { isThisMachine: this.options.isThisMachine } : {}),
      ...(documentLinks ? { documents: documentLinks } : {}),
    });
    await this.#server.listen();
    this.#telemetry.start();
    const urls = this.#server.urls;
    log.info({ urls, ...(tls ? { tlsFingerprint: tls.fingerprint } : {}) }, `HUD at ${urls.at(-1)}${serverConfig.lan ? `, phones: ${urls[0]}` : ''}`);
    if (!serverConfig.lan) log.info('the HUD is reachable from this computer only; `jarvis start --lan` (remembered) lets phones on this network pair');
    return this.#server;
  }

  async close(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.#server?.close().catch((error: unknown) => this.log.warn({ err: describeError(error) }, 'closing the HUD server'));
    this.#telemetry?.dispose();
    this.#feed?.dispose();
    this.#devices?.close();
  }

  async #buildIfNeeded(update: (files: HudFiles) => void): Promise<void> {
    try {
      if (await hudBuildIsCurrent()) return update({ ready: true });
      await buildHud(this.log);
      update({ ready: true });
    } catch (error) {
      const message = describeError(error).message;
      this.log.error(`the HUD could not be built: ${message}`);
      // An older build is better than none.
      if (!fs.existsSync(path.join(hudDistDir, 'index.html'))) update({ ready: false, message: `The HUD could not be built: ${message}` });
      else update({ ready: true });
    }
  }
}

/** llm.roles.vision.keepPhotos: a photo asked about, kept in <dataDir>/photos under the time and the device that sent it. */
function keepPhoto(dataDir: string, image: ImageInput, device: string): void {
  const dir = path.join(dataDir, 'photos');
  makePrivateDir(dir);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const extension = image.type === 'image/png' ? 'png' : image.type === 'image/webp' ? 'webp' : 'jpg';
  const name = `${stamp}-${device.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40)}.${extension}`;
  fs.writeFileSync(path.join(dir, name), image.data, { mode: 0o600, flag: 'wx' });
}

/** Download progress comes many times a second; the screens need it a few times. */
const MODELS_UPDATE_MS = 500;

function throttle(run: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      run();
    }, ms);
    timer.unref();
  };
}
