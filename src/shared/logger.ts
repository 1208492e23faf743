// Structured logs: stable snake_case event names in `event`, context in child loggers.
// Secrets never reach a line: the paths below are redacted wherever they appear.

import { pino, type Logger } from 'pino';

export type { Logger };

const REDACTED_PATHS = [
  'kubeconfig',
  'kubeconfig_content',
  '*.kubeconfig',
  '*.kubeconfig_content',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'password',
  '*.password',
];

export function createLogger(level = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { ...bindings },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
