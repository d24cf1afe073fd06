/**
 * Scenario `swarm` (issue 17): on the test swarm (scripts/swarm-engines.sh, 3 nodes), the time
 * from `run` to all replicas running, for 1 service x N replicas and N services x 1 replica,
 * against `docker service create` (1 x N) and `docker stack deploy` (N x 1) of the same, in
 * the same run; then the teardown of each.
 *
 * What each side measures (the same external poll decides for both):
 * - up: from the call (`run` of every spec; the CLI spawned) until all N task containers run,
 *   seen by one poll of every node's engine (`listContainers` by this run's label, every
 *   100 ms): what the nodes actually run. For ours, the moment our state streams reported all
 *   N slots `running` is its own row (the user's view, bounded by the task poll interval).
 *   The CLI runs with `--detach` (it returns once the manager accepted the services).
 * - teardown: from the Supervisor's release (its scope closed) or `docker service rm` /
 *   `docker stack rm` until no task container is left on any node (and, for ours, the release
 *   has returned: it also removes the instance's overlay network; the references' network is
 *   made and removed outside the timing).
 * Both sides run the same image and command (exits on SIGTERM), 16 MiB memory limit,
 * `dnsrr` endpoints (this kernel lacks IPVS), attached to an attachable overlay network made
 * beforehand, as replicated services restarted on any exit: ours with `RestartPolicy.always()`
 * (the spec's default `never` is a replicated job, which the CLI's defaults are not; and a job
 * removed while its tasks run keeps them running on Engine 20.10, moby/moby#44312). Ours runs
 * twice per round, with the default `taskPollInterval` (1 s) and with 250 ms, to show what the
 * task poll costs the user's view. The order of the sides alternates between rounds. The nodes'
 * `dockerd` and `containerd` CPU over each measured window is counted too (the whole swarm's cost).
 *
 * The swarm not answering (a node down for longer than a minute: other suites drain or kill
 * nodes for a few seconds) skips the scenario with a line saying so; under `CI=true` (CI
 * starts the swarm before the bench) it fails.
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Dockerode from "dockerode"
import { Context, Deferred, Duration, Effect, Exit, Layer, Schedule, Scope, Stream } from "effect"
import type * as ContainerSpec from "../src/ContainerSpec.js"
import * as DockerEngine from "../src/DockerEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"
import * as Supervisor from "../src/Supervisor.js"
import { swarmImage, swarmManager, swarmNodes, swarmUnavailable } from "../test/support/swarmEnv.js"
import { compare, figure, now, progress, type Row, type Settings, show } from "./harness.js"
import * as Reference from "./reference.js"

/** How often the external poll looks at the nodes. */
const pollMillis = 100

/** No round may take longer than this to converge or to tear down. */
const deadlineMillis = 180_000

const command = Reference.serviceCommand

const manager = new Dockerode({ socketPath: swarmManager.socketPath })
const nodes = swarmNodes.map((node) => new Dockerode({ socketPath: node.socketPath }))

/** Everything of this run on the swarm carries the run's test label. */
const runFilter = JSON.stringify({ label: [`dev.effect-docker.test=${Reference.runId}`] })

/**
 * Task containers of this run on every node: how many exist, how many run; `undefined` when a
 * node did not answer (another suite killed its daemon for a moment): nothing is decided on it.
 */
const census = () =>
  Promise.all(nodes.map((node) => node.listContainers({ all: true, filters: runFilter }))).then(
    (lists) => {
      const all = lists.flat()
      return { total: all.length, running: all.filter((container) => container.State === "running").length }
    },
    () => undefined
  )

/** Polls the nodes until `done`; answers when it first held, or `undefined` after `deadline` ms. */
const poll = (done: (seen: { total: number; running: number }) => boolean, deadline = deadlineMillis) =>
  Effect.promise(async () => {
    const started = now()
    for (;;) {
      const seen = await census()
      const at = now()
      if (seen !== undefined && done(seen)) return at
      if (at - started > deadline) return undefined
      await new Promise((resolve) => setTimeout(resolve, pollMillis))
    }
  })

/** Polls the nodes until `done`; fails after the deadline. */
const until = (label: string, done: (seen: { total: number; running: number }) => boolean) =>
  Effect.flatMap(poll(done), (at) =>
    at === undefined
      ? Effect.fail(new Error(`${label}: not done within ${deadlineMillis / 1000} s`))
      : Effect.succeed(at)
  )

