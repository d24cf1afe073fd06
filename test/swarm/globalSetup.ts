/**
 * Before the swarm suites: the 3-node test swarm (scripts/swarm-engines.sh, a dockerd per network
 * namespace; the first engine and its registry come from test/support/engineSetup.ts) is started
 * when its manager does not answer with every node Ready. At the end it is stopped only when this
 * run started it: a swarm that was up before (started by `.ci/run` or by hand) stays up.
 */
import * as Path from "node:path"
import { runScript } from "../support/engineSetup.js"
import { swarmUnavailable } from "../support/swarmEnv.js"

const script = Path.resolve(import.meta.dirname, "../../scripts/swarm-engines.sh")

export default async function setup(): Promise<() => Promise<void>> {
  const startedHere = (await swarmUnavailable()) !== undefined
  if (startedHere) await runScript(script, ["start"])
  return async () => {
    if (startedHere) await runScript(script, ["stop"])
  }
}
