/**
 * Issue 16's three-tier fleet file as a user runs it: the built `bin.js` in a child process
 * against the real engine. A database stand-in with a named volume and a healthcheck, a one-shot
 * migration that waits for it, and an app with `env_file`, a published port and two replicas.
 */

import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { liveLayer } from "../support/live.js"

const root = path.resolve(import.meta.dirname, "../..")
const buildDir = path.join(root, "node_modules", ".cache", `effect-docker-cli-three-tier-test-${process.pid}`)
const bin = path.join(buildDir, "bin.js")
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-docker-cli-three-tier-"))
const runId = randomBytes(3).toString("hex")
const app = `test-cli3-${runId}`
const appLabel = "dev.effect-docker.app"
const componentLabel = "dev.effect-docker.component"

const withEngine = <A>(use: (engine: DockerEngine.DockerEngineShape) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* use(yield* DockerEngine.DockerEngine)
    }).pipe(Effect.provide(liveLayer))
  )

/** Everything on the engine that carries the app's label: containers, networks, volumes. */
const leftoversOf = (app: string) =>
  withEngine((engine) =>
    Effect.all({
      containers: engine
        .listContainers({ all: true, labels: { [appLabel]: app } })
        .pipe(Effect.map((list) => list.map((c) => c.labels[componentLabel] ?? c.id).sort())),
      networks: engine
        .listNetworks({ labels: { [appLabel]: app } })
        .pipe(Effect.map((list) => list.map((n) => n.name))),
      volumes: engine
        .listVolumes({ labels: { [appLabel]: app } })
        .pipe(Effect.map((list) => list.map((v) => v.name)))
    })
  )

const spawnCli = (args: ReadonlyArray<string>): ChildProcessWithoutNullStreams =>
  spawn(process.execPath, [bin, ...args], {
    cwd: workDir,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: "pipe"
  })

/** Runs the CLI to completion: exit status and output. */
const run = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawnCli(args)
    child.stdin.end()
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

/** GETs `url`, retrying while nothing listens yet (httpd starts just after the container). */
const get = async (url: string): Promise<{ status: number; body: string }> => {
  let last: unknown
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const response = await fetch(url)
      return { status: response.status, body: await response.text() }
    } catch (cause) {
      last = cause
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  throw last
}

/** The host port each app replica's line in the plain output shows (`app-1: running, ports 0.0.0.0:NNNN->80/tcp`). */
const replicaPorts = (output: string): ReadonlyMap<string, number> =>
  new Map(
    [...output.matchAll(/^\S+ (app-\d): running, ports 0\.0\.0\.0:(\d+)->80\/tcp/gm)].map(
      (match) => [match[1]!, Number(match[2])] as const
    )
  )

beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", buildDir],
    { cwd: root, stdio: "ignore" }
  )
}, 180_000)

/** A foreground `up` the test has not seen end: stopped (Ctrl-C) in the finalizers. */
let foreground: ChildProcessWithoutNullStreams | undefined

/** Whatever a failed or timed-out test left: Ctrl-C to its `up`, then `down --all --force --volumes`. */
const cleanUp = async () => {
  const running = foreground
  foreground = undefined
  running?.kill("SIGINT")
  const left = await leftoversOf(app)
  if (running !== undefined || Object.values(left).some((names) => names.length > 0))
    await run(["down", "--all", "--force", "--app", app, "--volumes"])
}

afterAll(async () => {
  // The test's own finally does this, unless the test timed out.
  await cleanUp()
  fs.rmSync(buildDir, { recursive: true, force: true })
  fs.rmSync(workDir, { recursive: true, force: true })
}, 120_000)

