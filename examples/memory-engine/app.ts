/**
 * A user's service that runs a job with containers: a database that must turn healthy, then
 * a worker whose exit code is the job's result. Both are removed whatever happens. It uses
 * `DockerEngine` only, so it runs unchanged on Docker and on `MemoryEngine`.
 */
import { Effect, Schema, Stream } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"

/** The worker exited non-zero; its last output lines say why. */
export class JobFailed extends Schema.TaggedError<JobFailed>()("JobFailed", {
  exitCode: Schema.Number,
  lastLines: Schema.Array(Schema.String)
}) {}

/** The database's healthcheck failed before the worker could start. */
export class DatabaseUnhealthy extends Schema.TaggedError<DatabaseUnhealthy>()("DatabaseUnhealthy", {
  container: Schema.String
}) {}

export interface Job {
  readonly name: string
  readonly image: string
  readonly command: ReadonlyArray<string>
}

const labels = (job: Job) => ({ "dev.effect-docker.app": "jobs", "dev.effect-docker.instance": job.name })

/** A container that is force-removed when the scope closes (created first, so a failed start still cleans up). */
const container = (options: DockerEngine.CreateContainerOptions) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const { id } = yield* Effect.acquireRelease(engine.createContainer(options), ({ id }) =>
      engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
    )
    yield* engine.startContainer(id)
    return id
  })

/** Waits for the first health verdict of a container started at `since` (Unix seconds). */
const healthVerdict = (id: string, since: number) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const first = yield* engine.events({ containers: [id], actions: ["health_status"], since }).pipe(
      Stream.filter((event) => event.action !== "health_status: starting"),
      Stream.runHead
    )
    return first._tag === "Some" && first.value.action === "health_status: healthy"
  })

/**
 * Runs `job`: the database, then the worker once the database is healthy; returns the
 * worker's output.
 */
export const runJob = (job: Job) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const since = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) / 1000
    const db = yield* container({
      image: job.image,
      name: `${job.name}-db`,
      labels: { ...labels(job), "dev.effect-docker.component": "db" },
      cmd: ["sh", "-c", "touch /ready; sleep 3600"],
      healthcheck: { test: ["CMD", "test", "-f", "/ready"], intervalMs: 1000, retries: 2 }
    })
    if (!(yield* healthVerdict(db, since)))
      return yield* new DatabaseUnhealthy({ container: `${job.name}-db` })

    const worker = yield* container({
      image: job.image,
      name: `${job.name}-worker`,
      labels: { ...labels(job), "dev.effect-docker.component": "worker" },
      cmd: job.command
    })
    const { exitCode } = yield* engine.waitContainer(worker)
    const output = yield* Stream.runCollect(engine.logs(worker, { tail: 5 }))
    const lines = output.map((line) => line.text)
    if (exitCode !== 0) return yield* new JobFailed({ exitCode, lastLines: lines })
    return lines
  }).pipe(Effect.scoped)

/** What is left of a job's containers (none, after `runJob`). */
export const leftovers = (job: Job) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    return yield* engine.listContainers({ all: true, labels: labels(job) })
  })
