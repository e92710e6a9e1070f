import { describeError } from '../../base/errors.ts';
import type { Clock } from '../../base/clock.ts';
import type { Logger } from '../../base/log.ts';
import { packageVersion } from '../../base/package-root.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { GainSink } from '../../voice/audio/gain-sink.ts';
import type { Assistant } from '../pipeline/assistant.ts';
import type { SpeechOutputDeps } from '../pipeline/speech-output.ts';
import type { RunEvent } from '../protocol/run-events.ts';
import type { TelemetrySample } from '../protocol/wire.ts';
import type { LiveFeed } from '../server/live-feed.ts';
import type { TimerService } from '../skills/timer-service.ts';
import { Announcement } from './announcement.ts';
import { brokerSettings } from './broker.ts';
import { COMMAND_HELP, parseCommand, parsePress, parseSwitch, type MqttCommand, type Parsed } from './commands.ts';
import { discoveryMessages, MUTE_OFF, MUTE_ON, OFFLINE, ONLINE, retiredDiscoveryTopics, type DiscoveredParts } from './discovery.ts';
import { MqttLink, type MqttStatus } from './mqtt-link.ts';
import { ThrottledWarning } from './throttled-warning.ts';
import { mqttTopics, type MqttTopics } from './topics.ts';

/**
 * JARVIS on the household's MQTT broker: announced to Home Assistant by discovery as one device, its state, last
 * question and answer, mute, next timer and GPU published (retained, so a Home Assistant that starts later sees
 * them), and commands taken: the mute switch, the stop button, and the command topic (announce, ask, stop). Every
 * message in is validated first; one that is not understood is dropped with a throttled log line and nothing done.
 * A broker that is down or refuses JARVIS is a problem on the HUD (with its fix) until it connects, never a
 * failed start.
 */

export const MQTT_PROBLEM = 'mqtt';

export interface MqttDeviceDeps {
  readonly assistant: Assistant;
  /** What announcements are spoken with; none (no speaker): announcements are refused, and logged. */
  readonly voice?: SpeechOutputDeps;
  /** The skills' timers, for the next-timer sensor. */
  readonly timers?: TimerService;
  /** The HUD's live feed, for the GPU's telemetry. */
  readonly feed?: LiveFeed;
  /** Where mqtt.passwordEnv is looked up (the process's environment). */
  readonly env?: NodeJS.ProcessEnv;
  /** Paces reconnection (the system clock). */
  readonly clock?: Clock;
}

/** A Home Assistant text sensor's state may be at most 255 characters; the whole text is in its attributes. */
const STATE_MAX_CHARS = 255;
const ATTRIBUTE_MAX_CHARS = 4000;
/** Announcements waiting to be spoken at once; more are refused (an automation in a loop must not queue hours). */
const MAX_PENDING_ANNOUNCEMENTS = 3;
/** At most one warning line about bad messages in this long. */
const WARN_EVERY_MS = 30_000;

export class MqttDevice {
  readonly topics: MqttTopics;
  readonly #link: MqttLink | undefined;
  readonly #settings: JarvisConfig['mqtt'];
  readonly #parts: { timers: boolean; gpu: boolean; conversation: boolean };
  readonly #version = packageVersion();
  /** The last value of every retained state topic: published again on each (re)connection. */
  readonly #retained = new Map<string, string>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #badMessages: ThrottledWarning;
  #pendingAnnouncements = 0;
  #lastTelemetryAt = Number.NEGATIVE_INFINITY;
  #everConnected = false;

