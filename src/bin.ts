#!/usr/bin/env node
/**
 * The main job, for now: runs a busybox container through the library, prints its output
 * and removes it. (The `effect-docker` CLI replaces this.)
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"
import * as DockerEngine from "./DockerEngine.js"

const program = Effect.gen(function* () {
  const engine = yield* DockerEngine.DockerEngine
  const version = yield* engine.version
  yield* Console.log(`Docker ${version.version} (API ${version.apiVersion})`)
  // The scope removes the container however the program ends, Ctrl-C included.
  const id = yield* Effect.acquireRelease(
    engine
      .createContainer({
        image: "busybox:latest",
        cmd: ["sh", "-c", 'for i in 1 2 3; do echo "hello $i from $(hostname)"; done; echo "bye" >&2']
      })
      .pipe(Effect.map(({ id }) => id)),
    (id) => engine.removeContainer(id, { force: true }).pipe(Effect.ignore)
  )
  yield* engine.startContainer(id)
  const { exitCode } = yield* engine.waitContainer(id, { condition: "not-running" })
  yield* engine.logs(id).pipe(Stream.runForEach((line) => Console.log(`[${line.stream}] ${line.text}`)))
  yield* Console.log(`container ${id.slice(0, 12)} exited with ${exitCode}; removed`)
}).pipe(Effect.scoped)

program.pipe(Effect.provide(DockerEngine.layer), NodeRuntime.runMain)