describe("effect-docker up, a three-tier fleet file, against the real engine", () => {
  it("up, Ctrl-C, up --wait: HTTP 200 through the published port of two replicas, the database's volume kept; down --volumes leaves nothing", async () => {
    const greeting = `hello-${runId}`
    const folder = path.join(workDir, app)
    fs.mkdirSync(folder)
    fs.writeFileSync(path.join(folder, "app.env"), `# the app's settings\nGREETING=${greeting}\n`)
    // The database appends a line to its volume at every start and serves the volume; the
    // migration records itself there once the database is healthy; each app replica copies both
    // files, by the database's service name, next to a page with the env_file's value.
    fs.writeFileSync(
      path.join(folder, "compose.yaml"),
      `name: ${app}
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "echo boot >> /data/boots && exec httpd -f -p 80 -h /data"]
    volumes: ["dbdata:/data"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/boots"]
      interval: 1s
      start_period: 10s
      start_interval: 200ms
    stop_grace_period: 1s
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "echo migrated >> /data/migrations"]
    volumes: ["dbdata:/data"]
    depends_on: { db: { condition: service_healthy } }
  app:
    image: busybox:latest
    env_file: app.env
    command:
      - sh
      - -c
      - mkdir -p /www && echo "$$GREETING" > /www/index.html && wget -q -O /www/boots http://db/boots && wget -q -O /www/migrations http://db/migrations && exec httpd -f -p 80 -h /www
    ports: ["80"]
    deploy: { replicas: 2 }
    stop_grace_period: 1s
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
volumes:
  dbdata:
`
    )
    const inFolder = (args: ReadonlyArray<string>) => ["-f", path.join(folder, "compose.yaml"), ...args]
    const page = (port: number, file: string) => get(`http://127.0.0.1:${port}/${file}`)

    try {
      // 1. `up` in the foreground until both replicas serve, then Ctrl-C.
      const child = spawnCli(["up", ...inFolder([])])
      foreground = child
      child.stdin.end()
      let output = ""
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve))
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8")
      })
      const bothServing = new Promise<ReadonlyMap<string, number>>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8")
          const ports = replicaPorts(output)
          if (ports.size === 2) resolve(ports)
        })
        void exited.then((code) =>
          reject(new Error(`up ended (exit ${code}) before app-1 and app-2 ran:\n${output}`))
        )
        setTimeout(
          () => reject(new Error(`app-1 and app-2 not running after 90s:\n${output}`)),
          90_000
        ).unref()
      })
      const firstPorts = await bothServing
      for (const port of firstPorts.values()) {
        assert.deepStrictEqual(await page(port, ""), { status: 200, body: `${greeting}\n` })
        assert.deepStrictEqual(await page(port, "boots"), { status: 200, body: "boot\n" })
      }
      assert.match(output, /^\S+ migrate: exited, exit 0$/m)
      child.kill("SIGINT")
      assert.strictEqual(await exited, 0, output)
      foreground = undefined
      assert.match(output, /stopping: removing every container/)
      // Ctrl-C removed the fleet and its network; the app's volume is kept.
      assert.deepStrictEqual(await leftoversOf(app), {
        containers: [],
        networks: [],
        volumes: [`${app}_dbdata`]
      })

      // 2. `up --wait` returns with the fleet up; the database's file is still in its volume.
      const up = await run(["up", ...inFolder(["--wait"])])
      assert.strictEqual(up.code, 0, up.stderr)
      const instance = /instance (\w+) is up/.exec(up.stdout)?.[1]
      assert.isDefined(instance, up.stdout)
      // --wait relays the background's state lines: one row per replica, with its port.
      const ports = replicaPorts(up.stderr)
      assert.deepStrictEqual([...ports.keys()].sort(), ["app-1", "app-2"], up.stderr)
      for (const port of ports.values()) {
        const index = await page(port, "")
        assert.deepStrictEqual(index, { status: 200, body: `${greeting}\n` })
        assert.deepStrictEqual(await page(port, "boots"), { status: 200, body: "boot\nboot\n" })
        assert.deepStrictEqual(await page(port, "migrations"), { status: 200, body: "migrated\nmigrated\n" })
      }

      const { containers, addresses, answer } = await withEngine((engine) =>
        Effect.gen(function* () {
          const listed = yield* engine.listContainers({ all: true, labels: { [appLabel]: app } })
          const byComponent = new Map(listed.map((c) => [c.labels[componentLabel] ?? c.id, c] as const))
          const addresses = yield* Effect.forEach(["app-1", "app-2"], (replica) =>
            engine
              .inspectContainer(byComponent.get(replica)?.id ?? replica)
              .pipe(
                Effect.map((inspect) => Object.values(inspect.networks).map((network) => network.ipAddress))
              )
          )
          // A third container on the instance network: the service name resolves to both replicas.
          const answer = yield* engine.exec(byComponent.get("db")?.id ?? "db", ["nslookup", "app"])
          return {
            containers: listed.map((c) => [c.labels[componentLabel], c.state]).sort(),
            addresses: addresses.flat(),
            answer
          }
        })
      )
      assert.deepStrictEqual(containers, [
        ["app-1", "running"],
        ["app-2", "running"],
        ["db", "running"]
      ])
      assert.strictEqual(addresses.length, 2)
      const resolved = [...answer.stdout.matchAll(/^Address: (\S+)$/gm)].map((match) => match[1]).sort()
      assert.deepStrictEqual(resolved, [...addresses].sort(), answer.stdout)

      const ps = await run(["ps", "--app", app])
      assert.strictEqual(ps.code, 0, ps.stderr)
      for (const row of ["app-1", "app-2"]) assert.match(ps.stdout, new RegExp(`\\s${row}\\s+running\\s`))

      // 3. `down --volumes` removes everything the app had, its volume included.
      const down = await run(["down", "--instance", instance!, "--volumes"])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.deepStrictEqual(await leftoversOf(app), { containers: [], networks: [], volumes: [] })
    } finally {
      await cleanUp()
    }
  }, 180_000)
})