/** Force-removes this run's task containers on every node (what a teardown left); answers how many. */
const removeOrphans = Effect.promise(async () => {
  const lists = await Promise.all(
    nodes.map(async (node) => {
      const found = await node.listContainers({ all: true, filters: runFilter })
      await Promise.all(
        found.map((one) =>
          node
            .getContainer(one.Id)
            .remove({ force: true })
            .catch(() => undefined)
        )
      )
      return found.length
    })
  )
  return lists.reduce((sum, count) => sum + count, 0)
})

// ---------------------------------------------------------------------------------------------
// The nodes' engines' CPU (their dockerd and its containerd), from /proc
// ---------------------------------------------------------------------------------------------

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
  } catch {
    return ""
  }
}

/** The dockerd and containerd of every swarm node (their data/exec roots name the node). */
const swarmDaemons = (): ReadonlyArray<number> =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const line = cmdline(pid)
      return /(^|\/)(dockerd|containerd) /.test(line) && line.includes("effect-docker-swarm/node")
    })

const cpuOf = (pids: ReadonlyArray<number>): number =>
  pids.reduce((sum, pid) => {
    try {
      return sum + Reference.cpuMillisOf(pid)
    } catch {
      return sum
    }
  }, 0)

/** A measured window: its length and the swarm engines' CPU in it. */
interface Sample {
  readonly millis: number
  /** `undefined` when a node's daemon was restarted in the window (another suite killed it). */
  readonly engineCpu: number | undefined
}

/** The engines' CPU since `cpuBefore` was read of `daemons`, unless one of them was replaced since. */
const cpuSince = (daemons: ReadonlyArray<number>, cpuBefore: number): number | undefined => {
  const current = swarmDaemons()
  const same = current.length === daemons.length && current.every((pid) => daemons.includes(pid))
  return same ? cpuOf(daemons) - cpuBefore : undefined
}

const measured = <E, R>(window: (started: number) => Effect.Effect<number, E, R>) =>
  Effect.gen(function* () {
    const daemons = swarmDaemons()
    const cpuBefore = cpuOf(daemons)
    const started = now()
    const ended = yield* window(started)
    return { millis: ended - started, engineCpu: cpuSince(daemons, cpuBefore) } satisfies Sample
  })

// ---------------------------------------------------------------------------------------------
// One shape: S services of R replicas
// ---------------------------------------------------------------------------------------------

interface Shape {
  readonly services: number
  readonly replicas: number
}

const nameOf = (shape: Shape) => `${shape.services}x${shape.replicas}`

const specOf = (index: number, replicas: number): ContainerSpec.Input => ({
  name: `s${index}`,
  image: swarmImage,
  command,
  replicas,
  // A replicated service restarted on any exit, as `docker service create` makes by default.
  restartPolicy: RestartPolicy.always(),
  resources: { memoryBytes: Reference.memoryBytes },
  swarmEndpoint: { mode: "dnsrr" }
})

/** One round of one side: the up and teardown windows, and (ours) when the streams saw all running. */
interface Outcome {
  readonly up: Sample
  /** `undefined`: task containers were still there long after the teardown. */
  readonly down: Sample | undefined
  readonly streams?: number | undefined
  /** Ours: task containers still on the nodes after the release (removed by the bench). */
  readonly orphans?: number | undefined
  /** Ours: how long the release itself took. */
  readonly release?: number | undefined
}

/**
 * Our side: a Swarm Supervisor on the manager (built, not timed) polling tasks every
 * `taskPollMillis`, `run` of every spec, release.
 */
