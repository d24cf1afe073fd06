/**
 * The `effect-docker` CLI as a user runs it: the built `bin.js` in a child process (and in a
 * real pseudo-terminal through tmux) against the real engine.
 */

import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as DockerEngine from "../../src/DockerEngine.js"
import { assertNoLeftovers, liveLayer } from "../support/live.js"

const root = path.resolve(import.meta.dirname, "../..")
// Inside the repository so the build finds node_modules; one per process so suites never share it.
const buildDir = path.join(root, "node_modules", ".cache", `effect-docker-cli-test-${process.pid}`)
const bin = path.join(buildDir, "bin.js")
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-docker-cli-"))
const runId = randomBytes(3).toString("hex")

/** A unique app per test: the `dev.effect-docker.app` label of everything it creates. */
const appFor = (test: string) => `test-cli-${runId}-${test}`

const noLeftovers = (app: string) =>
  Effect.runPromise(assertNoLeftovers({ "dev.effect-docker.app": app }).pipe(Effect.provide(liveLayer)))

const waitFor = async <A>(
  what: string,
  timeoutMs: number,
  probe: () => A | undefined,
  context: () => string = () => ""
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

interface Run {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Promise<number | null>
}

const cli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}): Run => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8")
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString("utf8")
  })
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exit }
}

/** Runs to completion: exit status and output. */
const cliDone = async (args: ReadonlyArray<string>) => {
  const run = cli(args)
  const code = await run.exit
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}

interface JsonState {
  readonly service: string
  readonly status: string
  readonly health: string
  readonly restartCount: number
  readonly exitCode?: number
}

const states = (run: Run): ReadonlyArray<JsonState> =>
  run
    .stdout()
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as JsonState)

const fleetFile = (name: string, source: string): string => {
  const file = path.join(workDir, `${name}.yaml`)
  fs.writeFileSync(file, source)
  return file
}

const demoAs = (app: string): string =>
  fleetFile(
    app,
    fs.readFileSync(path.join(root, "examples/demo.yaml"), "utf8").replace(/^name: demo$/m, `name: ${app}`)
  )

const sleeperFleet = (app: string): string =>
  fleetFile(
    app,
    `name: ${app}\nservices:\n  sleeper:\n    image: busybox:latest\n    command: ["sleep", "300"]\n    stop_grace_period: 1s\n    labels:\n      effect-docker-test: cli\n`
  )

beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", buildDir],
    {
      cwd: root,
      stdio: "ignore"
    }
  )
}, 120_000)

afterAll(() => {
  fs.rmSync(buildDir, { recursive: true, force: true })
  fs.rmSync(workDir, { recursive: true, force: true })
})

