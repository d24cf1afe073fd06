/**
 * Reaching supervised containers and keeping their data, on the real engine: a published
 * HTTP port answered from this process, the state's address against inspect (after a restart
 * too), volumes in each scope, and specs refused before anything is created.
 */
import { spawnSync } from "node:child_process"
import * as Os from "node:os"
import { assert, layer } from "@effect/vitest"
import { Effect, Schedule, type Scope, Stream } from "effect"
import { afterAll } from "vitest"
import * as DockerEngine from "../../src/DockerEngine.js"
import * as RestartPolicy from "../../src/RestartPolicy.js"
import * as Supervisor from "../../src/Supervisor.js"
import { assertNoLeftovers, liveLayer, testLabels } from "../support/live.js"

const labels = testLabels("reach")
const app = "test-reach"
const image = "busybox:latest"
/** Volume names of this run: concurrent runs of the suite must not share them. */
const unique = `${process.pid}-${labels["dev.effect-docker.test"]?.slice(-8)}`

const withSupervisor = <A, E>(
  f: (supervisor: Supervisor.SupervisorShape) => Effect.Effect<A, E, DockerEngine.DockerEngine | Scope.Scope>,
  options?: Partial<Supervisor.Options>
) =>
  Effect.scoped(Effect.flatMap(Supervisor.make({ app, labels, ...options }), (supervisor) => f(supervisor)))

/** Runs until stopped; `init` makes it stop at once on SIGTERM. */
const idle = { command: ["sleep", "3600"], init: true, stopTimeout: "2 seconds" } as const

const exec = (id: string, script: string) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    const result = yield* engine.exec(id, ["sh", "-c", script])
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  })

const volumeExists = (name: string) =>
  Effect.gen(function* () {
    const engine = yield* DockerEngine.DockerEngine
    return yield* engine.inspectVolume(name).pipe(
      Effect.as(true),
      Effect.catchTag("DockerError", (error) =>
        error.reason === "NotFound" ? Effect.succeed(false) : Effect.fail(error)
      )
    )
  })

/** Polls `url` until it answers (the server may need a moment after the start). */
const httpGet = (url: string) =>
  Effect.tryPromise(() => fetch(url, { signal: AbortSignal.timeout(2000) })).pipe(
    Effect.flatMap((response) =>
      Effect.promise(() => response.text()).pipe(Effect.map((body) => ({ status: response.status, body })))
    ),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 })
  )

