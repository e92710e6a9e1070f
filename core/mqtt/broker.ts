import type { IClientOptions } from 'mqtt';
import { JarvisError } from '../../base/errors.ts';
import type { JarvisConfig } from '../../config/schema.ts';

/**
 * How to reach the broker, from the `mqtt` settings: the URL without credentials (the only form that is logged or
 * shown), and MQTT.js's options with the account. The password comes from mqtt.password (JARVIS_MQTT__PASSWORD),
 * the variable mqtt.passwordEnv names, or the URL itself, in that order; it goes to MQTT.js and nowhere else.
 */

export interface BrokerSettings {
  /** The broker's URL with any user and password taken out: safe to log and to show. */
  readonly url: string;
  readonly options: IClientOptions;
}

/** A broker that does not answer the connection in this long is treated as down (and tried again later). */
const CONNECT_TIMEOUT_MS = 10_000;

export function brokerSettings(mqtt: JarvisConfig['mqtt'], env: NodeJS.ProcessEnv = process.env): BrokerSettings {
  if (!mqtt.url) throw new JarvisError('mqtt-off', 'mqtt.url is not set', 'Set mqtt.url to your broker, e.g. mqtt://127.0.0.1:1883.');
  const url = new URL(mqtt.url);
  const fromUrl = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  url.username = '';
  url.password = '';
  let password = mqtt.password ?? (fromUrl.password || undefined);
  if (mqtt.passwordEnv) {
    password = env[mqtt.passwordEnv];
    if (!password) {
      throw new JarvisError(
        'mqtt-password-missing',
        `mqtt.passwordEnv names the environment variable ${mqtt.passwordEnv}, which is not set`,
        `Set ${mqtt.passwordEnv} to the broker password in the environment JARVIS starts in, or remove mqtt.passwordEnv.`,
      );
    }
  }
  const username = mqtt.username ?? (fromUrl.username || undefined);
  return {
    url: url.toString().replace(/\/$/, ''),
    options: {
      clientId: mqtt.clientId,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      // MQTT 3.1.1: what every broker and Home Assistant speak.
      protocolVersion: 4,
      clean: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // JARVIS reconnects itself, with back-off (MQTT.js only knows a fixed period).
      reconnectPeriod: 0,
      // Nothing is queued while the broker is away: on reconnecting, the current state is published anew.
      queueQoSZero: false,
    },
  };
}

/** What went wrong with the broker, in words, with what to do about it. */
export function brokerError(error: unknown, url: string): JarvisError {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const refusal = message.replace(/^Connection refused: /, '');
  // MQTT 3.1.1 CONNACK 4 and 5, MQTT 5 reason codes 134 and 135.
  if (code === 4 || code === 5 || code === 134 || code === 135) {
    return new JarvisError(
      'mqtt-refused',
      `the MQTT broker at ${url} refused JARVIS's login (${refusal.toLowerCase()})`,
      "Check mqtt.username and the password (mqtt.password, mqtt.passwordEnv or JARVIS_MQTT__PASSWORD) against the broker's accounts.",
      { cause: error },
    );
  }
  if (code === 2 || code === 133) {
    return new JarvisError('mqtt-client-id', `the MQTT broker at ${url} refused the client id`, 'Set mqtt.clientId to another id (letters, digits, "-" and "_").', { cause: error });
  }
  if (code === 'ECONNREFUSED') {
    return new JarvisError('mqtt-unreachable', `nothing answers at ${url} (connection refused)`, 'Start the MQTT broker (e.g. `sudo systemctl start mosquitto`), or correct mqtt.url.', { cause: error });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new JarvisError('mqtt-unreachable', `the host in mqtt.url (${url}) is not known`, 'Correct the host name in mqtt.url, or use the broker\'s IP address.', { cause: error });
  }
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || /timeout/i.test(message)) {
    return new JarvisError('mqtt-unreachable', `the MQTT broker at ${url} does not answer`, 'Check that the broker runs and that no firewall stands between it and JARVIS.', { cause: error });
  }
  if (typeof code === 'string' && /CERT|TLS|SSL/.test(code)) {
    return new JarvisError('mqtt-tls', `the MQTT broker at ${url} has a certificate JARVIS does not trust (${message})`, "Give the broker a certificate from an authority this computer trusts (NODE_EXTRA_CA_CERTS adds one), or use mqtt:// on a trusted network.", { cause: error });
  }
  return new JarvisError('mqtt-lost', `lost the MQTT broker at ${url}: ${message}`, "JARVIS reconnects by itself; if this lasts, look at the broker's log.", { cause: error });
}
