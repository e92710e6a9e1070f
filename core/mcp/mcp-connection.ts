import { EventEmitter } from 'node:events';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { backoffMs } from '../../base/backoff.ts';
import { abortError, describeError, JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { McpServerConfig } from '../../config/schema.ts';
import type { CallFailure } from './spoken-call.ts';

/**
 * One MCP server, kept connected: started (stdio) or reached (streamable HTTP) in the background, its tool list
 * followed through `notifications/tools/list_changed`, and connected again with back-off (base/backoff.ts) after
 * it crashes, closes or cannot be reached. Nothing here waits for it: until it is connected it simply has no
 * tools. The token goes into the HTTP request headers only; it is never logged.
 */

export type ConnectionState = 'connecting' | 'connected' | 'failed' | 'closed';

export interface McpConnectionOptions {
  readonly log: Logger;
  /** Default call timeout (a server's own timeoutMs wins). */
  readonly timeoutMs: number;
  readonly retryMs: number;
  readonly maxRetryMs: number;
  /** Where tokenEnv is read (process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A call that did not give a result: how it failed decides the sentence JARVIS says. */
export class McpCallError extends JarvisError {
  constructor(
    readonly failure: CallFailure,
    message: string,
    fix: string,
    options?: { cause?: unknown },
  ) {
    super(`mcp-${failure}`, message, fix, options);
  }
}

export interface CallResult {
  /** The text content of the result, joined. */
  readonly text: string;
  /** structuredContent, or the text parsed when it is JSON. */
  readonly data?: unknown;
}

type Events = { tools: []; state: [ConnectionState] };
const MAX_STDERR_LINE = 300;
/** Starting a server (npx, a Python venv) can take far longer than answering a call. */
const MIN_CONNECT_TIMEOUT_MS = 15_000;

export class McpConnection extends EventEmitter<Events> {
  #client: Client | undefined;
  #state: ConnectionState = 'closed';
  #tools: readonly Tool[] = [];
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #lastError: { message: string; fix?: string } | undefined;
  #disposed = false;
  /** Bumped on every connect, so a late event of an old client cannot change the state of the new one. */
  #generation = 0;

  constructor(
    readonly server: McpServerConfig,
    private readonly options: McpConnectionOptions,
  ) {
    super();
  }

  get name(): string {
    return this.server.name;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get tools(): readonly Tool[] {
    return this.#tools;
  }

  /** Why it is not connected, when it failed. */
  get lastError(): { message: string; fix?: string } | undefined {
    return this.#lastError;
  }

  get timeoutMs(): number {
    return this.server.timeoutMs ?? this.options.timeoutMs;
  }

  /** Connects in the background; returns at once. */
  start(): void {
    if (this.#disposed || this.#state === 'connecting' || this.#state === 'connected') return;
    void this.#connect();
  }

  /** Resolves once connected (or rejects when this attempt fails): for doctor and tests, never for start-up. */
  async connected(timeoutMs: number): Promise<void> {
    if (this.#state === 'connected') return;
    this.start();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
      const onState = (state: ConnectionState) => {
        if (state === 'connected') done();
        else if (state === 'failed' || state === 'closed') done(new Error(this.#lastError?.message ?? state));
      };
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.off('state', onState);
        if (error) reject(error);
        else resolve();
      };
      this.on('state', onState);
    });
  }

  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<CallResult> {
    const client = this.#client;
    if (!client || this.#state !== 'connected') {
      throw new McpCallError('not-connected', `the MCP server "${this.name}" is not connected${this.#lastError ? ` (${this.#lastError.message})` : ''}`, this.#lastError?.fix ?? 'It is connected again automatically; `jarvis doctor` shows why it is not.');
    }
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: this.timeoutMs, signal });
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      throw this.#callError(error, tool);
    }
    const text = Array.isArray(result.content)
      ? result.content.flatMap((c: { type: string; text?: string }) => (c.type === 'text' && typeof c.text === 'string' ? [c.text] : [])).join('\n')
      : '';
    if (result.isError) throw new McpCallError('error', text.trim() || `${tool} failed`, `The MCP server "${this.name}" reported the error; check that server.`);
    return { text, ...(result.structuredContent !== undefined ? { data: result.structuredContent } : parseJson(text)) };
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    clearTimeout(this.#retry);
    this.#generation++;
    const client = this.#client;
    this.#client = undefined;
    this.#setState('closed');
    await client?.close().catch(() => {});
    this.removeAllListeners();
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    this.#setState('connecting');
    let transport: Transport;
    try {
      transport = this.#transport();
    } catch (error) {
      // A missing token variable is a setting to fix, not a hiccup to retry.
      this.#fail(error, generation, false);
      return;
    }
    const client = new Client(
      { name: 'jarvis', version: '1' },
      {
        listChanged: {
          tools: {
            debounceMs: 50,
            onChanged: (error, tools) => {
              if (generation !== this.#generation) return;
              if (error) return this.options.log.warn({ server: this.name, err: describeError(error) }, 'could not read the changed MCP tool list');
              this.#setTools(tools ?? []);
            },
          },
        },
      },
    );
    client.onclose = () => {
      if (generation !== this.#generation || this.#disposed) return;
      this.#fail(new Error('the connection closed (the server stopped or crashed)'), generation, true);
    };
    try {
      const timeout = Math.max(this.timeoutMs, MIN_CONNECT_TIMEOUT_MS);
      await client.connect(transport, { timeout });
      const { tools } = await client.listTools(undefined, { timeout });
      if (generation !== this.#generation) {
        await client.close().catch(() => {});
        return;
      }
      this.#client = client;
      this.#failures = 0;
      this.#lastError = undefined;
      this.#setTools(tools);
      this.options.log.info({ server: this.name, tools: tools.length }, `MCP server ${this.name} connected`);
      this.#setState('connected');
    } catch (error) {
      await client.close().catch(() => {});
      this.#fail(error, generation, true);
    }
  }

  #transport(): Transport {
    const { server } = this;
    if (server.command) {
      const transport = new StdioClientTransport({
        command: server.command,
        args: server.args,
        // The default environment (PATH, HOME…) and what the config adds; JARVIS's own secrets are not passed on.
        env: { ...getDefaultEnvironment(), ...server.env },
        ...(server.cwd ? { cwd: server.cwd } : {}),
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim()) this.options.log.debug({ server: this.name }, line.slice(0, MAX_STDERR_LINE));
        }
      });
      return transport;
    }
    const token = this.#token();
    return new StreamableHTTPClientTransport(new URL(server.url!), {
      ...(token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : {}),
      // Reconnection is ours (with the back-off of the rest of JARVIS), not the transport's.
      reconnectionOptions: { maxReconnectionDelay: 0, initialReconnectionDelay: 0, reconnectionDelayGrowFactor: 1, maxRetries: 0 },
    });
  }

  #token(): string | undefined {
    const { token, tokenEnv } = this.server;
    if (token) return token;
    if (!tokenEnv) return undefined;
    const value = (this.options.env ?? process.env)[tokenEnv];
    if (!value) {
      throw new JarvisError('mcp-token-missing', `the MCP server "${this.name}" takes its token from $${tokenEnv}, which is not set`, `Set ${tokenEnv} in JARVIS's environment (e.g. in the service's Environment=), or put the token in mcp.servers[].token.`);
    }
    return value;
  }

  #fail(error: unknown, generation: number, retry: boolean): void {
    if (generation !== this.#generation || this.#disposed) return;
    const { message, fix } = describeError(error);
    // Events of the client that failed no longer count; it is closed (an HTTP session, a half-dead child).
    const current = ++this.#generation;
    void this.#client?.close().catch(() => {});
    this.#client = undefined;
    this.#lastError = {
      message,
      fix: fix ?? (this.server.command ? `Check that \`${this.server.command}\` starts an MCP server (run it by hand); JARVIS tries again by itself.` : `Check that ${this.server.url} is an MCP endpoint and reachable; JARVIS tries again by itself.`),
    };
    if (this.#tools.length) this.#setTools([]);
    this.#setState('failed');
    if (!retry) {
      this.options.log.error({ server: this.name, fix: this.#lastError.fix }, `MCP server ${this.name}: ${message}`);
      return;
    }
    const waitMs = backoffMs(this.options.retryMs, this.#failures++, this.options.maxRetryMs);
    this.options.log.warn({ server: this.name, retryInMs: waitMs }, `MCP server ${this.name} is not connected: ${message}`);
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      if (!this.#disposed && current === this.#generation) void this.#connect();
    }, waitMs);
    this.#retry.unref();
  }

  #callError(error: unknown, tool: string): McpCallError {
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      return new McpCallError('timeout', `the MCP server "${this.name}" did not answer ${tool} within ${this.timeoutMs} ms`, `Raise mcp.timeoutMs (or this server's timeoutMs), or check the server.`, { cause: error });
    }
    if (error instanceof McpError && error.code !== ErrorCode.ConnectionClosed) {
      if (/tool .*not found|unknown tool/i.test(error.message)) return new McpCallError('unknown-tool', error.message, 'The server changed its tools; ask again.', { cause: error });
      return new McpCallError('error', error.message, `The MCP server "${this.name}" refused the call; check that server.`, { cause: error });
    }
    // Closed under the call, or (HTTP) nobody answers at the address: connect again in the background.
    if (this.#state === 'connected') this.#fail(error, this.#generation, true);
    return new McpCallError('crashed', `the MCP server "${this.name}" stopped during ${tool}: ${describeError(error).message}`, 'JARVIS connects to it again by itself; if it keeps crashing, check that server.', { cause: error });
  }

  #setTools(tools: readonly Tool[]): void {
    this.#tools = tools;
    this.emit('tools');
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }
}

function parseJson(text: string): { data?: unknown } {
  if (!/^\s*[[{]/.test(text)) return {};
  try {
    return { data: JSON.parse(text) as unknown };
  } catch {
    return {};
  }
}
