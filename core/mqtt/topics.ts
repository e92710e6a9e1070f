import type { JarvisConfig } from '../../config/schema.ts';

/**
 * Every topic JARVIS publishes or listens on, from mqtt.baseTopic and mqtt.discoveryPrefix. One place, so the
 * discovery payloads, the publisher and the command handler cannot disagree.
 */
export interface MqttTopics {
  /** "online" / "offline", retained; "offline" is also the last will, so it holds when JARVIS dies. */
  readonly availability: string;
  /** The assistant's phase: idle, listening, thinking, speaking (booting, degraded). */
  readonly state: string;
  readonly question: string;
  readonly questionAttributes: string;
  readonly answer: string;
  readonly answerAttributes: string;
  /** "ON" / "OFF": the microphone muted. */
  readonly mute: string;
  readonly muteSet: string;
  /** The stop button: "PRESS" stops what JARVIS says or rings. */
  readonly stop: string;
  /** Automations: announce, ask, stop (core/mqtt/commands.ts). */
  readonly command: string;
  /** The answer to each `ask` command (not retained). */
  readonly reply: string;
  /** The next timer, alarm or reminder: an ISO 8601 time, or "None". */
  readonly timer: string;
  readonly timerAttributes: string;
  readonly gpuTemperature: string;
  readonly gpuMemory: string;
  /** Home Assistant's own availability ("online" when it (re)starts: discovery is sent again then). */
  readonly homeAssistantStatus: string;
  /** `<prefix>/<component>/<node>/<key>/config`: where Home Assistant reads one entity's discovery message. */
  discovery(component: string, key: string): string;
}

export function mqttTopics(config: JarvisConfig['mqtt']): MqttTopics {
  const base = config.baseTopic;
  const node = config.clientId;
  return {
    availability: `${base}/availability`,
    state: `${base}/state`,
    question: `${base}/question`,
    questionAttributes: `${base}/question/attributes`,
    answer: `${base}/answer`,
    answerAttributes: `${base}/answer/attributes`,
    mute: `${base}/mute`,
    muteSet: `${base}/mute/set`,
    stop: `${base}/stop`,
    command: `${base}/command`,
    reply: `${base}/reply`,
    timer: `${base}/timer`,
    timerAttributes: `${base}/timer/attributes`,
    gpuTemperature: `${base}/gpu/temperature`,
    gpuMemory: `${base}/gpu/memory`,
    homeAssistantStatus: `${config.discoveryPrefix}/status`,
    discovery: (component, key) => `${config.discoveryPrefix}/${component}/${node}/${key}/config`,
  };
}
