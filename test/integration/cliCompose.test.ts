/**
 * The Compose flags of `effect-docker up` and `effect-docker logs` as a user runs them: the
 * built `bin.js` in a child process against the real engine.
 */

import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { assertNoLeftovers, liveLayer } from "../support/live.js"

const root = path.resolve(import.meta.dirname, "../..")
const buildDir = path.join(root, "node_modules", ".cache", `effect-docker-cli-compose-test-${process.pid}`)
const bin = path.join(buildDir, "bin.js")
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-docker-cli-compose-"))
const runId = randomBytes(3).toString("hex")

const appFor = (test: string) => `test-clic-${runId}-${test}`
const appLabel = "dev.effect-docker.app"

const noLeftovers = (app: string) =>
  Effect.runPromise(assertNoLeftovers({ [appLabel]: app }).pipe(Effect.provide(liveLayer)))

const containersOf = (app: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      return yield* engine.listContainers({ all: true, labels: { [appLabel]: app } })
    }).pipe(Effect.provide(liveLayer))
  )

/** Runs the CLI to completion: exit status and output. */
const run = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: workDir,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const fleetFile = (app: string, services: string): string => {
  const file = path.join(workDir, `${app}.yaml`)
  fs.writeFileSync(file, `name: ${app}\nservices:\n${services}`)
  return file
}

beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", buildDir],
    { cwd: root, stdio: "ignore" }
  )
}, 180_000)

afterAll(() => {
  fs.rmSync(buildDir, { recursive: true, force: true })
  fs.rmSync(workDir, { recursive: true, force: true })
})

