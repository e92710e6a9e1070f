import type { ToolPolicy } from '../../config/schema.ts';
import { toolWords } from './tool-names.ts';

/**
 * Which MCP tools JARVIS may call without asking. The config names tools (or globs such as "delete_*") per server;
 * a tool it does not name is "confirm" when its name sounds destructive, or its server marks it destructive (MCP's
 * destructiveHint), and "allow" otherwise. Home Assistant's intent tools carry the action in their arguments
 * (HassTurnOff on a lock unlocks it, HassTurnOn on a cover opens it), so a call to a tool left to the default is
 * also confirmed when its target sounds like a lock, a door, a gate or an alarm. "deny": the tool is never
 * offered to the model at all.
 */

/** Words in a tool's name that mean it may do harm or cannot be undone. */
const DESTRUCTIVE = /\b(?:unlock|open|disarm|delete|remove|erase|destroy|drop|wipe|purge|reset|format|kill|terminate|shutdown|shut down|reboot|restart|buy|order|purchase|pay|transfer|send|post|publish|email|mail|call|dial|overwrite|write|move|rename|uninstall|revoke)\b/;
/** Targets whose switching is a matter of security: a call on them is confirmed even through harmless-sounding tools. */
const SENSITIVE_TARGET = /\b(?:lock|locks|door|doors|gate|gates|garage|alarm|alarms|security|safe|vault)\b/;
const SENSITIVE_DOMAIN = new Set(['lock', 'alarm_control_panel', 'cover', 'valve']);

export interface ToolAnnotations {
  readonly destructiveHint?: boolean;
  readonly readOnlyHint?: boolean;
}

export interface PolicyDecision {
  readonly policy: ToolPolicy;
  /** True when the config names the tool; false when it follows from its name. */
  readonly configured: boolean;
}

/** The tool's policy: the config's (exact name first, then the first glob that matches), else the default. */
export function toolPolicy(configured: Readonly<Record<string, ToolPolicy>>, tool: string, annotations?: ToolAnnotations): PolicyDecision {
  const exact = configured[tool];
  if (exact) return { policy: exact, configured: true };
  for (const [pattern, policy] of Object.entries(configured)) {
    if (pattern.includes('*') && globMatches(pattern, tool)) return { policy, configured: true };
  }
  if (annotations?.readOnlyHint === true) return { policy: 'allow', configured: false };
  const destructive = annotations?.destructiveHint === true || DESTRUCTIVE.test(toolWords(tool));
  return { policy: destructive ? 'confirm' : 'allow', configured: false };
}

/** Whether this call must be confirmed: the tool's policy, or (for a tool left to the default) a sensitive target. */
export function callNeedsConfirmation(decision: PolicyDecision, args: Readonly<Record<string, unknown>>): boolean {
  if (decision.policy === 'confirm') return true;
  if (decision.configured) return false;
  return targetIsSensitive(args);
}

function targetIsSensitive(args: Readonly<Record<string, unknown>>): boolean {
  const domains = [args.domain].flat().filter((d): d is string => typeof d === 'string');
  if (domains.some((d) => SENSITIVE_DOMAIN.has(d))) return true;
  return ['name', 'area', 'device_class'].some((key) => [args[key]].flat().some((v) => typeof v === 'string' && SENSITIVE_TARGET.test(v.toLowerCase())));
}

/** "*" matches any run of characters, "?" one; the rest literally. */
export function globMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(name);
}
