/**
 * Reaching a supervised container (MemoryEngine, TestClock): the state's address after every
 * start, `handle.port`, and specs refused before any engine call.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as DockerEngine from "../src/DockerEngine.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"
import * as Supervisor from "../src/Supervisor.js"

const image = "busybox:latest"
const app = "unit"
const instanceId = "r1"
const nameOf = (component: string) => `${app}-${instanceId}-${component}`
const memoryLayer = MemoryEngine.layer({ images: [image] })
const makeSupervisor = Supervisor.make({ app, instanceId, publishedHost: "127.0.0.1" })

describe("Supervisor: reaching containers (MemoryEngine)", () => {
  it.effect("the state's address matches inspect after every start; handle.port follows it", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const engine = yield* DockerEngine.DockerEngine
      // Exits once after a second, then runs: one restart.
      yield* memory.script({ container: nameOf("web") }, [{ exit: { after: "1 second", code: 1 } }, {}])
      const supervisor = yield* makeSupervisor
      const handle = yield* supervisor.start({
        name: "web",
        image,
        ports: [{ container: 80 }, { container: 53, protocol: "udp" }],
        network: { aliases: ["www"] },
        restartPolicy: RestartPolicy.always()
      })

      const first = yield* handle.state
      const inspected = yield* engine.inspectContainer(handle.id)
      const onNetwork = inspected.networks[supervisor.network]
      assert.strictEqual(first.address?.ip, onNetwork?.ipAddress)
      assert.deepStrictEqual(first.address?.aliases, onNetwork?.aliases)
      assert.includeMembers([...(first.address?.aliases ?? [])], ["web", "www"])
      assert.deepStrictEqual(first.address?.ports, inspected.ports)
      const web = first.address?.ports.find((port) => port.containerPort === 80)
      assert.deepStrictEqual(yield* handle.port(80), { host: "127.0.0.1", port: web?.hostPort ?? -1 })
      const dns = yield* handle.port(53, "udp")
      assert.notStrictEqual(dns.port, web?.hostPort)

      // The restart binds a new random port: the state and handle.port follow inspect.
      const restart = yield* Effect.forkChild(
        handle.states.pipe(
          Stream.filter((state) => state.status === "running" && state.restartCount === 1),
          Stream.runHead
        )
      )
      for (let step = 0; step < 60; step++) yield* TestClock.adjust("100 millis")
      const restarted = yield* Fiber.join(restart)
      const again = yield* engine.inspectContainer(handle.id)
      const rebound = again.ports.find((port) => port.containerPort === 80)?.hostPort
      assert.notStrictEqual(rebound, web?.hostPort)
      assert.deepStrictEqual(Option.getOrUndefined(restarted)?.address?.ports, again.ports)
      assert.strictEqual((yield* handle.port(80)).port, rebound)
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("handle.port fails typed for a port the spec does not publish, and after the exit", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("db") }, { exit: { after: "1 second", code: 0 } })
      const supervisor = yield* makeSupervisor
      const handle = yield* supervisor.start({ name: "db", image, ports: [{ container: 5432 }] })
      const unpublished = yield* Effect.flip(handle.port(5433))
      assert.strictEqual(unpublished._tag, "PortNotPublished")
      assert.strictEqual(unpublished.containerPort, 5433)
      assert.include(unpublished.message, "does not publish 5433/tcp")
      assert.strictEqual((yield* Effect.flip(handle.port(5432, "udp")))._tag, "PortNotPublished")

      yield* TestClock.adjust("1 second")
      const final = yield* handle.await
      assert.strictEqual(final.address, undefined)
      const gone = yield* Effect.flip(handle.port(5432))
      assert.include(gone.message, "not bound now")
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("invalid specs are refused before any engine call", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const supervisor = yield* makeSupervisor
      yield* memory.clearCalls
      const specs: ReadonlyArray<readonly [unknown, string]> = [
        [{ name: "a", image, restart: "always" }, "restart"],
        [
          { name: "a", image, mounts: [{ type: "bind", source: "relative/dir", target: "/data" }] },
          "mounts[0].source"
        ],
        [{ name: "a", image, ports: [{ container: 0 }] }, "ports[0].container"],
        [{ name: "a", image, ports: [{ container: 80, host: 70000 }] }, "ports[0].host"],
        [{ name: "a", image, privileged: true }, "privileged"]
      ]
      for (const [spec, field] of specs) {
        // Specs arrive as plain data (parsed from a file): the typed signature is no guard.
        const refused = yield* Effect.flip(supervisor.start(spec as Parameters<typeof supervisor.start>[0]))
        assert.strictEqual(refused._tag, "InvalidSpec")
        assert.strictEqual(refused._tag === "InvalidSpec" ? refused.field : undefined, field)
      }
      assert.deepStrictEqual(yield* memory.calls, [])
      assert.deepStrictEqual(
        (yield* memory.containers).map((container) => container.name),
        []
      )
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect(
    "volume scopes: instance volumes go at release, app volumes stay until removeAppVolumes, external ones are used as they are",
    () =>
      Effect.gen(function* () {
        const memory = yield* MemoryEngine.MemoryEngine
        const engine = yield* DockerEngine.DockerEngine
        const names = Effect.map(engine.listVolumes(), (volumes) =>
          volumes.map((volume) => volume.name).sort()
        )
        yield* engine.createVolume({ name: "shared-data" })
        const mounts = [
          { type: "volume", source: "data", target: "/data" },
          { type: "volume", source: "cache", target: "/cache", scope: "app" },
          { type: "volume", source: "shared-data", target: "/shared", scope: "external" }
        ] as const
        const write = Effect.fn(function* (instanceId: string) {
          const supervisor = yield* Supervisor.make({ app, instanceId })
          const handle = yield* supervisor.start({ name: "db", image, mounts })
          yield* engine.copyFiles(handle.id, [
            { path: "/data/own.txt", content: instanceId },
            { path: "/cache/app.txt", content: instanceId },
            { path: "/shared/ext.txt", content: instanceId }
          ])
          const volume = yield* engine.inspectVolume(`${app}-${instanceId}-data`)
          assert.strictEqual(volume.labels["dev.effect-docker.instance"], instanceId)
          // The same instance's next run sees what the last one wrote.
          yield* handle.stop
          const next = yield* supervisor.start({ name: "db", image, mounts })
          assert.strictEqual(yield* memory.readFile(next.id, "/data/own.txt"), instanceId)
          return supervisor
        })

        yield* Effect.scoped(write("one"))
        assert.deepStrictEqual(yield* names, ["shared-data", `${app}_cache`])
        yield* Effect.scoped(
          Effect.gen(function* () {
            const supervisor = yield* Supervisor.make({ app, instanceId: "two" })
            const handle = yield* supervisor.start({ name: "db", image, mounts })
            assert.strictEqual(yield* memory.readFile(handle.id, "/data/own.txt"), undefined)
            assert.strictEqual(yield* memory.readFile(handle.id, "/cache/app.txt"), "one")
            assert.strictEqual(yield* memory.readFile(handle.id, "/shared/ext.txt"), "one")
            // In use by the running container: refused, and kept.
            const refused = yield* Effect.flip(supervisor.removeAppVolumes())
            assert.strictEqual(refused.reason, "Conflict")
          })
        )
        assert.deepStrictEqual(yield* names, ["shared-data", `${app}_cache`])
        const removed = yield* Effect.scoped(
          Effect.flatMap(Supervisor.make({ app, instanceId: "three" }), (supervisor) =>
            supervisor.removeAppVolumes(["cache"])
          )
        )
        assert.strictEqual(removed, 1)
        assert.deepStrictEqual(yield* names, ["shared-data"])
      }).pipe(Effect.provide(memoryLayer))
  )

  it.effect("a volume is created with its volumeOptions and the supervisor's labels", () =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const supervisor = yield* makeSupervisor
      yield* supervisor.start({
        name: "db",
        image,
        mounts: [
          {
            type: "volume",
            source: "cache",
            target: "/cache",
            scope: "app",
            volumeOptions: {
              labels: { "com.example.team": "data" },
              driver: "local",
              driverOptions: { type: "tmpfs", device: "tmpfs" }
            }
          }
        ]
      })
      const volume = yield* engine.inspectVolume(`${app}_cache`)
      assert.strictEqual(volume.labels["com.example.team"], "data")
      assert.strictEqual(volume.labels["dev.effect-docker.app"], app)
      assert.strictEqual(volume.driver, "local")
      assert.deepStrictEqual(volume.options, { type: "tmpfs", device: "tmpfs" })
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )

  it.effect("a missing external volume fails start before the container is created", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const supervisor = yield* makeSupervisor
      const refused = yield* Effect.flip(
        supervisor.start({
          name: "db",
          image,
          mounts: [{ type: "volume", source: "nope", target: "/data", scope: "external" }]
        })
      )
      assert.strictEqual(refused._tag, "CreateError")
      assert.deepStrictEqual(yield* memory.containers, [])
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})

describe("Supervisor: handle.exec (MemoryEngine)", () => {
  it.effect("runs a command in the started container: its exit code and both streams", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      yield* memory.script({ container: nameOf("db") }, [
        {
          exec: (command) =>
            command[0] === "pg_isready"
              ? { exitCode: 2, stdout: "no response\n", stderr: "pg_isready: timeout\n" }
              : undefined
        }
      ])
      const supervisor = yield* makeSupervisor
      const handle = yield* supervisor.start({ name: "db", image })
      const answer = yield* handle.exec(["pg_isready", "-h", "localhost"])
      assert.deepStrictEqual(answer, {
        exitCode: 2,
        stdout: "no response\n",
        stderr: "pg_isready: timeout\n"
      })
      // A command the container does not have: Docker's 126, not an error.
      assert.strictEqual((yield* handle.exec(["missing"])).exitCode, 126)
    }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})