describe.concurrent("effect-docker CLI against the real engine", () => {
  it("up --json: the demo's states appear, SIGINT exits 0 and leaves nothing behind", async () => {
    const app = appFor("json")
    const run = cli(["up", demoAs(app), "--json"])
    try {
      await waitFor("web healthy, job exited 0, worker restarted", 90_000, () => {
        const seen = states(run)
        const web = seen.some((s) => s.service === "web" && s.health === "healthy")
        const job = seen.some((s) => s.service === "job" && s.status === "exited" && s.exitCode === 0)
        const worker = seen.some((s) => s.service === "worker" && s.restartCount >= 1)
        return web && job && worker ? true : undefined
      })
      const seen = states(run)
      // The job starts only once web is healthy.
      const webHealthy = seen.findIndex((s) => s.service === "web" && s.health === "healthy")
      const jobFirst = seen.findIndex((s) => s.service === "job")
      assert.isTrue(webHealthy < jobFirst, "the job started before web was healthy")
      const workerExit = seen.find((s) => s.service === "worker" && s.exitCode !== undefined)
      assert.strictEqual(workerExit?.exitCode, 3)
    } finally {
      run.child.kill("SIGINT")
    }
    assert.strictEqual(await run.exit, 0, run.stderr())
    assert.include(run.stderr(), "web: removed")
    await noLeftovers(app)
  }, 120_000)

  it("up on a terminal: the table appears, the restart count rises, Ctrl-C leaves nothing behind", async () => {
    const app = appFor("tty")
    const session = `effect-docker-cli-${process.pid}-${runId}`
    const tmux = (...args: ReadonlyArray<string>) => execFileSync("tmux", args, { encoding: "utf8" })
    const screen = () => tmux("capture-pane", "-p", "-t", session)
    const command = `${process.execPath} ${bin} up ${demoAs(app)}; echo "EXIT=$?"; sleep 60`
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "24", command)
    try {
      const restarts = await waitFor("the worker's restart count to rise", 90_000, () => {
        const row = screen()
          .split("\n")
          .find((line) => line.startsWith("worker "))
        const cells = row?.trim().split(/\s{2,}/)
        const count = cells === undefined ? Number.NaN : Number(cells[cells.length - 2])
        return count >= 1 ? count : undefined
      })
      assert.isAtLeast(restarts, 1)
      const table = screen()
      assert.match(table, /^effect-docker up .* · app test-cli-\w+-tty · instance \w+/m)
      assert.match(table, /^SERVICE\s+STATUS\s+HEALTH\s+CPU\s+MEMORY\s+RX\s+TX\s+RESTARTS\s+UPTIME$/m)
      assert.match(table, /^web\s+running\s+/m)
      tmux("send-keys", "-t", session, "C-c")
      await new Promise((resolve) => setTimeout(resolve, 300))
      tmux("send-keys", "-t", session, "C-c")
      const after = await waitFor("the CLI to exit", 30_000, () => {
        const text = screen()
        return /EXIT=\d+/.test(text) ? text : undefined
      })
      assert.match(after, /EXIT=0/)
      assert.match(after, /^web\s+removed/m)
      assert.match(after, /^worker\s+removed/m)
      assert.match(after, /stopped$/m)
    } finally {
      execFile("tmux", ["kill-session", "-t", session], () => undefined)
    }
    await noLeftovers(app)
  }, 120_000)

  it("ps, sweep and down: an instance killed with SIGKILL is stale, a live one is kept", async () => {
    const app = appFor("ps")
    const file = sleeperFleet(app)
    const killed = cli(["up", file, "--json"])
    const alive = cli(["up", file, "--json"])
    let cleaned = false
    const running = (run: Run) => () => (states(run).some((s) => s.status === "running") ? true : undefined)
    try {
      await waitFor(
        "both instances running",
        60_000,
        () => (running(killed)() && running(alive)() ? true : undefined),
        () => [killed, alive].map((run) => run.stdout() + run.stderr()).join("\n---\n")
      )
      killed.child.kill("SIGKILL")
      await killed.exit

      const ps = await cliDone(["ps", "--app", app, "--json"])
      assert.strictEqual(ps.code, 0, ps.stderr)
      const instances = ps.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { instance: string; owner: string; ownerStatus: string })
      const byPid = (pid: number | undefined) => instances.find((i) => i.owner.split("/")[1] === String(pid))
      assert.strictEqual(instances.length, 2)
      assert.strictEqual(byPid(killed.child.pid)?.ownerStatus, "gone")
      assert.strictEqual(byPid(alive.child.pid)?.ownerStatus, "alive")
      const sweep = await cliDone(["sweep", "--app", app])
      assert.strictEqual(sweep.code, 0, sweep.stderr)
      assert.strictEqual(sweep.stdout.trim(), "removed 1 stale instance(s): 1 container(s), 1 network(s)")
      // down --all refuses while an owner runs, names it, and removes nothing.
      const refused = await cliDone(["down", "--all", "--app", app])
      assert.strictEqual(refused.code, 1, refused.stderr)
      assert.include(
        refused.stderr,
        `1 instance(s) have an owner that still runs: ${app}/${byPid(alive.child.pid)!.instance} (owner alive (pid ${alive.child.pid}))`
      )
      assert.include(refused.stderr, "give --force")
      assert.strictEqual(refused.stdout, "")
      // Only the live instance's container is left (read from the engine, not through the CLI).
      const left = await Effect.runPromise(
        Effect.gen(function* () {
          const engine = yield* DockerEngine.DockerEngine
          return yield* engine.listContainers({ all: true, labels: { "dev.effect-docker.app": app } })
        }).pipe(Effect.provide(liveLayer))
      )
      assert.deepStrictEqual(
        left.map((container) => container.labels["dev.effect-docker.instance"]),
        [byPid(alive.child.pid)!.instance]
      )

      // The live instance, once its process is killed too, goes with down --instance.
      alive.child.kill("SIGKILL")
      await alive.exit
      const down = await cliDone(["down", "--app", app, "--instance", byPid(alive.child.pid)!.instance])
      assert.strictEqual(down.code, 0, down.stderr)
      assert.strictEqual(down.stdout.trim(), "removed 1 instance(s): 1 container(s), 1 network(s)")
      cleaned = true
    } finally {
      killed.child.kill("SIGKILL")
      alive.child.kill("SIGKILL")
      if (!cleaned) await cliDone(["down", "--all", "--force", "--app", app])
    }
    await noLeftovers(app)
  }, 120_000)

  it("no engine answering, no --engine: up exits 1 with the engine's message and simulates nothing", async () => {
    const app = appFor("noengine")
    const file = demoAs(app)
    const noDocker = { DOCKER_HOST: `unix://${path.join(workDir, "no-docker.sock")}` }
    const runs = [cli(["up", file, "--json"], noDocker), cli(["up", file, "--engine", "docker"], noDocker)]
    try {
      for (const run of runs) {
        const code = await Promise.race([
          run.exit,
          new Promise<string>((resolve) => setTimeout(() => resolve("still running after 45 s"), 45_000))
        ])
        assert.strictEqual(code, 1, run.stderr())
        assert.strictEqual(run.stdout().includes('"status"'), false, run.stdout())
        assert.notInclude(run.stdout(), "SIMULATED")
        assert.notInclude(run.stderr(), "MemoryEngine (simulated)")
        assert.match(
          run.stderr().split("\n")[0]!,
          /^Could not connect to Docker at unix:\/\/.*no-docker\.sock: is it running\?/
        )
        assert.include(run.stderr(), "--engine auto")
      }
    } finally {
      for (const run of runs) run.child.kill("SIGKILL")
    }
    await noLeftovers(app)
  }, 120_000)

  it("no engine answering, --engine auto: up says so in one line and runs the fleet on MemoryEngine, marked simulated", async () => {
    const app = appFor("memory")
    const run = cli(["up", demoAs(app), "--json", "--engine", "auto"], {
      DOCKER_HOST: `unix://${path.join(workDir, "no-docker.sock")}`
    })
    try {
      await waitFor(
        "the simulated web healthy and job exited 0",
        60_000,
        () => {
          const seen = states(run)
          const web = seen.some((s) => s.service === "web" && s.health === "healthy")
          const job = seen.some((s) => s.service === "job" && s.status === "exited" && s.exitCode === 0)
          return web && job ? true : undefined
        },
        run.stderr
      )
      assert.isTrue(states(run).every((s) => (s as JsonState & { simulated?: boolean }).simulated === true))
      assert.match(
        run.stderr().split("\n")[0]!,
        /^Could not connect to Docker at unix:\/\/.*no-docker\.sock: is it running\?.* Running the fleet on MemoryEngine \(simulated\)\.$/
      )
    } finally {
      run.child.kill("SIGINT")
    }
    assert.strictEqual(await run.exit, 0, run.stderr())
    await noLeftovers(app)
  }, 120_000)

  it("exit status: 2 for a bad fleet file (every problem with its line) or bad flags, 1 when a service fails for good", async () => {
    const app = appFor("bad")
    const file = fleetFile(
      app,
      `name: ${app}\nservices:\n  web:\n    image: busybox:latest\n    healthcheck:\n      test: "true"\n      interval: soon\n    sysctls: ["net.core.somaxconn=1024"]\n`
    )
    const failing = fleetFile(
      `${app}-fails`,
      `name: ${app}\nservices:\n  once:\n    image: busybox:latest\n    command: ["sh", "-c", "echo giving up >&2; exit 3"]\n`
    )
    const [result, usage, failed] = await Promise.all([
      cliDone(["up", file]),
      cliDone(["down"]),
      cliDone(["up", failing])
    ])
    assert.strictEqual(failed.code, 1, failed.stderr)
    assert.include(failed.stdout, "once: exited, exit 3")
    assert.include(failed.stderr, "once failed for good (exit 3)")
    assert.strictEqual(usage.code, 2)
    assert.include(usage.stderr, "give either --instance ID or --all")
    assert.strictEqual(result.code, 2)
    assert.include(
      result.stderr,
      `${file}:7: services.web.healthcheck.interval: expected a duration like 5s, got "soon"`
    )
    assert.include(result.stderr, `${file}:8: services.web.sysctls: unsupported key`)
    await noLeftovers(app)
  }, 120_000)
})