const ours = (shape: Shape, settings: Settings, taskPollMillis: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const instanceScope = yield* Effect.acquireRelease(Scope.make(), (scope, exit) =>
        Scope.close(scope, exit)
      )
      const services = yield* Layer.buildWithScope(
        Supervisor.layerSwarm({
          app: "bench",
          labels: { ...Reference.labels },
          taskPollInterval: Duration.millis(taskPollMillis)
        }).pipe(Layer.provide(DockerEngine.layerWith({ host: swarmManager.host }))),
        instanceScope
      )
      const supervisor = Context.get(services, Supervisor.Supervisor)
      const total = shape.services * shape.replicas
      const allReported = yield* Deferred.make<number>()
      const running = new Set<string>()
      const daemons = swarmDaemons()
      const cpuBefore = cpuOf(daemons)
      const started = now()
      yield* Effect.forEach(
        Array.from({ length: shape.services }, (_, index) => index),
        (index) =>
          supervisor.run(specOf(index, shape.replicas)).pipe(
            Stream.runForEach((state) =>
              Effect.suspend(() => {
                if (state.status !== "running" || state.task === undefined) return Effect.void
                running.add(`${index}/${state.task.slot}`)
                return running.size < total ? Effect.void : Deferred.succeed(allReported, now())
              })
            ),
            Effect.forkScoped
          ),
        { discard: true }
      )
      const nodesAt = yield* until(`ours ${nameOf(shape)} up`, (seen) => seen.running >= total)
      const up = { millis: nodesAt - started, engineCpu: cpuSince(daemons, cpuBefore) }
      const reportedAt = yield* Deferred.await(allReported).pipe(
        Effect.timeoutOrElse({
          duration: deadlineMillis,
          orElse: () =>
            Effect.fail(
              new Error(`ours ${nameOf(shape)}: the state streams never reported all replicas running`)
            )
        })
      )
      // How long the nodes keep a task container after the release returned, at most.
      const daemonsDown = swarmDaemons()
      const cpuBeforeDown = cpuOf(daemonsDown)
      const releaseStarted = now()
      yield* Scope.close(instanceScope, Exit.void)
      const released = now()
      const gone = yield* poll((seen) => seen.total === 0, settings.quick ? 10_000 : 30_000)
      const down =
        gone === undefined
          ? undefined
          : {
              millis: Math.max(released, gone) - releaseStarted,
              engineCpu: cpuSince(daemonsDown, cpuBeforeDown)
            }
      const orphans = gone === undefined ? yield* removeOrphans : 0
      return {
        up,
        down,
        streams: reportedAt - started,
        orphans,
        release: released - releaseStarted
      } satisfies Outcome
    })
  )

/** The docker CLI against the manager. */
const docker = (args: ReadonlyArray<string>) =>
  Effect.promise(() => Reference.cli(["-H", swarmManager.host, ...args]))

const labelEntries = Object.entries(Reference.labels)

/** A compose file of `shape` as JSON (which is YAML), on an external network. */
const composeFile = (shape: Shape, network: string): string => {
  const service = {
    image: swarmImage,
    command: [...command],
    labels: Reference.labels,
    networks: ["bench"],
    deploy: {
      replicas: shape.replicas,
      endpoint_mode: "dnsrr",
      labels: Reference.labels,
      resources: { limits: { memory: `${Reference.memoryBytes / 2 ** 20}M` } }
    }
  }
  return JSON.stringify({
    version: "3.8",
    services: Object.fromEntries(
      Array.from({ length: shape.services }, (_, index) => [`s${index}`, service])
    ),
    networks: { bench: { external: true, name: network } }
  })
}

/**
 * The CLI side: `docker service create --detach` (one service) or `docker stack deploy` (several),
 * then `docker service rm` / `docker stack rm`, each followed by the same poll of the nodes.
 */
const reference = (shape: Shape, round: number) =>
  Effect.gen(function* () {
    const name = `${Reference.runId}-${nameOf(shape)}-${round}`
    const network = yield* Effect.promise(() =>
      manager.createNetwork({
        Name: name,
        Driver: "overlay",
        Attachable: true,
        Labels: { ...Reference.labels }
      })
    )
    const total = shape.services * shape.replicas
    const stack = shape.services > 1
    const file = join(tmpdir(), `${name}.json`)
    if (stack) writeFileSync(file, composeFile(shape, name))
    const labelArgs = labelEntries.flatMap(([key, value]) => [
      "--label",
      `${key}=${value}`,
      "--container-label",
      `${key}=${value}`
    ])
    const up = yield* measured(() =>
      docker(
        stack
          ? ["stack", "deploy", "--detach=true", "-c", file, name]
          : [
              "service",
              "create",
              "--detach",
              "--quiet",
              "--name",
              name,
              "--replicas",
              String(shape.replicas),
              "--endpoint-mode",
              "dnsrr",
              "--network",
              name,
              "--limit-memory",
              `${Reference.memoryBytes / 2 ** 20}m`,
              ...labelArgs,
              swarmImage,
              ...command
            ]
      ).pipe(Effect.andThen(until(`${name} up`, (seen) => seen.running >= total)))
    )
    const down = yield* measured(() =>
      docker(stack ? ["stack", "rm", name] : ["service", "rm", name]).pipe(
        Effect.andThen(until(`${name} teardown`, (seen) => seen.total === 0))
      )
    )
    if (stack) unlinkSync(file)
    yield* Effect.tryPromise(() => network.remove()).pipe(
      Effect.retry({ times: 40, schedule: Schedule.spaced("500 millis") }),
      Effect.ignore
    )
    return { up, down } satisfies Outcome
  })

