/**
 * `effect-docker up --swarm` as a user runs it: the built `bin.js` in a child process against
 * the test swarm's manager (DOCKER_HOST), a fleet of a web service with 3 replicas placed on
 * workers only and a one-shot job. The replicas run on worker nodes, `ps --swarm` shows them,
 * SIGINT ends the run with exit 0 and no service or network of the app is left on the manager.
 * `up --swarm` on an engine that manages no swarm exits 1 saying so.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import Dockerode from "dockerode"
import { requireSwarm, swarmImage, swarmManager, swarmNodes } from "../support/swarmEnv.js"

const available = await requireSwarm()

const root = path.resolve(import.meta.dirname, "../..")
const buildDir = path.join(root, "node_modules", ".cache", `effect-docker-cli-swarm-test-${process.pid}`)
const bin = path.join(buildDir, "bin.js")
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-docker-cli-swarm-"))
const app = `test-cliswarm-${randomBytes(3).toString("hex")}`
const manager = new Dockerode({ socketPath: swarmManager.socketPath })
const workers = swarmNodes.filter((node) => node.index !== 1).map((node) => node.hostname)

interface Run {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Promise<number | null>
}

const cli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Run => {
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

const waitFor = async <A>(
  what: string,
  timeoutMs: number,
  probe: () => A | undefined,
  context: () => string
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

interface JsonState {
  readonly service: string
  readonly status: string
  readonly exitCode?: number
  readonly task?: { readonly slot: number; readonly node?: string }
}

/** The latest state of each row. */
const latest = (run: Run): ReadonlyMap<string, JsonState> => {
  const rows = new Map<string, JsonState>()
  for (const line of run.stdout().split("\n")) {
    if (!line.startsWith("{")) continue
    const state = JSON.parse(line) as JsonState
    rows.set(state.service, state)
  }
  return rows
}

const fleet = `name: ${app}
services:
  web:
    image: ${swarmImage}
    command: ["sleep", "300"]
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: 3
      placement:
        constraints: ["node.role==worker"]
      update_config: { parallelism: 1, order: start-first }
  job:
    image: ${swarmImage}
    command: ["sh", "-c", "echo done"]
    depends_on:
      web: { condition: service_started }
`

beforeAll(() => {
  if (!available) return
  execFileSync(
    process.execPath,
    [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", buildDir],
    { cwd: root, stdio: "ignore" }
  )
}, 120_000)

afterAll(() => {
  fs.rmSync(buildDir, { recursive: true, force: true })
  fs.rmSync(workDir, { recursive: true, force: true })
})

// requireSwarm() throws under CI=true when the test swarm is missing (a failure, never a skip);
// it answers false only outside CI, on a machine without the test swarm.
describe.runIf(available)("effect-docker up --swarm on the test swarm", () => {
  it("replicas on workers only, ps --swarm shows them, SIGINT leaves no service or network", async () => {
    const file = path.join(workDir, `${app}.yaml`)
    fs.writeFileSync(file, fleet)
    const env = { DOCKER_HOST: swarmManager.host }
    const run = cli(["up", "-f", file, "--swarm", "--json"], env)
    const context = () => `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`
    try {
      const rows = await waitFor(
        "web-1..3 running and the job exited 0",
        120_000,
        () => {
          const rows = latest(run)
          const web = ["web-1", "web-2", "web-3"].map((row) => rows.get(row))
          const job = rows.get("job")
          return web.every((state) => state?.status === "running") &&
            job?.status === "exited" &&
            job.exitCode === 0
            ? rows
            : undefined
        },
        context
      )
      for (const row of ["web-1", "web-2", "web-3"]) {
        const state = rows.get(row)
        assert.strictEqual(state?.task?.slot, Number(row.slice(-1)), context())
        assert.include(workers, state?.task?.node, `${row} runs on a worker\n${context()}`)
      }
      assert.notInclude(run.stderr(), "effect-docker:", context())

      const ps = execFileSync(process.execPath, [bin, "ps", "--swarm", "--app", app], {
        cwd: root,
        env: { ...process.env, ...env, NO_COLOR: "1" },
        encoding: "utf8"
      })
      const webLines = ps.split("\n").filter((line) => /\sweb-[123]\s/.test(line))
      assert.strictEqual(webLines.length, 3, ps)
      for (const line of webLines) {
        assert.match(line, /\srunning$/, ps)
        assert.isTrue(
          workers.some((worker) => line.includes(` ${worker} `)),
          ps
        )
      }

      // deploy.update_config reached the service's spec.
      const [webService] = await manager.listServices({
        filters: { label: [`dev.effect-docker.app=${app}`, "dev.effect-docker.component=web"] }
      })
      assert.deepStrictEqual(webService?.Spec?.UpdateConfig?.Parallelism, 1)
      assert.deepStrictEqual(webService?.Spec?.UpdateConfig?.Order, "start-first")
    } finally {
      run.child.kill("SIGINT")
    }
    assert.strictEqual(await run.exit, 0, context())
    const labelFilter = { label: [`dev.effect-docker.app=${app}`] }
    assert.deepStrictEqual(await manager.listServices({ filters: labelFilter }), [], "no service left")
    assert.deepStrictEqual(await manager.listNetworks({ filters: labelFilter }), [], "no network left")
  }, 240_000)

  it("up --swarm on an engine that manages no swarm exits 1 and says so", async () => {
    const file = path.join(workDir, `${app}-plain.yaml`)
    fs.writeFileSync(file, `name: ${app}-plain\nservices:\n  web:\n    image: busybox:latest\n`)
    // The shared first engine is in no swarm (the swarm's nodes are engines of their own).
    const run = cli(["up", "-f", file, "--swarm", "--json"], { DOCKER_HOST: "unix:///var/run/docker.sock" })
    assert.strictEqual(await run.exit, 1, run.stderr())
    assert.include(run.stderr(), "--swarm needs a swarm manager")
    assert.strictEqual(run.stdout(), "")
  }, 60_000)
})
