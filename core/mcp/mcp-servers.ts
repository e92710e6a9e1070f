import { JarvisError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import { mcpServerSchema, type JarvisConfig, type McpServerConfig } from '../../config/schema.ts';
import { systemClock } from '../../base/clock.ts';
import { McpTools } from './mcp-tools.ts';

/** mcp.servers, and Home Assistant's own MCP server (its /api/mcp, named "home") when home.url is set with home.mcp. */
export function configuredMcpServers(config: JarvisConfig): McpServerConfig[] {
  const { home, mcp } = config;
  const servers: McpServerConfig[] = [...mcp.servers];
  if (home.url && home.token && home.mcp && !servers.some((s) => s.name === 'home')) {
    servers.push(mcpServerSchema.parse({ name: 'home', url: new URL('api/mcp', home.url.endsWith('/') ? home.url : `${home.url}/`).href, token: home.token }));
  }
  return servers;
}

/** `jarvis doctor`'s line for one server: it connects, and its tools with their policies; throws what is wrong. */
export async function checkMcpServer(server: McpServerConfig, config: JarvisConfig, log: Logger, timeoutMs = 15_000): Promise<string> {
  const tools = new McpTools([server], config.mcp, log, systemClock, config.skills.maxToolCallsPerTurn);
  try {
    const connection = tools.connections[0]!;
    try {
      await connection.connected(timeoutMs);
    } catch (error) {
      const why = connection.lastError;
      throw new JarvisError('mcp-not-connected', `did not connect: ${why?.message ?? (error as Error).message}`, why?.fix ?? 'Check the server and its settings in mcp.servers.');
    }
    const [report] = tools.report();
    const listed = report!.tools.map((t) => `${t.name} (${t.policy}${t.configured ? '' : ', default'})`);
    return `connected (${report!.transport}); ${listed.length} tools: ${listed.join(', ') || 'none'}`;
  } finally {
    await tools.dispose();
  }
}