describe.concurrent("effect-docker up, Compose flags, against the real engine", () => {
  it("--exit-code-from job: the fleet stops when the job exits, and up exits with the job's code", async () => {
    const app = appFor("exitcode")
    const file = fleetFile(
      app,
      `  web:
    image: busybox:latest
    command: ["sleep", "300"]
    stop_grace_period: 1s
  job:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; echo checking; exit 3"]
    depends_on: [web]
`
    )
    const result = await run(["up", "-f", file, "--exit-code-from", "job"])
    assert.strictEqual(result.code, 3, result.stderr)
    assert.match(result.stdout, /job ended \(exit 3\): stopping the fleet/)
    // Not a terminal: the containers' output is printed, after its service's name.
    assert.match(result.stdout, /^job \| checking$/m)
    assert.match(result.stdout, /web: removed/)
    await noLeftovers(app)
  }, 120_000)

  it("--abort-on-container-failure: a service failing for good (after its restarts) stops the fleet", async () => {
    const app = appFor("abortfail")
    const file = fleetFile(
      app,
      `  web:
    image: busybox:latest
    command: ["sleep", "300"]
    stop_grace_period: 1s
  once:
    image: busybox:latest
    command: ["true"]
  flaky:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; exit 2"]
    restart: on-failure:1
`
    )
    const result = await run(["up", "-f", file, "--abort-on-container-failure", "--no-log-prefix"])
    // The job that exited 0 did not stop anything; flaky failing for good (exit 2) did.
    assert.strictEqual(result.code, 2, result.stderr)
    assert.match(result.stdout, /flaky ended \(exit 2\): stopping the fleet/)
    assert.notMatch(result.stdout, /once ended/)
    assert.match(result.stdout, /flaky: .*restarts 1|flaky: .*restart/)
    assert.match(result.stdout, /web: removed/)
    await noLeftovers(app)
  }, 120_000)

  it("up --wait returns once the fleet is up and leaves it running; logs shows it; down removes it", async () => {
    const app = appFor("wait")
    const file = fleetFile(
      app,
      `  db:
    image: busybox:latest
    command: ["sh", "-c", "touch /ready; echo db ready; sleep 300"]
    healthcheck: { test: ["CMD", "test", "-f", "/ready"], interval: 1s }
    stop_grace_period: 1s
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "echo migrated"]
    depends_on: { db: { condition: service_healthy } }
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo web up; sleep 300"]
    stop_grace_period: 1s
    depends_on: { migrate: { condition: service_completed_successfully } }
`
    )
    let instance: string | undefined
    try {
      const up = await run(["up", "-f", file, "--wait"])
      assert.strictEqual(up.code, 0, up.stderr)
      instance = /instance (\w+) is up/.exec(up.stdout)?.[1]
      assert.isDefined(instance, up.stdout)
      // The command returned; the fleet runs on: db healthy, web running.
      const running = await containersOf(app)
      assert.deepStrictEqual(running.map((c) => [c.labels["dev.effect-docker.component"], c.state]).sort(), [
        ["db", "running"],
        ["web", "running"]
      ])
      assert.match(
        running.find((c) => c.labels["dev.effect-docker.component"] === "db")?.status ?? "",
        /healthy/
      )

      const logs = await run(["logs", "--app", app])
      assert.strictEqual(logs.code, 0, logs.stderr)
      assert.match(logs.stdout, /^db {2}\| db ready$/m)
      assert.match(logs.stdout, /^web \| web up$/m)
      const onlyWeb = await run(["logs", "--app", app, "web", "--no-log-prefix"])
      assert.strictEqual(onlyWeb.stdout, "web up\n")

      // sweep leaves it: its owner (the background up) runs.
      const sweep = await run(["sweep", "--app", app])
      assert.match(sweep.stdout, /removed 0 stale instance/)
    } finally {
      const down = await run([
        "down",
        ...(instance === undefined ? ["--all", "--force", "--app", app] : ["--instance", instance])
      ])
      assert.strictEqual(down.code, 0, down.stderr)
    }
    await noLeftovers(app)
  }, 180_000)

  it("a published port answers over HTTP; a named volume keeps its file across two ups; down --volumes removes it", async () => {
    const app = appFor("reach")
    const hostPort = 20_000 + Math.floor(Math.random() * 20_000)
    // Every start appends a line to the volume, which httpd serves: /runs counts the ups.
    const file = fleetFile(
      app,
      `  web:
    image: busybox:latest
    command: ["sh", "-c", "echo run >> /www/runs && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
    ports: ["${hostPort}:80"]
    volumes: ["data:/www"]
volumes:
  data:
`
    )
    const volumesOf = () =>
      Effect.runPromise(
        Effect.gen(function* () {
          const engine = yield* DockerEngine.DockerEngine
          const volumes = yield* engine.listVolumes({ labels: { [appLabel]: app } })
          return volumes.map((volume) => volume.name)
        }).pipe(Effect.provide(liveLayer))
      )
    const fetchRuns = async (): Promise<{ status: number; body: string }> => {
      let last: unknown
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          const response = await fetch(`http://127.0.0.1:${hostPort}/runs`)
          return { status: response.status, body: await response.text() }
        } catch (cause) {
          last = cause
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
      throw last
    }
    const upOnce = async (): Promise<string> => {
      const up = await run(["up", "-f", file, "--wait"])
      assert.strictEqual(up.code, 0, up.stderr)
      const instance = /instance (\w+) is up/.exec(up.stdout)?.[1]
      assert.isDefined(instance, up.stdout)
      return instance!
    }
    try {
      const first = await upOnce()
      assert.deepStrictEqual(await fetchRuns(), { status: 200, body: "run\n" })
      const down = await run(["down", "--instance", first])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.deepStrictEqual(await volumesOf(), [`${app}_data`])

      const second = await upOnce()
      // The file written by the first run is still in the volume.
      assert.deepStrictEqual(await fetchRuns(), { status: 200, body: "run\nrun\n" })
      const downAll = await run(["down", "--instance", second, "--volumes"])
      assert.strictEqual(downAll.code, 0, downAll.stderr)
      assert.match(downAll.stdout, /, 1 volume\(s\)$/m)
      assert.deepStrictEqual(await volumesOf(), [])
    } finally {
      await run(["down", "--all", "--force", "--app", app, "--volumes"])
    }
    await noLeftovers(app)
  }, 240_000)

  it("up --wait: a service that cannot come up is named, exit 1, and nothing is left", async () => {
    const app = appFor("waitfail")
    const file = fleetFile(
      app,
      `  web:
    image: busybox:latest
    command: ["sleep", "300"]
    stop_grace_period: 1s
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "exit 4"]
`
    )
    const up = await run(["up", "-f", file, "--wait"])
    assert.strictEqual(up.code, 1, up.stderr)
    assert.match(up.stderr, /migrate failed for good \(exit 4\)/)
    await noLeftovers(app)
  }, 120_000)
})