  constructor(
    config: JarvisConfig,
    private readonly deps: MqttDeviceDeps,
    private readonly log: Logger,
  ) {
    this.#settings = config.mqtt;
    this.topics = mqttTopics(config.mqtt);
    this.#parts = { timers: deps.timers !== undefined, gpu: false, conversation: config.mqtt.conversation };
    this.#badMessages = new ThrottledWarning(log, WARN_EVERY_MS);
    let link: MqttLink | undefined;
    try {
      const broker = brokerSettings(config.mqtt, deps.env);
      link = new MqttLink(broker, {
        will: { topic: this.topics.availability, payload: OFFLINE },
        subscriptions: [this.topics.command, this.topics.muteSet, this.topics.stop, this.topics.homeAssistantStatus],
        reconnectMs: config.mqtt.reconnectMs,
        reconnectMaxMs: config.mqtt.reconnectMaxMs,
        ...(deps.clock ? { clock: deps.clock } : {}),
      });
      log.info({ url: broker.url, clientId: config.mqtt.clientId }, `MQTT: connecting to ${broker.url} (Home Assistant discovery under ${config.mqtt.discoveryPrefix}/)`);
    } catch (error) {
      const { message, fix } = describeError(error);
      deps.assistant.reportProblem({ id: MQTT_PROBLEM, message: `MQTT is off: ${message}`, fix: fix ?? 'See the log for details.', blocking: false });
    }
    this.#link = link;
    if (!link) return;
    link.on('status', (status) => this.#onStatus(status));
    link.on('message', (topic, payload) => this.#onMessage(topic, payload));
    this.#follow();
  }

  get connected(): boolean {
    return this.#link?.connected ?? false;
  }

  /** Goes offline (availability "offline", retained) and closes the connection. */
  async dispose(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.#link?.dispose();
  }

  /** Keeps the retained state topics up to date from the assistant, the run events, the timers and the telemetry. */
  #follow(): void {
    const { assistant, timers, feed } = this.deps;
    const onState = () => this.#setRetained(this.topics.state, assistant.state.phase);
    const onControls = () => this.#setRetained(this.topics.mute, assistant.controls.muted ? MUTE_ON : MUTE_OFF);
    assistant.on('state', onState);
    assistant.on('controls', onControls);
    this.#unsubscribe.push(() => assistant.off('state', onState), () => assistant.off('controls', onControls));
    onState();
    onControls();
    if (this.#parts.conversation) this.#unsubscribe.push(assistant.bus.subscribe((event) => this.#onRunEvent(event)));
    if (timers) {
      const onTimers = () => this.#publishNextTimer(timers);
      timers.on('changed', onTimers);
      this.#unsubscribe.push(() => timers.off('changed', onTimers));
      onTimers();
    }
    if (feed) {
      const onSample = (sample: TelemetrySample) => this.#onTelemetry(sample);
      feed.on('telemetry', onSample);
      this.#unsubscribe.push(() => feed.off('telemetry', onSample));
    }
  }

  #onStatus(status: MqttStatus): void {
    const url = this.#link!.broker.url;
    if (!status.connected) {
      // Logged by reportProblem when it starts or changes; each failed retry only counts.
      this.deps.assistant.reportProblem({ id: MQTT_PROBLEM, message: `Home Assistant cannot see JARVIS: ${status.error.message}`, fix: status.error.fix, blocking: false });
      return;
    }
    this.log.info({ url }, this.#everConnected ? `MQTT: connected to ${url} again` : `MQTT: connected to ${url}`);
    this.#everConnected = true;
    this.#announce();
    if (status.refused.length === 0) {
      this.deps.assistant.clearProblem(MQTT_PROBLEM);
      return;
    }
    this.deps.assistant.reportProblem({
      id: MQTT_PROBLEM,
      message: `The MQTT broker does not let JARVIS listen on ${status.refused.join(', ')}: Home Assistant's commands cannot reach it`,
      fix: `Allow the account in mqtt.username to read ${this.#settings.baseTopic}/# and ${this.#settings.discoveryPrefix}/status in the broker's ACL.`,
      blocking: false,
    });
  }

  /** Discovery first, then every state, then "online": Home Assistant shows the entities with their values at once. */
  #announce(): void {
    const link = this.#link!;
    for (const { topic, payload } of discoveryMessages(this.topics, this.#settings.clientId, this.#version, this.#parts)) {
      link.publish(topic, JSON.stringify(payload), { retain: true, qos: 1 });
    }
    for (const topic of retiredDiscoveryTopics(this.topics, this.#parts)) link.publish(topic, '', { retain: true, qos: 1 });
    for (const [topic, payload] of this.#retained) link.publish(topic, payload, { retain: true });
    link.publish(this.topics.availability, ONLINE, { retain: true, qos: 1 });
  }

  #setRetained(topic: string, payload: string): void {
    if (this.#retained.get(topic) === payload) return;
    this.#retained.set(topic, payload);
    this.#link?.publish(topic, payload, { retain: true });
  }

  /** A text sensor: its state cut to what Home Assistant keeps, the whole text in its attributes. */
  #setText(topic: string, attributesTopic: string, text: string): void {
    const state = text.length > STATE_MAX_CHARS ? `${text.slice(0, STATE_MAX_CHARS - 1)}…` : text;
    this.#setRetained(attributesTopic, JSON.stringify({ text: text.slice(0, ATTRIBUTE_MAX_CHARS), at: new Date().toISOString() }));
    this.#setRetained(topic, state);
  }

  #onRunEvent(event: RunEvent): void {
    if (event.type === 'llm-start') this.#setText(this.topics.question, this.topics.questionAttributes, event.text);
    else if (event.type === 'llm-end' && event.text) this.#setText(this.topics.answer, this.topics.answerAttributes, event.text);
  }

  #publishNextTimer(timers: TimerService): void {
    const open = timers.list();
    const next = open.find((t) => t.state !== 'ringing');
    this.#setRetained(
      this.topics.timerAttributes,
      JSON.stringify({ kind: next?.kind ?? null, label: next?.label ?? null, open: open.length, ringing: open.filter((t) => t.state === 'ringing').length }),
    );
    // "None" is what Home Assistant's MQTT sensor reads as "no value" (unknown).
    this.#setRetained(this.topics.timer, next ? new Date(next.dueAt).toISOString() : 'None');
  }

  /** The GPU's temperature and memory, at most every mqtt.telemetryEveryMs; its sensors are announced once a GPU is seen. */
  #onTelemetry(sample: TelemetrySample): void {
    if (!sample.gpu.available) return;
    const gpu = sample.gpu.gpus[0];
    if (!gpu) return;
    if (!this.#parts.gpu) {
      this.#parts.gpu = true;
      if (this.connected) this.#announce();
    }
    if (sample.at - this.#lastTelemetryAt < this.#settings.telemetryEveryMs) return;
    this.#lastTelemetryAt = sample.at;
    if (gpu.temperatureC !== undefined) this.#setRetained(this.topics.gpuTemperature, String(Math.round(gpu.temperatureC)));
    if (gpu.memoryUsedMiB !== undefined) this.#setRetained(this.topics.gpuMemory, String(Math.round(gpu.memoryUsedMiB)));
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (payload.length > this.#settings.maxMessageBytes) {
      this.#ignore(topic, payload, `it is ${payload.length} bytes, more than mqtt.maxMessageBytes (${this.#settings.maxMessageBytes})`);
      return;
    }
    switch (topic) {
      case this.topics.command:
        return this.#act(topic, payload, parseCommand(payload), (command) => this.#run(command));
      case this.topics.muteSet:
        return this.#act(topic, payload, parseSwitch(payload), (muted) => this.deps.assistant.setMuted(muted));
      case this.topics.stop:
        return this.#act(topic, payload, parsePress(payload), () => this.#stop('the stop button'));
      case this.topics.homeAssistantStatus:
        // Home Assistant (re)started: it reads discovery again (retained, but sent anew as its docs ask).
        if (payload.toString('utf8').trim() === ONLINE && this.connected) this.#announce();
        return;
    }
  }

  #act<T>(topic: string, payload: Buffer, parsed: Parsed<T>, run: (value: T) => void): void {
    if (!parsed.ok) {
      this.#ignore(topic, payload, parsed.why);
      return;
    }
    run(parsed.value);
  }

