/**
 * Scenario 6, decoding: the engine's own NDJSON pipelines (bytes → text → lines → Schema
 * decode → the library's types, exactly as `DockerEngine.stats` and `pullImage` run them)
 * over recorded payloads cut into 16 KiB chunks, in MB/s, against `JSON.parse` on lines split
 * beforehand (the floor: no framing, no validation).
 *
 * The payloads were recorded from dockerd 20.10 (cgroup v1) with
 *   curl --unix-socket /var/run/docker.sock "http://localhost/containers/<id>/stats?stream=true"
 * on a busybox container doing some work on a user bridge network (bench/payloads/stats.ndjson),
 * and a pull of 127.0.0.1:5000/effect-docker/bench:latest from the local registry
 *   curl --unix-socket /var/run/docker.sock -X POST "http://localhost/images/create?fromImage=...&tag=latest"
 * (bench/payloads/pull.ndjson). Lines are repeated to reach the payload size.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect, Stream } from "effect"
import * as Ndjson from "../src/internal/ndjson.js"
import * as Wire from "../src/internal/wire.js"
import { compare, figure, now, progress, type Row, type Settings } from "./harness.js"

const chunkBytes = 16 * 1024

interface Payload {
  readonly lines: ReadonlyArray<string>
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly bytes: number
}

const load = (file: string, targetBytes: number): Payload => {
  const recorded = readFileSync(
    fileURLToPath(new URL(`../../bench/payloads/${file}`, import.meta.url)),
    "utf8"
  )
    .split("\n")
    .filter((line) => line.trim().length > 0)
  const lines: Array<string> = []
  let size = 0
  while (size < targetBytes) {
    for (const line of recorded) {
      lines.push(line)
      size += Buffer.byteLength(line) + 1
    }
  }
  const whole = Buffer.from(`${lines.join("\n")}\n`)
  const chunks: Array<Uint8Array> = []
  for (let offset = 0; offset < whole.length; offset += chunkBytes) {
    chunks.push(whole.subarray(offset, offset + chunkBytes))
  }
  return { lines, chunks, bytes: whole.length }
}

/** What `DockerEngine.stats` does with the response's bytes. */
const decodeStats = (chunks: ReadonlyArray<Uint8Array>) =>
  Stream.fromIterable(chunks).pipe(Ndjson.lines("stats", Wire.readStats), Stream.runCount)

/** What `DockerEngine.pullImage` does with the response's bytes (every line checked for an error). */
const decodePull = (chunks: ReadonlyArray<Uint8Array>) =>
  Stream.fromIterable(chunks).pipe(
    Ndjson.decode("pullImage", Wire.WirePullLine),
    Stream.mapEffect((line) => {
      const error = Wire.pullLineError(line)
      return error === undefined ? Effect.succeed(Wire.toPullProgress(line)) : Effect.fail(error)
    }),
    Stream.runCount
  )

const floor = (lines: ReadonlyArray<string>) => {
  let count = 0
  for (const line of lines) {
    if (JSON.parse(line) !== null) count++
  }
  return count
}

const megabytesPerSecond = (bytes: number, millis: number) => bytes / 1e6 / (millis / 1000)

const measure = (
  name: string,
  payload: Payload,
  decode: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<number, unknown>,
  rounds: number
) =>
  Effect.gen(function* () {
    const ours: Array<number> = []
    const parse: Array<number> = []
    // One untimed round each: the JIT warms up on both sides alike.
    yield* decode(payload.chunks)
    floor(payload.lines)
    for (let round = 0; round < rounds; round++) {
      const started = now()
      const decoded = yield* decode(payload.chunks)
      ours.push(megabytesPerSecond(payload.bytes, now() - started))
      if (decoded !== payload.lines.length) {
        return yield* Effect.fail(new Error(`${name}: decoded ${decoded} of ${payload.lines.length} lines`))
      }
      const parsing = now()
      floor(payload.lines)
      parse.push(megabytesPerSecond(payload.bytes, now() - parsing))
    }
    yield* progress(`decoding ${name}: ${(payload.bytes / 1e6).toFixed(1)} MB x ${rounds}`)
    return compare(
      `decode ${name} NDJSON (${(payload.bytes / 1e6).toFixed(0)} MB)`,
      figure(ours, "MB/s"),
      { name: "JSON.parse, pre-split lines", figure: figure(parse, "MB/s") },
      undefined,
      `ours / floor; ${payload.lines.length} lines of ${(payload.bytes / payload.lines.length).toFixed(0)} B`
    )
  })

export const run = (settings: Settings) =>
  Effect.gen(function* () {
    const targetBytes = settings.quick ? 1e6 : 20e6
    const rounds = settings.quick ? 3 : 7
    const rows: ReadonlyArray<Row> = [
      yield* measure("stats", load("stats.ndjson", targetBytes), decodeStats, rounds),
      yield* measure("pull", load("pull.ndjson", targetBytes), decodePull, rounds)
    ]
    return rows
  })
