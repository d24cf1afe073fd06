/**
 * Before the swarm suites: the 3-node test swarm (scripts/swarm-engines.sh, a dockerd per network
 * namespace; the first engine and its registry come from test/support/engineSetup.ts) is started
 * when its manager does not answer with every node Ready (the script is idempotent: it brings
 * back a node that is down). At the end it is stopped only when no node of it ran before this
 * run: a swarm that was up (started by `.ci/run` or by hand), even with a node down, stays up.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { runScript } from "../support/engineSetup.js"
import { swarmNodes, swarmUnavailable } from "../support/swarmEnv.js"

const script = Path.resolve(import.meta.dirname, "../../scripts/swarm-engines.sh")
const stateDir = process.env.EFFECT_DOCKER_SWARM_STATE ?? "/tmp/effect-docker-swarm"

/** Whether any node's dockerd, started by an earlier `swarm-engines.sh start`, still runs. */
const anyNodeRunning = (): boolean =>
  swarmNodes.some((node) => {
    try {
      process.kill(
        Number(Fs.readFileSync(Path.join(stateDir, `node${node.index}`, "dockerd.pid"), "utf8").trim()),
        0
      )
      return true
    } catch {
      return false
    }
  })

export default async function setup(): Promise<() => Promise<void>> {
  const wasRunning = anyNodeRunning()
  if ((await swarmUnavailable()) !== undefined) await runScript(script, ["start"])
  return async () => {
    if (!wasRunning) await runScript(script, ["stop"])
  }
}
