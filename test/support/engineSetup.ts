/**
 * Global setup of the suites that need the real engine (integration, reliability): runs
 * `scripts/engine-env.sh start`, which installs and starts what does not answer yet (dockerd,
 * the local registry, the test images), so `npm test` passes by itself on a fresh machine.
 * At the end it stops only what this run started: an engine that was already up (started by
 * `.ci/run` or by hand) stays up.
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../..")
const stateDir = process.env.EFFECT_DOCKER_ENGINE_STATE ?? "/tmp/effect-docker-engine"

/** What `engine-env.sh start` marks as started by itself (`<part>.started` holds its pid). */
const startedParts = (): Set<string> =>
  new Set(
    Fs.existsSync(stateDir)
      ? Fs.readdirSync(stateDir)
          .filter((file) => file.endsWith(".started"))
          .map((file) => file.slice(0, -".started".length))
      : []
  )

export const runScript = (file: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { cwd: root, timeout: 600_000 }, (error, stdout, stderr) => {
      if (stderr.length > 0) process.stderr.write(stderr)
      if (error === null) resolve()
      else reject(new Error(`${Path.basename(file)} ${args.join(" ")} failed: ${error.message}\n${stdout}`))
    })
  })

export default async function setup(): Promise<() => Promise<void>> {
  const before = startedParts()
  await runScript(Path.join(root, "scripts", "engine-env.sh"), ["start"])
  const ours = [...startedParts()].filter((part) => !before.has(part))
  return async () => {
    if (ours.length > 0) await runScript(Path.join(root, "scripts", "engine-env.sh"), ["stop", ...ours])
  }
}
