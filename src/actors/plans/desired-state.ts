// Reading desired_state with errors that tell the user what to send instead.

import { quote } from '../../shared/documents.js';
import { PermanentError } from '../../shared/errors.js';
import { SIZES, type Operation, type Size } from '../../shared/types.js';

function invalid(operation: Operation, message: string, hint: string): PermanentError {
  return new PermanentError('REQUEST_INVALID', `${operation.type}: ${message}`, { hint });
}

export function desiredSize(operation: Operation): Size {
  const size = operation.desired_state.size;
  if (typeof size !== 'string' || !(size in SIZES)) {
    throw invalid(
      operation,
      `desired_state.size ${quote(size ?? null)} is not a known size`,
      `Use one of ${Object.keys(SIZES).join(', ')}`,
    );
  }
  return size as Size;
}

export function desiredReplicas(operation: Operation): number {
  const replicas = operation.desired_state.replicas;
  if (
    typeof replicas !== 'number' ||
    !Number.isInteger(replicas) ||
    replicas < 1 ||
    replicas > 100
  ) {
    throw invalid(
      operation,
      `desired_state.replicas ${quote(replicas ?? null)} is not a replica count`,
      'Use a whole number from 1 to 100',
    );
  }
  return replicas;
}

export function desiredStorageGb(operation: Operation): number {
  const storage = operation.desired_state.storage_gb;
  if (typeof storage !== 'number' || !Number.isInteger(storage) || storage < 1 || storage > 65536) {
    throw invalid(
      operation,
      `desired_state.storage_gb ${quote(storage ?? null)} is not a storage size`,
      'Use a whole number of GB from 1 to 65536',
    );
  }
  return storage;
}

export function desiredVersion(operation: Operation): string {
  const version = operation.desired_state.target_version;
  if (typeof version !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(version)) {
    throw invalid(
      operation,
      `desired_state.target_version ${quote(version ?? null)} is not a version name`,
      'Use a KubeDB catalog version name such as "16.4" or "8.0.35"',
    );
  }
  return version;
}
