import type { Phase } from '../protocol/state.ts';
import type { MqttTopics } from './topics.ts';

/**
 * Home Assistant's MQTT discovery messages for JARVIS: one config per entity, on
 * `<prefix>/<component>/<node>/<key>/config`, all naming the same `device`, so Home Assistant shows one device
 * with these entities. Every entity shares JARVIS's availability topic, so all of them turn "unavailable" when
 * JARVIS stops or dies (its last will). Per-entity discovery rather than the newer single device message: every
 * Home Assistant release with MQTT discovery reads it.
 */

export interface DiscoveryMessage {
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

/** Which optional entities to announce: the timer needs the skills, the GPU sensors a GPU in the telemetry. */
export interface DiscoveredParts {
  readonly timers: boolean;
  readonly gpu: boolean;
  readonly conversation: boolean;
}

/** Every phase the state sensor may report (its `options`, as Home Assistant's enum sensors require). */
export const PHASES: readonly Phase[] = ['booting', 'idle', 'listening', 'thinking', 'speaking', 'degraded'];

export const MUTE_ON = 'ON';
export const MUTE_OFF = 'OFF';
export const PRESS = 'PRESS';
export const ONLINE = 'online';
export const OFFLINE = 'offline';

export function discoveryMessages(topics: MqttTopics, node: string, version: string, parts: DiscoveredParts): DiscoveryMessage[] {
  const device = { identifiers: [node], name: 'JARVIS', manufacturer: 'JARVIS', model: 'Local voice assistant', sw_version: version };
  const common = {
    device,
    origin: { name: 'JARVIS', sw_version: version },
    availability_topic: topics.availability,
    payload_available: ONLINE,
    payload_not_available: OFFLINE,
  };
  const entity = (component: string, key: string, config: Record<string, unknown>): DiscoveryMessage => ({
    topic: topics.discovery(component, key),
    payload: { ...config, unique_id: `${node}_${key}`, ...common },
  });
  return [
    entity('sensor', 'state', { name: 'State', state_topic: topics.state, device_class: 'enum', options: PHASES, icon: 'mdi:account-voice' }),
    ...(parts.conversation
      ? [
          entity('sensor', 'last_question', { name: 'Last question', state_topic: topics.question, json_attributes_topic: topics.questionAttributes, icon: 'mdi:account-question' }),
          entity('sensor', 'last_answer', { name: 'Last answer', state_topic: topics.answer, json_attributes_topic: topics.answerAttributes, icon: 'mdi:message-reply-text' }),
        ]
      : []),
    entity('switch', 'mute', { name: 'Mute', state_topic: topics.mute, command_topic: topics.muteSet, payload_on: MUTE_ON, payload_off: MUTE_OFF, icon: 'mdi:microphone-off' }),
    entity('button', 'stop', { name: 'Stop', command_topic: topics.stop, payload_press: PRESS, icon: 'mdi:stop-circle' }),
    ...(parts.timers
      ? [entity('sensor', 'next_timer', { name: 'Next timer', state_topic: topics.timer, json_attributes_topic: topics.timerAttributes, device_class: 'timestamp', icon: 'mdi:timer-outline' })]
      : []),
    ...(parts.gpu
      ? [
          entity('sensor', 'gpu_temperature', { name: 'GPU temperature', state_topic: topics.gpuTemperature, device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement', entity_category: 'diagnostic' }),
          entity('sensor', 'gpu_memory', { name: 'GPU memory used', state_topic: topics.gpuMemory, device_class: 'data_size', unit_of_measurement: 'MiB', state_class: 'measurement', entity_category: 'diagnostic', icon: 'mdi:expansion-card' }),
        ]
      : []),
  ];
}

/**
 * The discovery topics of the entities this JARVIS is configured not to have (mqtt.conversation off, skills off):
 * an empty retained message there removes them from Home Assistant, should an earlier run have announced them.
 * The GPU sensors are not among them: a GPU not seen yet is no reason to remove what an earlier start found.
 */
export function retiredDiscoveryTopics(topics: MqttTopics, parts: DiscoveredParts): string[] {
  return [
    ...(parts.conversation ? [] : [topics.discovery('sensor', 'last_question'), topics.discovery('sensor', 'last_answer')]),
    ...(parts.timers ? [] : [topics.discovery('sensor', 'next_timer')]),
  ];
}
