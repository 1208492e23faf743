// Reads Redis's own counters around a benchmark phase, so a comparison can show how much
// server work each side spends per job, not only how fast its client went.

import type { Redis } from 'ioredis';

export interface RedisSample {
  commands: number;
  cpuMs: number;
}

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

export async function sampleRedis(redis: Redis): Promise<RedisSample> {
  const [stats, cpu] = await Promise.all([redis.info('stats'), redis.info('cpu')]);
  return {
    commands: field(stats, 'total_commands_processed'),
    cpuMs: (field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys')) * 1000,
  };
}

export function delta(before: RedisSample, after: RedisSample): RedisSample {
  return { commands: after.commands - before.commands, cpuMs: after.cpuMs - before.cpuMs };
}
