/**
 * Before the reliability suite: the second engine (TLS on tcp://127.0.0.1:2376) is started when
 * it does not answer (the script is idempotent, and quick when it is up; the engine stays up
 * after the run, like the first one: `.ci/run` stops both), and the child process that the
 * SIGKILL test kills is compiled to JavaScript, both at once.
 */
import { execFile } from "node:child_process"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../..")

const run = (file: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { cwd: root, timeout: 180_000 }, (error, stdout, stderr) => {
      if (stderr.length > 0) process.stderr.write(stderr)
      if (error === null) resolve()
      else reject(new Error(`${Path.basename(file)} ${args.join(" ")} failed: ${error.message}\n${stdout}`))
    })
  })

/** Where the compiled child lands (under node_modules, so that its imports resolve). */
export const childOutDir = Path.join(root, "node_modules", ".cache", "effect-docker-reliability")

export default async function setup(): Promise<void> {
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
}
