/**
 * The engine contract for reaching a container and what it mounts: published ports (random
 * and fixed, a conflict refused), named volumes that outlive a container, bind mounts that
 * show the host's files, tmpfs empty at each start. Run, like `engineContract.ts`, against
 * MemoryEngine (test/contract/memory.test.ts) and the real engine
 * (test/integration/contract.test.ts).
 *
 * Files are written and read from inside the running container: on Docker with `exec`, on
 * MemoryEngine through its file tree (which routes paths through the mounts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import type { Behaviour, ContractEnvironment, Register } from "./engineContract.js"
import { caseTester, uniqueName } from "./engineContract.js"

/** What the reach cases need beside the base environment. */
export interface ReachEnvironment<R> extends ContractEnvironment<R> {
  /** Writes a file from inside the running container. */
  readonly writeFile: (
    id: string,
    path: string,
    content: string
  ) => Effect.Effect<void, unknown, DockerEngine.DockerEngine | R>
  /** Reads a file from inside the running container; `undefined` when it is absent. */
  readonly readText: (
    id: string,
    path: string
  ) => Effect.Effect<string | undefined, unknown, DockerEngine.DockerEngine | R>
  /** Removes a named volume the engine created on first use (no error when absent). */
  readonly removeVolume: (name: string) => Effect.Effect<void, unknown, DockerEngine.DockerEngine | R>
}

const runs: Behaviour = { _tag: "Runs", onStop: "exit" }

/** Registers the reach cases against `env`. */
export const engineContractReach = <R>(env: ReachEnvironment<R>, test: Register<R>): void => {
  const caseTest = caseTester(env, test)

  /** A labelled container that runs until stopped, force-removed when the scope closes. */
  const container = (
    labels: Readonly<Record<string, string>>,
    what: string,
    extra: Partial<DockerEngine.CreateContainerOptions>
  ) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = uniqueName(what)
      const program = yield* env.program(name, runs)
      const { id } = yield* Effect.acquireRelease(
        engine.createContainer({ image: env.image, name, labels, stopTimeout: 1, ...program, ...extra }),
        ({ id }) => engine.removeContainer(id, { force: true, volumes: true }).pipe(Effect.ignore)
      )
      return id
    })

  /** A volume name unique to the case, removed when the scope closes. */
  const volume = (what: string) =>
    Effect.acquireRelease(Effect.succeed(uniqueName(what)), (name) =>
      env.removeVolume(name).pipe(Effect.ignore)
    )

  caseTest(
    "ports: a published port is bound to a host port at start, listed in inspect, freed at stop",
    (own) =>
      Effect.gen(function* () {
        const engine = yield* DockerEngine.DockerEngine
        const id = yield* container(own, "port", { portBindings: [{ containerPort: 80, protocol: "tcp" }] })
        const created = yield* engine.inspectContainer(id)
        assert.deepStrictEqual(
          created.portBindings.map((binding) => [binding.containerPort, binding.protocol, binding.hostPort]),
          [[80, "tcp", 0]]
        )
        yield* engine.startContainer(id)
        const running = yield* engine.inspectContainer(id)
        const bound = running.ports.filter((port) => port.containerPort === 80 && port.protocol === "tcp")
        assert.isAbove(bound.length, 0, "80/tcp is bound")
        const hostPort = bound[0]?.hostPort ?? 0
        assert.isTrue(hostPort > 0 && hostPort <= 65535, `host port ${hostPort}`)

        // The same host port, asked for by another container, is taken: the engine refuses the start.
        const rival = yield* container(own, "rival", {
          portBindings: [{ containerPort: 80, protocol: "tcp", hostPort }]
        })
        const refused = yield* Effect.flip(engine.startContainer(rival))
        assert.strictEqual(refused.reason, "ServerError")
        assert.include(refused.message, "already allocated")

        yield* env.during(engine.stopContainer(id, { timeout: 1 }), "1 second")
        assert.deepStrictEqual((yield* engine.inspectContainer(id)).ports, [])
      })
  )

  caseTest("volumes: a named volume keeps a file across the container's removal and re-creation", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const name = yield* volume("data")
      const first = yield* container(own, "writer", {
        mounts: [{ type: "volume", source: name, target: "/data" }]
      })
      yield* engine.startContainer(first)
      yield* env.writeFile(first, "/data/kept.txt", "kept")
      yield* engine.removeContainer(first, { force: true })

      const second = yield* container(own, "reader", {
        mounts: [{ type: "volume", source: name, target: "/data" }]
      })
      yield* engine.startContainer(second)
      assert.strictEqual(yield* env.readText(second, "/data/kept.txt"), "kept")
      const mounts = (yield* engine.inspectContainer(second)).mounts
      assert.deepStrictEqual(
        mounts.map((mount) => [mount.type, mount.name, mount.destination, mount.readOnly]),
        [["volume", name, "/data", false]]
      )
    })
  )

  caseTest("binds: a bind mount shows the host's file", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const hostDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-docker-bind-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      writeFileSync(join(hostDir, "hello.txt"), "from the host")
      const id = yield* container(own, "bind", {
        mounts: [{ type: "bind", source: hostDir, target: "/host", readOnly: true }]
      })
      yield* engine.startContainer(id)
      assert.strictEqual(yield* env.readText(id, "/host/hello.txt"), "from the host")
      const mounts = (yield* engine.inspectContainer(id)).mounts
      assert.deepStrictEqual(
        mounts.map((mount) => [mount.type, mount.source, mount.destination, mount.readOnly]),
        [["bind", hostDir, "/host", true]]
      )
    })
  )

  caseTest("tmpfs: a tmpfs mount is empty at each start", (own) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      const id = yield* container(own, "tmpfs", { mounts: [{ type: "tmpfs", target: "/scratch" }] })
      yield* engine.startContainer(id)
      assert.strictEqual(yield* env.readText(id, "/scratch/note.txt"), undefined)
      yield* env.writeFile(id, "/scratch/note.txt", "this run")
      assert.strictEqual(yield* env.readText(id, "/scratch/note.txt"), "this run")
      yield* env.during(engine.stopContainer(id, { timeout: 1 }), "1 second")
      yield* engine.startContainer(id)
      assert.strictEqual(yield* env.readText(id, "/scratch/note.txt"), undefined)
    })
  )
}