/** Whatever of this run is left on the swarm (a failed round): services, then networks. */
const cleanupSwarm = Effect.gen(function* () {
  const services = yield* Effect.promise(async () => {
    const found = await manager.listServices({ filters: runFilter })
    await Promise.all(
      found.map((service) =>
        manager
          .getService(service.ID)
          .remove()
          .catch(() => undefined)
      )
    )
    return found.length
  })
  if (services > 0) yield* poll((seen) => seen.total === 0, 15_000)
  yield* removeOrphans
  // An overlay network can hold endpoints of containers just removed for a moment.
  yield* Effect.promise(async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const networks = await manager.listNetworks({ filters: runFilter })
      if (networks.length === 0) return
      await Promise.all(
        networks.map((network) =>
          manager
            .getNetwork(network.Id)
            .remove()
            .catch(() => undefined)
        )
      )
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  })
})

/** Services of this run still carrying a Supervisor instance label after its release. */
const libraryLeftovers = Effect.promise(async () => {
  const services = await manager.listServices({ filters: runFilter })
  const networks = await manager.listNetworks({ filters: runFilter })
  const instanceKey = "dev.effect-docker.instance"
  return [
    ...services
      .filter((service) => service.Spec?.Labels?.[instanceKey] !== undefined)
      .map((s) => s.Spec?.Name ?? s.ID),
    ...networks.filter((network) => network.Labels?.[instanceKey] !== undefined).map((n) => n.Name)
  ]
})

const shapes = (settings: Settings): ReadonlyArray<Shape> =>
  settings.quick
    ? [
        { services: 1, replicas: 3 },
        { services: 3, replicas: 1 }
      ]
    : [
        { services: 1, replicas: 10 },
        { services: 10, replicas: 1 }
      ]

/** The default task poll interval, and the faster one the full run measures in a row of its own. */
const defaultTaskPoll = 1_000
const fastTaskPoll = 250

/**
 * Why the swarm cannot be used, after waiting up to a minute for every node to be ready (other
 * suites drain or kill a node for a few seconds), or `undefined`.
 */
const swarmReady = Effect.promise(async () => {
  let reason = await swarmUnavailable()
  for (let waited = 0; reason !== undefined && waited < 60_000; waited += 2_000) {
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    reason = await swarmUnavailable()
  }
  return reason
})

const of = (samples: ReadonlyArray<number | undefined>, unit: "ms" | "cpu-ms") =>
  figure(
    samples.filter((sample): sample is number => sample !== undefined),
    unit
  )