  #ignore(topic: string, payload: Buffer, why: string): void {
    const help = topic === this.topics.command ? `; ${COMMAND_HELP}` : '';
    this.#badMessages.warn({ topic, bytes: payload.length }, `MQTT: ignored a message on ${topic}: ${why}${help}`);
  }

  #run(command: MqttCommand): void {
    switch (command.action) {
      case 'announce':
        return this.#announceText(command.text);
      case 'ask':
        return void this.#ask(command.text, command.id);
      case 'stop':
        return this.#stop('the command topic');
    }
  }

  #stop(from: string): void {
    this.log.info(`MQTT: stop (${from})`);
    this.deps.assistant.stop();
  }

  #announceText(text: string): void {
    const { voice, assistant } = this.deps;
    if (!voice) {
      this.#badMessages.warn({ topic: this.topics.command }, 'MQTT: cannot announce: this JARVIS has no speaker (it was started without audio output)');
      return;
    }
    if (this.#pendingAnnouncements >= MAX_PENDING_ANNOUNCEMENTS) {
      this.#badMessages.warn({ topic: this.topics.command }, `MQTT: refused an announcement: ${MAX_PENDING_ANNOUNCEMENTS} are already waiting to be spoken`);
      return;
    }
    this.log.info({ chars: text.length }, 'MQTT: announce');
    this.log.debug({ text }, 'MQTT: announcement');
    // At the volume JARVIS speaks at now (the phone remote's slider, "turn it down").
    const sink = new GainSink(voice.sink);
    sink.gain = assistant.controls.volume;
    this.#pendingAnnouncements++;
    assistant.alert(new Announcement(text, { synthesizer: voice.synthesizer, sink }, () => this.#pendingAnnouncements--));
  }

  /** Asked like a typed question (spoken when there is a speaker, shown on the HUD); the answer goes to the reply topic. */
  async #ask(text: string, id: string | undefined): Promise<void> {
    this.log.info({ chars: text.length, ...(id ? { id } : {}) }, 'MQTT: ask');
    try {
      const result = await this.deps.assistant.ask(text);
      const reply = { ...(id ? { id } : {}), question: text, answer: result.answer ?? '', outcome: result.outcome };
      this.#link?.publish(this.topics.reply, JSON.stringify(reply), { retain: false, qos: 1 });
    } catch (error) {
      const { message } = describeError(error);
      this.log.warn({ err: message }, 'MQTT: could not answer a question asked over MQTT');
    }
  }
}

/** The MQTT device when mqtt.url is set; nothing otherwise. */
export function connectMqtt(config: JarvisConfig, deps: MqttDeviceDeps, log: Logger): MqttDevice | undefined {
  return config.mqtt.url ? new MqttDevice(config, deps, log) : undefined;
}

