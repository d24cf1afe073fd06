/**
 * A CPU profile of the engine-source stats path in steady state: N containers under a
 * Supervisor (engine source), 10 s to settle, then `--seconds` profiled with the inspector;
 * prints the self time by function and by package, heaviest first. Not part of `npm run bench`.
 *
 *   node dist-bench/bench/profileStats.js [n] [seconds]
 */
import { Session } from "node:inspector/promises"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as DockerEngine from "../src/DockerEngine.js"
import * as Ours from "./ours.js"
import * as Reference from "./reference.js"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const n = Number(process.argv[2] ?? 20)
const seconds = Number(process.argv[3] ?? 20)

const summarize = (profile: Profile) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, index) => {
    const node = byId.get(id)
    const delta = profile.timeDeltas[index] ?? 0
    if (node === undefined) return
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === "(idle)" || functionName === "(program)") return
    total += delta
    const file = url.replace(/^.*node_modules\//, "").replace(/^.*\/(dist-bench|src)\//, "ours:")
    const pkg =
      url === ""
        ? "(native)"
        : file.startsWith("ours:")
          ? "ours"
          : file.split("/")[0] === "@effect"
            ? file.split("/").slice(0, 2).join("/")
            : url.startsWith("node:")
              ? "node"
              : (file.split("/")[0] ?? "?")
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta)
    const key = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + delta)
  })
  const top = (map: Map<string, number>, count: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(
        ([key, micros]) =>
          `${(micros / 1000).toFixed(0).padStart(6)} ms ${((micros / total) * 100).toFixed(1).padStart(5)}%  ${key}`
      )
      .join("\n")
  return `busy ${(total / 1000).toFixed(0)} ms in ${seconds} s\n\nby package:\n${top(byPackage, 15)}\n\nby function:\n${top(byFunction, 45)}`
}

const program = Effect.scoped(
  Effect.gen(function* () {
    const { supervisor } = yield* Ours.instance({ statsSource: "engine" })
    const watched = yield* Effect.forEach(
      Array.from({ length: n }, (_, index) => index),
      (index) => Ours.watch(supervisor, Ours.spec(`p${index}`, Reference.serviceCommand)),
      { concurrency: "unbounded" }
    )
    yield* Ours.allRunning(watched)
    yield* Effect.sleep("10 seconds")
    const session = new Session()
    session.connect()
    yield* Effect.promise(() => session.post("Profiler.enable"))
    yield* Effect.promise(() =>
      session.post("Profiler.setSamplingInterval", {
        interval: Number(process.env.PROFILE_INTERVAL_US ?? 200)
      })
    )
    yield* Effect.promise(() => session.post("Profiler.start"))
    const cpuBefore = process.cpuUsage()
    yield* Effect.sleep(`${seconds} seconds`)
    const cpu = process.cpuUsage(cpuBefore)
    const { profile } = yield* Effect.promise(() => session.post("Profiler.stop"))
    session.disconnect()
    console.log(`process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms over ${seconds} s`)
    console.log(summarize(profile as unknown as Profile))
  })
).pipe(Effect.ensuring(Reference.cleanup), Effect.provide(DockerEngine.layer))

NodeRuntime.runMain(program)
