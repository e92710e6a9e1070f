import { z } from 'zod';
import { JarvisError } from '../../base/errors.ts';

/**
 * Home Assistant's REST API, the two calls JARVIS needs: `GET /api/` (is it there, is the token good) and
 * `POST /api/conversation/process` (a sentence to its conversation agent). The built-in agent matches device
 * requests locally with Home Assistant's own sentence templates, so "turn off the kitchen lights" is done without
 * any LLM, in the time of one HTTP round trip. Documented at developers.home-assistant.io/docs/api/rest and
 * /docs/intent_conversation_api.
 */

export interface HomeAssistantOptions {
  readonly url: string;
  readonly token: string;
  readonly timeoutMs: number;
}

/** What the agent made of a sentence. `handled`: it acted or answered; otherwise the LLM may try. */
export interface ConversationResult {
  readonly handled: boolean;
  /** What Home Assistant says back ("Turned off the lights"), in its own words. */
  readonly speech: string;
  /** action_done, query_answer or error. */
  readonly responseType: string;
  /** For an error: no_intent_match, no_valid_targets, failed_to_handle or unknown. */
  readonly errorCode?: string;
  /** Names of what it acted on, e.g. ["Kitchen Light"]. */
  readonly succeeded: readonly string[];
  readonly failed: readonly string[];
  /** Home Assistant's id for the conversation, to pass back with the next sentence (a follow-up question). */
  readonly conversationId?: string;
  /** The agent asked something back and waits for the answer. */
  readonly continueConversation: boolean;
}

const target = z.looseObject({ name: z.string().optional(), id: z.string().optional() });
const conversationResponse = z.looseObject({
  conversation_id: z.string().nullish(),
  continue_conversation: z.boolean().optional(),
  response: z.looseObject({
    response_type: z.string(),
    speech: z.looseObject({ plain: z.looseObject({ speech: z.string() }).optional() }).optional(),
    data: z
      .looseObject({
        code: z.string().optional(),
        success: z.array(target).optional(),
        failed: z.array(target).optional(),
      })
      .optional(),
  }),
});

/** Failures the agent reports about a sentence it did not act on: another answerer may try. */
const NOT_UNDERSTOOD = new Set(['no_intent_match', 'no_valid_targets']);

export class HomeAssistantError extends JarvisError {}

export class HomeAssistant {
  readonly url: string;

  constructor(private readonly options: HomeAssistantOptions) {
    this.url = options.url.replace(/\/+$/, '');
  }

  /** Its MCP server (the "Model Context Protocol Server" integration), serving the Assist API's tools. */
  get mcpUrl(): string {
    return `${this.url}/api/mcp`;
  }

  /** Its version and the home's name, when Home Assistant answers with this token; the error says what to fix otherwise. */
  async check(signal?: AbortSignal): Promise<{ version: string; locationName: string }> {
    const notHomeAssistant = () => new HomeAssistantError('home-not-home-assistant', `${this.url} answered, but not as Home Assistant's API does`, 'Check the address: it is the one you open Home Assistant at, e.g. http://homeassistant.local:8123.');
    if (!z.looseObject({ message: z.string() }).safeParse(await this.#call('GET', '/api/', undefined, signal)).success) throw notHomeAssistant();
    const about = z.looseObject({ version: z.string(), location_name: z.string() }).safeParse(await this.#call('GET', '/api/config', undefined, signal));
    if (!about.success) throw notHomeAssistant();
    return { version: about.data.version, locationName: about.data.location_name };
  }

  /** One sentence to the conversation agent. `conversationId` continues the agent's conversation (its question). */
  async converse(text: string, options: { language: string; agentId: string; conversationId?: string; signal?: AbortSignal }): Promise<ConversationResult> {
    const body = await this.#call(
      'POST',
      '/api/conversation/process',
      { text, language: options.language, agent_id: options.agentId, ...(options.conversationId ? { conversation_id: options.conversationId } : {}) },
      options.signal,
    );
    const parsed = conversationResponse.safeParse(body);
    if (!parsed.success) throw new HomeAssistantError('home-bad-response', `Home Assistant's conversation API answered in an unexpected shape`, 'Update Home Assistant (2023.2 or later has this API), or report the response shown in the log at debug level.');
    const { response } = parsed.data;
    const errorCode = response.response_type === 'error' ? (response.data?.code ?? 'unknown') : undefined;
    const names = (list: readonly z.infer<typeof target>[] | undefined) => (list ?? []).flatMap((t) => (t.name ? [t.name] : []));
    return {
      handled: errorCode === undefined || !NOT_UNDERSTOOD.has(errorCode),
      speech: response.speech?.plain?.speech ?? '',
      responseType: response.response_type,
      ...(errorCode ? { errorCode } : {}),
      succeeded: names(response.data?.success),
      failed: names(response.data?.failed),
      ...(parsed.data.conversation_id ? { conversationId: parsed.data.conversation_id } : {}),
      continueConversation: parsed.data.continue_conversation ?? false,
    };
  }

  async #call(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        // The token goes in this header only; nothing here logs requests.
        headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'error',
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (timeout.aborted) throw new HomeAssistantError('home-timeout', `Home Assistant at ${this.url} did not answer within ${this.options.timeoutMs} ms`, 'Check that Home Assistant is running and reachable from this computer, or raise home.timeoutMs.', { cause: error });
      throw new HomeAssistantError('home-unreachable', `cannot reach Home Assistant at ${this.url} (${(error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message})`, 'Check that Home Assistant is running and that home.url is the address you open it at.', { cause: error });
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new HomeAssistantError('home-unauthorized', `Home Assistant at ${this.url} refused the access token (HTTP ${response.status})`, 'Create a long-lived access token in Home Assistant (your profile → Security) and run `jarvis home connect` again.');
    }
    if (response.status === 404) {
      await response.body?.cancel();
      throw new HomeAssistantError('home-no-api', `Home Assistant at ${this.url} has no ${path}`, path.includes('conversation') ? 'Enable the Conversation (Assist) integration in Home Assistant; it is part of default_config.' : 'Check the address: it is the one you open Home Assistant at.');
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new HomeAssistantError('home-error', `Home Assistant at ${this.url} answered HTTP ${response.status}`, 'See Home Assistant\'s log (Settings → System → Logs).');
    }
    try {
      return await response.json();
    } catch (error) {
      throw new HomeAssistantError('home-bad-response', `Home Assistant at ${this.url} answered with something other than JSON`, 'Check that home.url is Home Assistant itself, not a proxy\'s login page.', { cause: error });
    }
  }
}

/** One line on the configured Home Assistant ("2026.11.3 ("Home") at http://…; JARVIS is in the Kitchen"), checked live. */
export async function describeHomeAssistant(home: { url?: string | undefined; token?: string | undefined; area?: string | undefined; timeoutMs: number }): Promise<string> {
  if (!home.url || !home.token) throw new HomeAssistantError('home-not-connected', 'not connected to Home Assistant', 'Connect with `jarvis home connect URL`.');
  const about = await new HomeAssistant({ url: home.url, token: home.token, timeoutMs: Math.max(home.timeoutMs, 5000) }).check();
  return `${about.version} ("${about.locationName}") at ${home.url}${home.area ? `; JARVIS is in the ${home.area}` : ''}`;
}
