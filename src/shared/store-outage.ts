// Failures of MongoDB itself (unreachable, restarting, or a backend too busy to take the
// write) rather than of an operation. An operation that meets one waits and resumes from its
// checkpoint; it spends none of its retries, which are for faults of the change itself.

import {
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { WorkerError } from './errors.js';

/** FerretDB on SQLite answers a write it cannot take now with "database is locked". */
const BUSY_BACKEND = /database is locked|SQLITE_BUSY/i;

export function isStoreOutage(error: unknown): boolean {
  if (error instanceof WorkerError) return error.code === 'STORE_TRANSIENT';
  return (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoTopologyClosedError ||
    (error instanceof MongoError &&
      (error.hasErrorLabel('RetryableWriteError') || BUSY_BACKEND.test(error.message)))
  );
}
