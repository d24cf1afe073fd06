/**
 * The reliability suite needs the second engine (TLS on tcp://127.0.0.1:2376): start it when it
 * does not answer. The script is idempotent and quick when the engine is already up; it stays up
 * after the run, like the first engine (`.ci/run` stops both).
 */
import { execFileSync } from "node:child_process"
import * as Path from "node:path"

export default function setup(): void {
  const script = Path.resolve(import.meta.dirname, "../../scripts/second-engine.sh")
  execFileSync(script, ["start"], { stdio: ["ignore", "inherit", "inherit"], timeout: 120_000 })
}
