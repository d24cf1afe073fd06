/**
 * Logs on the test swarm as a user sees them: `effect-docker up --swarm` with its output not a
 * terminal (plain mode) prints each replica's lines after its name, read from the manager's
 * service logs although the tasks run on other nodes, and `effect-docker logs --swarm` shows
 * them again. Each replica prints its own slot (`{{.Task.Slot}}` in its env), so a line under
 * the wrong replica's name shows. Nothing of the app is left after SIGINT.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import Dockerode from "dockerode"
import { requireSwarm, swarmImage, swarmManager } from "../support/swarmEnv.js"

const available = await requireSwarm()

const root = path.resolve(import.meta.dirname, "../..")
const buildDir = path.join(root, "node_modules", ".cache", `effect-docker-logs-swarm-test-${process.pid}`)
const bin = path.join(buildDir, "bin.js")
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-docker-logs-swarm-"))
const app = `test-logsswarm-${randomBytes(3).toString("hex")}`
const manager = new Dockerode({ socketPath: swarmManager.socketPath })
const env = { DOCKER_HOST: swarmManager.host }

const run = (args: ReadonlyArray<string>) => {
  const child: ChildProcess = spawn(process.execPath, [bin, ...args], {
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

const waitFor = async (what: string, timeoutMs: number, probe: () => boolean, context: () => string) => {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const fleet = `name: ${app}
services:
  web:
    image: ${swarmImage}
    command: ["sh", "-c", "echo hello from slot $$SLOT; sleep 1; echo warn $$SLOT >&2; sleep 300"]
    environment:
      SLOT: "{{.Task.Slot}}"
    restart: always
    stop_grace_period: 1s
    deploy:
      replicas: 2
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
describe.runIf(available)("logs on the test swarm", () => {
  it("up --swarm (plain) and logs --swarm show each replica's lines after its name", async () => {
    const file = path.join(workDir, `${app}.yaml`)
    fs.writeFileSync(file, fleet)
    const up = run(["up", "-f", file, "--swarm"])
    const context = () => `stdout:\n${up.stdout()}\nstderr:\n${up.stderr()}`
    try {
      await waitFor(
        "both replicas' lines in up's output",
        // A loaded swarm (other suites, benchmarks) can take a minute or more to start a task.
        200_000,
        () =>
          up.stdout().includes("web-1 | hello from slot 1") &&
          up.stdout().includes("web-2 | hello from slot 2") &&
          up.stdout().includes("web-1 | warn 1") &&
          up.stdout().includes("web-2 | warn 2"),
        context
      )
      assert.include(up.stdout(), "web-1 | warn 1", context())
      assert.include(up.stdout(), "web-2 | warn 2", context())
      assert.notMatch(up.stdout(), /web-1 \| hello from slot 2|web-2 \| hello from slot 1/, context())

      const logs = execFileSync(
        process.execPath,
        [bin, "logs", "--swarm", "--app", app, "web", "--tail", "1"],
        {
          cwd: root,
          env: { ...process.env, ...env, NO_COLOR: "1" },
          encoding: "utf8"
        }
      )
      // The last line of each task: the stderr one, a second after its stdout line (two lines
      // written microseconds apart may be stored in either order), and its sleep prints nothing more.
      assert.deepStrictEqual(logs.trim().split("\n").sort(), ["web-1 | warn 1", "web-2 | warn 2"], logs)
      const stamped = execFileSync(process.execPath, [bin, "logs", "--swarm", "--app", app, "--timestamps"], {
        cwd: root,
        env: { ...process.env, ...env, NO_COLOR: "1" },
        encoding: "utf8"
      })
      assert.match(stamped, /^web-1 \| \d{4}-\d\d-\d\dT[\d:.]+Z hello from slot 1$/m, stamped)
    } finally {
      up.child.kill("SIGINT")
    }
    assert.strictEqual(await up.exit, 0, context())
    const labelFilter = { label: [`dev.effect-docker.app=${app}`] }
    assert.deepStrictEqual(await manager.listServices({ filters: labelFilter }), [], "no service left")
    assert.deepStrictEqual(await manager.listNetworks({ filters: labelFilter }), [], "no network left")
  }, 300_000)
})