/** Every shape, the sides alternating first, and the rows comparing them. */
export const run = (settings: Settings) =>
  Effect.gen(function* () {
    const unavailable = yield* swarmReady
    if (unavailable !== undefined) {
      const message = `the swarm scenario needs scripts/swarm-engines.sh start: ${unavailable}`
      if (process.env.CI === "true") return yield* Effect.fail(new Error(message))
      yield* progress(`skipping swarm: ${message}`)
      return [{ scenario: "swarm", ours: figure([], "ms"), note: `skipped: ${message}` }] satisfies Array<Row>
    }
    // BENCH_SWARM_ROUNDS: fewer full rounds when the swarm is shared and slow.
    const rounds = settings.quick ? 1 : Number(process.env.BENCH_SWARM_ROUNDS ?? "3")
    const rows: Array<Row> = []
    for (const shape of shapes(settings)) {
      const oursOutcomes: Array<Outcome> = []
      const fastOutcomes: Array<Outcome> = []
      const references: Array<Outcome> = []
      const leftBehind: Array<string> = []
      for (let round = 0; round < rounds; round++) {
        const sides = [
          Effect.map(ours(shape, settings, defaultTaskPoll), (outcome) => oursOutcomes.push(outcome)),
          // The quick run keeps to the default interval: it must stay under a minute.
          ...(settings.quick
            ? []
            : [Effect.map(ours(shape, settings, fastTaskPoll), (outcome) => fastOutcomes.push(outcome))]),
          Effect.map(reference(shape, round), (outcome) => references.push(outcome))
        ]
        yield* Effect.forEach(round % 2 === 0 ? sides : sides.toReversed(), (side) => side, { discard: true })
        const left = yield* libraryLeftovers
        if (left.length > 0) {
          leftBehind.push(...left)
          yield* cleanupSwarm
        }
        yield* progress(`swarm ${nameOf(shape)} round ${round + 1}/${rounds}`)
      }
      const cli = shape.services > 1 ? "docker stack" : "docker service"
      const deploy = shape.services > 1 ? "docker stack deploy" : "docker service create --detach"
      const referenceUp = {
        name: `${deploy} + node poll`,
        figure: of(
          references.map((o) => o.up.millis),
          "ms"
        )
      }
      const allOurs = [...oursOutcomes, ...fastOutcomes]
      const orphans = allOurs.reduce((sum, o) => sum + (o.orphans ?? 0), 0)
      const release = of(
        oursOutcomes.map((o) => o.release),
        "ms"
      )
      const teardown = compare(
        `swarm teardown ${nameOf(shape)}`,
        of(
          oursOutcomes.map((o) => o.down?.millis),
          "ms"
        ),
        {
          name: `${cli} rm + node poll`,
          figure: of(
            references.map((o) => o.down?.millis),
            "ms"
          )
        },
        undefined,
        `our release itself: ${show(release)}`
      )
      rows.push(
        compare(
          `swarm up ${nameOf(shape)}`,
          of(
            oursOutcomes.map((o) => o.up.millis),
            "ms"
          ),
          referenceUp
        ),
        compare(
          `swarm up ${nameOf(shape)}, our streams`,
          of(
            oursOutcomes.map((o) => o.streams),
            "ms"
          ),
          referenceUp,
          undefined,
          "when our state streams reported every replica running (tasks polled every 1 s, events as hints)"
        ),
        ...(fastOutcomes.length === 0
          ? []
          : [
              compare(
                `swarm up ${nameOf(shape)}, our streams, 250 ms poll`,
                of(
                  fastOutcomes.map((o) => o.streams),
                  "ms"
                ),
                referenceUp,
                undefined,
                `taskPollInterval 250 ms; its nodes-all-running ${show(
                  of(
                    fastOutcomes.map((o) => o.up.millis),
                    "ms"
                  )
                )}, its teardown ${show(
                  of(
                    fastOutcomes.map((o) => o.down?.millis),
                    "ms"
                  )
                )}, its engines CPU up ${show(
                  of(
                    fastOutcomes.map((o) => o.up.engineCpu),
                    "cpu-ms"
                  )
                )}`
              )
            ]),
        orphans > 0 || leftBehind.length > 0
          ? {
              ...teardown,
              error: `after ${allOurs.length} releases, ${orphans} task containers were still on the nodes and ${leftBehind.length > 0 ? leftBehind.join(", ") : "nothing else"} was left (the bench removed them); ${teardown.note}`
            }
          : teardown,
        compare(
          `swarm engines CPU up ${nameOf(shape)}`,
          of(
            oursOutcomes.map((o) => o.up.engineCpu),
            "cpu-ms"
          ),
          {
            name: deploy,
            figure: of(
              references.map((o) => o.up.engineCpu),
              "cpu-ms"
            )
          },
          undefined,
          "the 3 nodes' dockerd + containerd while converging"
        ),
        compare(
          `swarm engines CPU teardown ${nameOf(shape)}`,
          of(
            oursOutcomes.map((o) => o.down?.engineCpu),
            "cpu-ms"
          ),
          {
            name: `${cli} rm`,
            figure: of(
              references.map((o) => o.down?.engineCpu),
              "cpu-ms"
            )
          }
        )
      )
    }
    return rows
  }).pipe(Effect.ensuring(cleanupSwarm))
