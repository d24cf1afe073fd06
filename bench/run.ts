/**
 * `npm run bench`: the library side by side with raw dockerode and the docker CLI, on the
 * real engine, in one run. Prints the table (scenario, ours, reference, ratio, target,
 * result) and writes the figures to bench/results.json (bench/results.quick.json for
 * `--quick`; bench/results.swarm[.quick].json for `--only swarm`).
 *
 *   npm run bench                        every scenario, full size (about 45 minutes on 2 cores,
 *                                        30 of them the supervision scenario at 20 and 100)
 *   npm run bench -- --quick             every scenario at small N (under a minute; CI runs it)
 *   npm run bench -- --only start,exit   some scenarios
 *   npm run bench -- --only supervision --sizes 20 --window 10
 *                                        the supervision scenario at N=20, 10 s windows
 *   npm run bench -- --only scale --scale-n 30
 *                                        the scale scenario at N=30
 *
 * Everything it creates carries `dev.effect-docker.app=bench` and this run's test label and
 * is removed at the end, on failure and on Ctrl-C. The run fails when anything was left
 * behind by the library or a supervised container's final state was lost; a missed target
 * is reported, not a failure.
 */
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, References } from "effect"
import * as DockerEngine from "../src/DockerEngine.js"
import * as Decoding from "./decoding.js"
import * as ExitDetection from "./exitDetection.js"
import { failed, machine, progress, type Row, type Settings, save, table } from "./harness.js"
import * as Reference from "./reference.js"
import * as Scale from "./scale.js"
import * as StartOverhead from "./startOverhead.js"
import * as SupervisionCost from "./supervisionCost.js"
import * as Swarm from "./swarm.js"
import * as Teardown from "./teardown.js"

const scenarios: ReadonlyArray<{
  readonly name: string
  readonly run: (settings: Settings) => Effect.Effect<ReadonlyArray<Row>, unknown, DockerEngine.DockerEngine>
}> = [
  // Supervision first: its RSS baseline is not inflated by the pages earlier scenarios freed.
  { name: "supervision", run: SupervisionCost.run },
  { name: "start", run: StartOverhead.run },
  { name: "teardown", run: Teardown.run },
  { name: "exit", run: ExitDetection.run },
  { name: "scale", run: Scale.run },
  { name: "decoding", run: Decoding.run },
  { name: "swarm", run: Swarm.run }
]

const parse = (args: ReadonlyArray<string>): Settings => {
  const only = args.flatMap((arg, index) =>
    arg === "--only"
      ? (args[index + 1] ?? "").split(",")
      : arg.startsWith("--only=")
        ? arg.slice(7).split(",")
        : []
  )
  const unknown = only.filter((name) => !scenarios.some((scenario) => scenario.name === name))
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(", ")}: one of ${scenarios.map((s) => s.name).join(", ")}`
    )
  }
  const argument = (name: string) => {
    const index = args.indexOf(name)
    return index === -1 ? undefined : args[index + 1]
  }
  const sizes = argument("--sizes")?.split(",").map(Number)
  const window = argument("--window")
  const scaleN = argument("--scale-n")
  return {
    quick: args.includes("--quick"),
    only,
    ...(sizes !== undefined ? { sizes } : {}),
    ...(window !== undefined ? { windowSeconds: Number(window) } : {}),
    ...(scaleN !== undefined ? { scaleN: Number(scaleN) } : {})
  }
}

const settings = parse(process.argv.slice(2))
// `--only swarm` (the swarm is a setup of its own) keeps its figures beside the whole run's.
const swarmOnly = settings.only.length === 1 && settings.only[0] === "swarm" ? ".swarm" : ""
const resultsPath = fileURLToPath(
  new URL(`../../bench/results${swarmOnly}${settings.quick ? ".quick" : ""}.json`, import.meta.url)
)

const program = Effect.gen(function* () {
  const started = performance.now()
  const host = machine(yield* Reference.engineVersion)
  const rows: Array<Row> = []
  for (const scenario of scenarios) {
    if (settings.only.length > 0 && !settings.only.includes(scenario.name)) continue
    yield* progress(`${scenario.name}...`)
    const began = performance.now()
    // A failed scenario is a row of the table: the others still run, the run fails at the end.
    const exit = yield* Effect.exit(scenario.run(settings))
    if (Exit.isSuccess(exit)) {
      rows.push(...exit.value)
      // Figures as they come: a long run that breaks later keeps what it measured.
      yield* progress(`\n${table(exit.value)}`)
    } else {
      const error = Cause.squash(exit.cause)
      rows.push(failed(scenario.name, error instanceof Error ? error.message : String(error)))
      // What the failed scenario left running is not the next one's business.
      yield* Reference.cleanup
    }
    yield* progress(`${scenario.name} done in ${((performance.now() - began) / 1000).toFixed(0)} s`)
  }
  const left = yield* Reference.leftovers
  process.stdout.write(`${table(rows)}\n\n`)
  process.stdout.write(
    `${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, Linux ${host.kernel}, Node ${host.node}, ${host.engine}; ` +
      `${settings.quick ? "quick" : "full"} run in ${((performance.now() - started) / 1000).toFixed(0)} s\n`
  )
  yield* save(resultsPath, settings, host, rows)
  if (left.references.length > 0) {
    // Not the library's: the final cleanup removes them, and says which the engine refused.
    yield* progress(`left by the references: ${left.references.join(", ")}`)
  }
  if (left.library.length > 0) {
    return yield* Effect.fail(new Error(`the library left behind: ${left.library.join(", ")}`))
  }
  const errors = rows.filter((row) => row.error !== undefined)
  if (errors.length > 0) {
    return yield* Effect.fail(new Error(`failed: ${errors.map((row) => row.scenario).join(", ")}`))
  }
}).pipe(
  Effect.ensuring(
    Reference.cleanup.pipe(
      Effect.flatMap(({ containers, networks, refused }) =>
        Effect.all([
          containers + networks > 0
            ? progress(`removed ${containers} containers, ${networks} networks`)
            : Effect.void,
          // dockerd 20.10 can keep a stale endpoint on a network whose containers are all gone
          // (moby/moby#43286): only a daemon restart clears it.
          refused.length > 0 ? progress(`the engine refused to remove: ${refused.join(", ")}`) : Effect.void
        ])
      )
    )
  ),
  Effect.provide(DockerEngine.layer),
  // The library's info logs (every container exit) would bury the table.
  Effect.provideService(References.MinimumLogLevel, "Warn")
)

NodeRuntime.runMain(program)