layer(liveLayer, { excludeTestServices: true })("reaching containers (live engine)", (it) => {
  it.effect(
    "a published HTTP port answers this process at handle.port; the state's address follows inspect across a restart",
    () =>
      withSupervisor((supervisor) =>
        Effect.gen(function* () {
          const engine = yield* DockerEngine.DockerEngine
          const handle = yield* supervisor.start({
            name: "web",
            image,
            command: ["httpd", "-f", "-p", "80", "-h", "/www"],
            files: [{ path: "/www/index.html", content: "hello from busybox" }],
            ports: [{ container: 80 }],
            restartPolicy: RestartPolicy.always(),
            stopTimeout: "2 seconds"
          })
          const target = yield* handle.port(80)
          const answer = yield* httpGet(`http://${target.host}:${target.port}/`)
          assert.deepStrictEqual(answer, { status: 200, body: "hello from busybox" })

          const state = yield* handle.state
          const inspected = yield* engine.inspectContainer(handle.id)
          assert.strictEqual(state.address?.ip, inspected.networks[supervisor.network]?.ipAddress)
          assert.includeMembers([...(state.address?.aliases ?? [])], ["web"])
          assert.deepStrictEqual(state.address?.ports, inspected.ports)
          assert.isTrue(inspected.ports.some((port) => port.hostPort === target.port))
          const unpublished = yield* Effect.flip(handle.port(81))
          assert.strictEqual(unpublished._tag, "PortNotPublished")

          // Killed, the policy restarts it: the (possibly new) host port is in the state.
          yield* engine.killContainer(handle.id)
          const restarted = yield* handle.states.pipe(
            Stream.filter((s) => s.status === "running" && s.restartCount === 1),
            Stream.runHead,
            Effect.timeout("60 seconds")
          )
          const again = yield* engine.inspectContainer(handle.id)
          assert.strictEqual(restarted._tag, "Some")
          assert.deepStrictEqual(
            restarted._tag === "Some" ? restarted.value.address?.ports : undefined,
            again.ports
          )
          const retarget = yield* handle.port(80)
          assert.isTrue(again.ports.some((port) => port.hostPort === retarget.port))
          assert.strictEqual((yield* httpGet(`http://${retarget.host}:${retarget.port}/`)).status, 200)
        })
      ),
    120_000
  )

  it.effect(
    "an instance volume is read by the next run of the instance and gone after release",
    () =>
      Effect.gen(function* () {
        let volume = ""
        yield* withSupervisor((supervisor) =>
          Effect.gen(function* () {
            volume = `${app}-${supervisor.instanceId}-data`
            const spec = {
              name: "db",
              image,
              ...idle,
              mounts: [{ type: "volume", source: "data", target: "/data" }]
            } as const
            const first = yield* supervisor.start(spec)
            assert.strictEqual(yield* exec(first.id, "echo kept > /data/file"), "")
            yield* first.stop
            const second = yield* supervisor.start(spec)
            assert.strictEqual(yield* exec(second.id, "cat /data/file"), "kept")
            assert.isTrue(yield* volumeExists(volume))
          })
        )
        assert.isFalse(yield* volumeExists(volume), "the instance volume is removed at release")
      }),
    120_000
  )

  it.effect(
    "an app volume is read by the next instance and kept until removeAppVolumes; an external one survives",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const external = yield* Effect.acquireRelease(
          engine.createVolume({ name: `reach-external-${unique}`, labels }),
          (created) => engine.removeVolume(created.name, { force: true }).pipe(Effect.ignore)
        )
        const source = `cache-${unique}`
        const appVolume = `${app}_${source}`
        const mounts = [
          { type: "volume", source, target: "/cache", scope: "app" },
          { type: "volume", source: external.name, target: "/ext", scope: "external" }
        ] as const
        yield* withSupervisor((supervisor) =>
          Effect.gen(function* () {
            const handle = yield* supervisor.start({ name: "writer", image, ...idle, mounts })
            yield* exec(handle.id, `echo ${supervisor.instanceId} > /cache/who; echo ext > /ext/file`)
          })
        )
        assert.isTrue(yield* volumeExists(appVolume))
        assert.isTrue(yield* volumeExists(external.name))
        yield* withSupervisor((supervisor) =>
          Effect.gen(function* () {
            const handle = yield* supervisor.start({ name: "reader", image, ...idle, mounts })
            assert.isString(yield* exec(handle.id, "cat /cache/who"))
            assert.strictEqual(yield* exec(handle.id, "cat /ext/file"), "ext")
            yield* handle.stop
            assert.strictEqual(yield* supervisor.removeAppVolumes([source]), 1)
          })
        )
        assert.isFalse(yield* volumeExists(appVolume))
        assert.isTrue(yield* volumeExists(external.name), "an external volume is never removed")
      }),
    120_000
  )

  it.effect(
    "removeStale sweeps a dead instance's volume and keeps a live instance's",
    () =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const deadPid = spawnSync("true").pid ?? 999_999
        const dead = yield* Effect.acquireRelease(
          engine.createVolume({
            name: `${app}-deadbeef-${unique}`,
            labels: {
              ...labels,
              "dev.effect-docker.app": app,
              "dev.effect-docker.instance": "deadbeef",
              "dev.effect-docker.owner": `${Os.hostname()}/${deadPid}/1`,
              "dev.effect-docker.volume-scope": "instance"
            }
          }),
          (created) => engine.removeVolume(created.name, { force: true }).pipe(Effect.ignore)
        )
        yield* withSupervisor((live) =>
          withSupervisor((sweeper) =>
            Effect.gen(function* () {
              yield* live.start({
                name: "db",
                image,
                ...idle,
                mounts: [{ type: "volume", source: "data", target: "/data" }]
              })
              const removed = yield* sweeper.removeStale
              assert.strictEqual(removed.volumes, 1)
              assert.isFalse(yield* volumeExists(dead.name))
              assert.isTrue(yield* volumeExists(`${app}-${live.instanceId}-data`))
            })
          )
        )
      }),
    120_000
  )

  it.effect("invalid specs are InvalidSpec and create nothing", () =>
    withSupervisor((supervisor) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const invalid: ReadonlyArray<readonly [unknown, string]> = [
          [{ name: "a", image, restart: "always" }, "restart"],
          [
            { name: "a", image, mounts: [{ type: "bind", source: "relative/dir", target: "/data" }] },
            "mounts[0].source"
          ],
          [{ name: "a", image, ports: [{ container: 0 }] }, "ports[0].container"],
          [{ name: "a", image, ports: [{ container: 80, host: 70000 }] }, "ports[0].host"],
          [{ name: "a", image, privileged: true }, "privileged"]
        ]
        for (const [spec, field] of invalid) {
          // Specs arrive as plain data (parsed from a file): the typed signature is no guard.
          const refused = yield* Effect.flip(supervisor.start(spec as Parameters<typeof supervisor.start>[0]))
          assert.strictEqual(refused._tag, "InvalidSpec")
          assert.strictEqual(refused._tag === "InvalidSpec" ? refused.field : undefined, field)
        }
        const instance = { "dev.effect-docker.instance": supervisor.instanceId }
        assert.deepStrictEqual(yield* engine.listContainers({ all: true, labels: instance }), [])
        assert.deepStrictEqual(yield* engine.listVolumes({ labels: instance }), [])
      })
    )
  )
})

afterAll(() =>
  Effect.runPromise(
    Effect.gen(function* () {
      yield* assertNoLeftovers(labels)
      const engine = yield* DockerEngine.DockerEngine
      const volumes = yield* engine.listVolumes({ labels })
      assert.deepStrictEqual(
        volumes.map((volume) => volume.name),
        [],
        "no volume of the suite is left"
      )
    }).pipe(Effect.provide(liveLayer))
  )
)
