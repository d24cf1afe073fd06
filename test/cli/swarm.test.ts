/**
 * `up --swarm` in pieces: a fleet's deploy keys mapped to one Swarm spec per service (and on to
 * the service spec Swarm receives), the Swarm-only keys refused on one host, the depends_on
 * notice, one run per service routed to a row per slot with its node, and the fleet on
 * MemoryEngine's simulated swarm through `Supervisor.layerSwarm`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as ContainerSpec from "../../src/ContainerSpec.js"
import * as Fleet from "../../src/cli/Fleet.js"
import * as Logs from "../../src/cli/logs.js"
import * as Spec from "../../src/cli/spec.js"
import * as Swarm from "../../src/cli/swarm.js"
import * as Up from "../../src/cli/up.js"
import * as View from "../../src/cli/view.js"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as ServiceSpec from "../../src/internal/swarm/serviceSpec.js"
import * as MemoryEngine from "../../src/MemoryEngine.js"
import * as Supervisor from "../../src/Supervisor.js"

const fleetOf = (source: string): Fleet.Fleet => {
  const parsed = Fleet.parse(source, { file: "demo.yaml" })
  if (Result.isFailure(parsed)) assert.fail(parsed.failure.message)
  return parsed.success
}

const deployed = fleetOf(`
services:
  web:
    image: busybox
    deploy:
      replicas: 3
      placement:
        constraints: ["node.role == worker", "node.labels.zone!=b"]
      restart_policy: { condition: on-failure, delay: 5s, max_attempts: 3 }
      update_config: { parallelism: 2, delay: 10s, order: start-first, failure_action: rollback }
  job:
    image: busybox
    depends_on:
      web: { condition: service_healthy }
`)
const web = deployed.services.find((service) => service.name === "web")!

const context: ServiceSpec.ServiceContext = {
  keys: Supervisor.labelKeys(),
  app: "demo",
  instanceId: "i1",
  owner: "host:1:2",
  userLabels: undefined,
  network: "demo-i1",
  volumeName: (source) => source
}

describe("the fleet on Swarm: deploy keys", () => {
  it.effect("deploy.* become one spec with replicas, placement and rollout, and Swarm's service spec", () =>
    Effect.gen(function* () {
      const spec = yield* ContainerSpec.validate(Spec.toSpecInput(web, web.name, "swarm"))
      assert.strictEqual(spec.name, "web")
      assert.strictEqual(spec.replicas, 3)
      assert.deepStrictEqual(spec.placement?.constraints, ["node.role == worker", "node.labels.zone!=b"])
      const restart = yield* ServiceSpec.restartOf(spec.restartPolicy)
      assert.deepStrictEqual(restart, {
        job: false,
        restartPolicy: { condition: "on-failure", delayMs: 5000, maxAttempts: 3, windowMs: 0 }
      })
      const service = yield* ServiceSpec.toServiceSpec(context, spec, restart)
      assert.deepStrictEqual(service.mode, { _tag: "Replicated", replicas: 3 })
      assert.deepStrictEqual(service.taskTemplate.constraints, ["node.role == worker", "node.labels.zone!=b"])
      assert.deepStrictEqual(service.updateConfig, {
        parallelism: 2,
        delayMs: 10_000,
        order: "start-first",
        failureAction: "rollback"
      })
    })
  )

  it.effect("a one-shot (restart_policy none) is a replicated job; no update_config, no updateConfig", () =>
    Effect.gen(function* () {
      const fleet = fleetOf(`
services:
  job:
    image: busybox
    deploy: { restart_policy: { condition: none } }
`)
      const spec = yield* ContainerSpec.validate(Spec.toSpecInput(fleet.services[0]!, "job", "swarm"))
      const restart = yield* ServiceSpec.restartOf(spec.restartPolicy)
      const service = yield* ServiceSpec.toServiceSpec(context, spec, restart)
      assert.deepStrictEqual(service.mode, { _tag: "Replicated", replicas: 1 })
      assert.strictEqual(service.taskTemplate.restartPolicy?.condition, "none")
      assert.strictEqual(service.updateConfig, undefined)
    })
  )

  it("on one host the replicas stay containers of their own, without Swarm's fields", () => {
    const input = Spec.toSpecInput(web, "web-2")
    assert.strictEqual(input.name, "web-2")
    assert.isFalse("replicas" in input)
    assert.isFalse("placement" in input)
    assert.isFalse("swarmUpdate" in input)
  })

  it.effect("one host refuses placement and update_config at their lines, pointing at --swarm", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Spec.validateAll(deployed))
      assert.deepStrictEqual(error.message.split("\n"), [
        "demo.yaml:8: services.web.deploy.placement: needs up --swarm: placement constraints choose among a swarm's nodes",
        "demo.yaml:10: services.web.deploy.update_config: needs up --swarm: update_config rolls out a Swarm service's replicas"
      ])
      yield* Spec.validateAll(deployed, "swarm")
    })
  )

  it("malformed Swarm keys are problems at their lines", () => {
    const parsed = Fleet.parse(
      `
services:
  web:
    image: busybox
    deploy:
      placement: { constraints: ["node.role"], preferences: [] }
      update_config: { order: sideways, parallelism: -1 }
`,
      { file: "demo.yaml" }
    )
    assert.isTrue(Result.isFailure(parsed))
    if (Result.isSuccess(parsed)) return
    const lines = parsed.failure.message.split("\n")
    assert.strictEqual(lines.length, 4)
    assert.match(
      lines[0]!,
      /^demo\.yaml:6: services\.web\.deploy\.placement\.constraints: not a placement constraint: node\.role/
    )
    assert.match(lines[1]!, /^demo\.yaml:6: services\.web\.deploy\.placement\.preferences: unsupported key/)
    assert.match(
      lines[2]!,
      /^demo\.yaml:7: services\.web\.deploy\.update_config\.order: expected one of stop-first, start-first/
    )
    assert.match(lines[3]!, /^demo\.yaml:7: services\.web\.deploy\.update_config\.parallelism:/)
  })

  it("depends_on: one notice naming the conditions Swarm will not wait for; none without depends_on", () => {
    assert.strictEqual(
      Swarm.dependsOnNotice(deployed),
      "depends_on on Swarm orders the deployment only, as docker stack deploy does: no condition is waited for (job on web healthy)"
    )
    assert.strictEqual(Swarm.dependsOnNotice(fleetOf("services:\n  web:\n    image: busybox\n")), undefined)
  })
})

const state = (status: View.ViewState["status"], slot: number, node: string): View.ViewState => ({
  id: `c${slot}`,
  name: "web",
  image: "busybox",
  status,
  pull: undefined,
  health: "none",
  cpuPercent: undefined,
  memoryUsed: undefined,
  memoryLimit: undefined,
  rxRate: undefined,
  txRate: undefined,
  restartCount: 0,
  startedAt: undefined,
  exitCode: status === "exited" ? 0 : undefined,
  error: undefined,
  task: { slot, node }
})

describe("Up.runFleet, one run per service (Swarm)", () => {
  it.effect("routes each slot's states to its row, and a dependant waits for the service to exist only", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const runs: Array<string> = []
      const output: Up.Output = {
        state: (row, s) => Effect.sync(() => void events.push(`${row} ${s.status} ${s.task?.node}`)),
        note: () => Effect.void
      }
      const run = (service: Fleet.Service, replica: string) => {
        runs.push(replica)
        return service.name === "web"
          ? Stream.make(
              state("created", 2, "node2"),
              state("running", 1, "node3"),
              state("running", 2, "node2")
            ).pipe(Stream.concat(Stream.never))
          : Stream.make({ ...state("exited", 1, "node2"), name: "job" })
      }
      const fiber = yield* Up.runFleet(deployed, run, output, String, {
        oneRunPerService: true,
        orderingOnly: true
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("1 second")
      // `job` waits for web healthy on one host; on Swarm it is deployed once web exists.
      assert.deepStrictEqual(runs, ["web", "job"])
      assert.deepStrictEqual(events, [
        "web-2 created node2",
        "web-1 running node3",
        "web-2 running node2",
        "job exited node2"
      ])
      yield* Fiber.interrupt(fiber)
    })
  )
})

describe("the view on Swarm", () => {
  it("a plain line names the node; the table has a NODE column only on Swarm", () => {
    assert.strictEqual(View.plainLine("web-2", state("running", 2, "node2")), "web-2: running, on node2")
    const onSwarm = View.table(
      {
        title: "t",
        rows: [{ service: "web-2", state: state("running", 2, "node2"), note: undefined }],
        messages: [],
        phase: "running",
        simulated: false
      },
      { width: 120, color: false, now: new Date(0) }
    )
    assert.match(onSwarm[1]!, /^SERVICE\s+NODE\s+STATUS/)
    assert.match(onSwarm[2]!, /^web-2\s+node2\s+running/)
    const { task: _task, ...oneHost } = state("running", 1, "node1")
    const onHost = View.table(
      {
        title: "t",
        rows: [{ service: "web", state: oneHost, note: undefined }],
        messages: [],
        phase: "running",
        simulated: false
      },
      { width: 120, color: false, now: new Date(0) }
    )
    assert.notMatch(onHost[1]!, /NODE/)
  })
})

describe("the fleet on MemoryEngine's simulated swarm", () => {
  const memory = MemoryEngine.layer({ images: ["busybox:latest"], swarm: { nodes: 3 } })

  it.effect("web's 3 replicas run on workers only, a row each; releasing leaves no service or network", () =>
    Effect.gen(function* () {
      const fleet = fleetOf(`
services:
  web:
    image: web:1
    restart: always
    deploy:
      replicas: 3
      placement: { constraints: ["node.role==worker"] }
`)
      const control = yield* MemoryEngine.MemoryEngine
      yield* control.addImage({ reference: "web:1", script: { onStopSignal: "exit" } })
      const latest = new Map<string, View.ViewState>()
      const output: Up.Output = {
        state: (row, s) => Effect.sync(() => void latest.set(row, s)),
        note: () => Effect.void
      }
      const fiber = yield* Effect.gen(function* () {
        const supervisor = yield* Supervisor.Supervisor
        return yield* Up.runFleet(
          fleet,
          (service, replica) => supervisor.run(Spec.toSpecInput(service, replica, "swarm")),
          output,
          String,
          { oneRunPerService: true, orderingOnly: true }
        )
      }).pipe(Effect.provide(Supervisor.layerSwarm({ app: "demo", instanceId: "m1" })), Effect.forkChild)
      for (let step = 0; step < 50; step++) yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual([...latest.keys()].sort(), ["web-1", "web-2", "web-3"])
      for (const [row, s] of latest) {
        assert.strictEqual(s.status, "running", row)
        assert.include(["node2", "node3"], s.task?.node, row)
      }
      // The release waits for the tasks to stop: the clock moves meanwhile.
      const stopping = yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
      for (let step = 0; step < 50; step++) yield* TestClock.adjust("100 millis")
      yield* Fiber.join(stopping)
      const engine = yield* DockerEngine.DockerEngine
      const keys = Supervisor.labelKeys()
      assert.deepStrictEqual(yield* engine.listServices({ labels: { [keys.app]: "demo" } }), [])
      assert.deepStrictEqual(yield* engine.listNetworks({ labels: { [keys.app]: "demo" } }), [])
    }).pipe(Effect.provide(Layer.fresh(memory)))
  )
})

describe("logs --swarm on MemoryEngine's simulated swarm", () => {
  const memory = MemoryEngine.layer({ images: ["busybox:latest"], swarm: { nodes: 3 } })

  it.effect(
    "each replica's lines come after its name (web-1, web-2), from a follow started before the deploy",
    () =>
      Effect.gen(function* () {
        const fleet = fleetOf(`
services:
  web:
    image: web:1
    restart: always
    deploy:
      replicas: 2
  db:
    image: db:1
    restart: always
`)
        const control = yield* MemoryEngine.MemoryEngine
        yield* control.addImage({
          reference: "web:1",
          script: { onStopSignal: "exit", logs: [{ text: "listening" }, { text: "GET /", at: "2 seconds" }] }
        })
        yield* control.addImage({
          reference: "db:1",
          script: { onStopSignal: "exit", logs: [{ text: "db up" }] }
        })
        const engine = yield* DockerEngine.DockerEngine
        const keys = Supervisor.labelKeys()
        const selection: Logs.Selection = {
          labels: { [keys.instance]: "m2" },
          services: [],
          withInstance: false
        }
        const format: Logs.Format = { width: 5, prefix: true, timestamps: false, color: false }
        // As `up --swarm` does when its output is not a terminal: following before any service exists.
        const printed: Array<string> = []
        const following = yield* Logs.swarmFollow(engine, selection, undefined).pipe(
          Stream.runForEach((line) => Effect.sync(() => void printed.push(Logs.formatLine(line, format)))),
          Effect.forkChild
        )
        const fiber = yield* Effect.gen(function* () {
          const supervisor = yield* Supervisor.Supervisor
          return yield* Up.runFleet(
            fleet,
            (service, replica) => supervisor.run(Spec.toSpecInput(service, replica, "swarm")),
            { state: () => Effect.void, note: () => Effect.void },
            String,
            { oneRunPerService: true, orderingOnly: true }
          )
        }).pipe(Effect.provide(Supervisor.layerSwarm({ app: "demo", instanceId: "m2" })), Effect.forkChild)
        for (let step = 0; step < 50; step++) yield* TestClock.adjust("100 millis")
        yield* Fiber.interrupt(following)
        assert.deepStrictEqual(printed.sort(), [
          "db    | db up",
          "web-1 | GET /",
          "web-1 | listening",
          "web-2 | GET /",
          "web-2 | listening"
        ])
        // The backlog (logs --swarm without -f), only web's, in time order.
        const backlog = yield* Logs.swarmBacklog(engine, { ...selection, services: ["web"] }, 1)
        assert.deepStrictEqual(backlog.map((line) => Logs.formatLine(line, format)).sort(), [
          "web-1 | GET /",
          "web-2 | GET /"
        ])
        const stopping = yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
        for (let step = 0; step < 50; step++) yield* TestClock.adjust("100 millis")
        yield* Fiber.join(stopping)
      }).pipe(Effect.provide(Layer.fresh(memory)))
  )
})
