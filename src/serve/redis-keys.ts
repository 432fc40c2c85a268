// Names the server and the workers share in Redis. One BullMQ queue per served model, so a worker takes
// only jobs for models it has loaded; workers announce their models in a hash with a heartbeat; results
// are stored in Redis (one hash of files per job, with a time to live) so workers and servers need no
// shared filesystem; cancellations travel on a pub/sub channel to whichever worker runs the job.
export const PREFIX = 'tcpade';

/** BullMQ queue name of a model (names are limited to safe characters). */
export function queueName(model: string): string {
  return `${PREFIX}-jobs-${model.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/** hash: model name → JSON { info, worker, seenAt } */
export const MODELS_KEY = `${PREFIX}:models`;

/** hash: file name → bytes, of one finished job */
export function resultKey(id: string): string {
  return `${PREFIX}:result:${id}`;
}

/** string: JSON { model, createdAt } of a job cancelled by a caller (BullMQ may have removed the job itself) */
export function cancelledKey(id: string): string {
  return `${PREFIX}:cancelled:${id}`;
}

/** hash: job id → model, for every job the service accepted (so a job id finds its queue) */
export const JOB_MODEL_KEY = `${PREFIX}:job-model`;

/** pub/sub channel: job ids to cancel */
export const CANCEL_CHANNEL = `${PREFIX}:cancel`;

/** A worker's models count as served while its heartbeat is younger than this. */
export const WORKER_STALE_MS = 30_000;
export const HEARTBEAT_MS = 10_000;
