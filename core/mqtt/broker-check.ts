import { randomUUID } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { JarvisError } from '../../base/errors.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { brokerError, brokerSettings } from './broker.ts';
import { ONLINE } from './discovery.ts';
import { mqttTopics } from './topics.ts';

/**
 * `jarvis doctor`'s MQTT line: the broker is reachable, takes JARVIS's login, and lets it both publish and
 * subscribe under its base topic (a message sent to <base>/doctor must come back). Says too whether a JARVIS is
 * online there now (the retained availability). Uses its own client id, so a running JARVIS stays connected.
 */

export interface BrokerCheckOptions {
  /** Where mqtt.passwordEnv is looked up. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for the broker at each step (connecting, the message coming back). */
  readonly stepMs?: number;
}

export async function checkBroker(mqtt: JarvisConfig['mqtt'], options: BrokerCheckOptions = {}): Promise<string> {
  const stepMs = options.stepMs ?? 5000;
  const broker = brokerSettings(mqtt, options.env);
  const topics = mqttTopics(mqtt);
  const echo = `${mqtt.baseTopic}/doctor`;
  let client: MqttClient;
  try {
    client = await connectAsync(broker.url, { ...broker.options, clientId: `${mqtt.clientId.slice(0, 40)}-doctor-${randomUUID().slice(0, 8)}`, connectTimeout: stepMs });
  } catch (error) {
    throw brokerError(error, broker.url);
  }
  try {
    let availability: string | undefined;
    const nonce = randomUUID();
    const echoed = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), stepMs);
      client.on('message', (topic, payload) => {
        if (topic === topics.availability) availability = payload.toString('utf8');
        if (topic === echo && payload.toString('utf8') === nonce) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    const granted = await client.subscribeAsync([topics.availability, echo], { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) throw notAllowed(`subscribe to ${refused.join(', ')}`, mqtt, broker.options.username);
    await client.publishAsync(echo, nonce, { qos: 1 });
    // A broker's ACL drops what an account may not publish or read without a word (MQTT 3.1.1; mosquitto even grants
    // the subscription): the message never comes back.
    if (!(await echoed)) throw notAllowed(`publish to ${echo} and read it back`, mqtt, broker.options.username);
    const who = broker.options.username ? `as ${broker.options.username}` : 'without a login';
    const running = availability === undefined ? 'no JARVIS has been connected there yet' : availability === ONLINE ? 'JARVIS is online there' : 'JARVIS is not connected there now';
    return `${broker.url} ${who}: may publish and subscribe under ${mqtt.baseTopic}/; ${running}`;
  } finally {
    await client.endAsync().catch(() => {});
  }
}

function notAllowed(what: string, mqtt: JarvisConfig['mqtt'], username: string | undefined): JarvisError {
  return new JarvisError(
    'mqtt-not-allowed',
    `the MQTT broker does not let ${username ?? 'an anonymous client'} ${what}`,
    `Allow ${username ? `the account ${username}` : 'JARVIS'} to read and write ${mqtt.baseTopic}/# and ${mqtt.discoveryPrefix}/# in the broker's ACL.`,
  );
}
