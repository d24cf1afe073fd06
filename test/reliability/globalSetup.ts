/**
 * Before the reliability suite: the second engine (TLS on tcp://127.0.0.1:2376) is started when
 * it does not answer (the script is idempotent, and quick when it is up), and the child process
 * that the SIGKILL test kills is compiled to JavaScript, both at once. (The first engine comes
 * from test/support/engineSetup.ts.) At the end the second engine is stopped only when this run
 * started it: one that was up before (started by `.ci/run` or by hand) stays up.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { runScript as run } from "../support/engineSetup.js"

const root = Path.resolve(import.meta.dirname, "../..")
const secondStateDir = process.env.EFFECT_DOCKER_SECOND_ENGINE_STATE ?? "/tmp/effect-docker-engine2"

/** Whether the second engine's dockerd was started by an earlier `second-engine.sh start` and still runs. */
const secondEngineRunning = (): boolean => {
  try {
    process.kill(Number(Fs.readFileSync(Path.join(secondStateDir, "dockerd.started"), "utf8").trim()), 0)
    return true
  } catch {
    return false
  }
}

/** Where the compiled child lands (under node_modules, so that its imports resolve). */
export const childOutDir = Path.join(root, "node_modules", ".cache", "effect-docker-reliability")

export default async function setup(): Promise<() => Promise<void>> {
  const wasRunning = secondEngineRunning()
  await Promise.all([
    run(Path.join(root, "scripts", "second-engine.sh"), ["start"]),
    run(Path.join(root, "node_modules", ".bin", "tsc"), [
      "--ignoreConfig",
      "--noEmit",
      "false",
      "--noCheck",
      "--skipLibCheck",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--target",
      "es2023",
      "--types",
      "node",
      "--rootDir",
      ".",
      "--outDir",
      childOutDir,
      "test/reliability/fixtures/supervisingChild.ts"
    ])
  ])
  return async () => {
    if (!wasRunning) await run(Path.join(root, "scripts", "second-engine.sh"), ["stop"])
  }
}
