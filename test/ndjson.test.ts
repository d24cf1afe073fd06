import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Result, Schema, Stream } from "effect"
import * as Ndjson from "../src/internal/ndjson.js"
import * as Wire from "../src/internal/wire.js"

const Sample = Schema.Struct({ id: Schema.Number, text: Schema.String })

const objects = [
  { id: 1, text: "first" },
  { id: 2, text: "zweite — ünïcödé ✓" },
  { id: 3, text: "" }
]
const bytes = new TextEncoder().encode(`${objects.map((o) => JSON.stringify(o)).join("\n")}\n`)

const encode = (text: string) => new TextEncoder().encode(text)

const decodeChunks = (chunks: ReadonlyArray<Uint8Array>) =>
  Stream.fromIterable(chunks).pipe(Ndjson.decode("test", Sample), Stream.runCollect)

describe("NDJSON framing", () => {
  it.effect("decodes the same objects whatever byte offset the stream is split at", () =>
    Effect.gen(function* () {
      for (let offset = 0; offset <= bytes.length; offset++) {
        const decoded = yield* decodeChunks([bytes.subarray(0, offset), bytes.subarray(offset)])
        assert.deepStrictEqual(decoded, objects, `split at byte ${offset}`)
      }
    })
  )

  it.effect("decodes one byte at a time, and several objects in one chunk", () =>
    Effect.gen(function* () {
      const oneByteChunks = Array.from(bytes, (byte) => Uint8Array.of(byte))
      assert.deepStrictEqual(yield* decodeChunks(oneByteChunks), objects)
      assert.deepStrictEqual(yield* decodeChunks([bytes]), objects)
    })
  )

  it.effect("decodes a last line without a newline and skips blank lines", () =>
    Effect.gen(function* () {
      const text = new TextEncoder().encode('\n{"id":1,"text":"a"}\r\n\n{"id":2,"text":"b"}')
      assert.deepStrictEqual(yield* decodeChunks([text]), [
        { id: 1, text: "a" },
        { id: 2, text: "b" }
      ])
    })
  )

  it.effect("fails with a Decode DockerError on a line that is not the expected JSON", () =>
    Effect.gen(function* () {
      const error = yield* decodeChunks([new TextEncoder().encode('{"id":1,"text":"a"}\n{"id":"x"}\n')]).pipe(
        Effect.flip
      )
      assert.strictEqual(error._tag, "DockerError")
      assert.strictEqual(error.reason, "Decode")
      assert.strictEqual(error.operation, "test")
    })
  )

  it.effect("decodes Docker's stats lines, cgroup v1 and an empty first precpu", () =>
    Effect.gen(function* () {
      const line = JSON.stringify({
        read: "2026-01-01T00:00:01Z",
        pids_stats: { current: 3 },
        networks: { eth0: { rx_bytes: 100, tx_bytes: 50 } },
        memory_stats: { usage: 1000, limit: 4000, stats: { total_inactive_file: 200 } },
        cpu_stats: {
          cpu_usage: { total_usage: 5000, percpu_usage: [2500, 2500] },
          system_cpu_usage: 90000,
          online_cpus: 2
        },
        precpu_stats: { cpu_usage: { total_usage: 0 }, throttling_data: {} }
      })
      const samples = yield* Stream.make(new TextEncoder().encode(`${line}\n`)).pipe(
        Ndjson.lines("stats", Wire.readStats),
        Stream.runCollect
      )
      assert.deepStrictEqual(samples, [
        {
          read: "2026-01-01T00:00:01Z",
          cpu: { totalUsage: 5000, percpuUsage: [2500, 2500], systemUsage: 90000, onlineCpus: 2 },
          precpu: { totalUsage: 0 },
          memory: { usage: 1000, limit: 4000, totalInactiveFile: 200 },
          networks: { eth0: { rxBytes: 100, txBytes: 50 } },
          pids: 3
        }
      ])
    })
  )

  it.effect("fails a stats line whose field has the wrong type, naming the field", () =>
    Effect.gen(function* () {
      const line = JSON.stringify({
        read: "2026-01-01T00:00:01Z",
        cpu_stats: { cpu_usage: { total_usage: "5000" } }
      })
      const error = yield* Stream.make(new TextEncoder().encode(`${line}\n`)).pipe(
        Ndjson.lines("stats", Wire.readStats),
        Stream.runCollect,
        Effect.flip
      )
      assert.strictEqual(error.reason, "Decode")
      assert.include(error.message, 'cpu_stats.cpu_usage.total_usage: expected a number, got "5000"')
    })
  )

  it.effect(
    "drops a line longer than the cap, logs it, and goes on with the next lines, whatever the chunks",
    () =>
      Effect.gen(function* () {
        const warnings: Array<string> = []
        const capture = Logger.make((options) => {
          if (options.logLevel === "Warn") warnings.push(String(options.message))
        })
        // A progress bar redrawn with `\r` and never a newline: 100 bytes over a cap of 64.
        const text = encode(
          `{"id":1,"text":"a"}\n${"#".repeat(50)}\r${"#".repeat(50)}\n{"id":2,"text":"b"}\n`
        )
        for (let offset = 0; offset <= text.length; offset++) {
          const decoded = yield* Stream.make(text.subarray(0, offset), text.subarray(offset)).pipe(
            Ndjson.decode("test", Sample, { maxLineBytes: 64 }),
            Stream.runCollect,
            Effect.provide(Logger.layer([capture]))
          )
          assert.deepStrictEqual(
            decoded,
            [
              { id: 1, text: "a" },
              { id: 2, text: "b" }
            ],
            `split at byte ${offset}`
          )
        }
        assert.strictEqual(warnings.length, text.length + 1)
        assert.include(warnings[0], "test: dropped a line longer than 64 bytes")
      })
  )

  it.effect(
    "a line of exactly the cap is kept; an unfinished last line over the cap ends the stream quietly",
    () =>
      Effect.gen(function* () {
        const line = JSON.stringify({ id: 7, text: "x".repeat(40) })
        const decoded = yield* Stream.make(encode(`${line}\n${"y".repeat(500)}`)).pipe(
          Ndjson.decode("test", Sample, { maxLineBytes: encode(line).length }),
          Stream.runCollect
        )
        assert.deepStrictEqual(decoded, [{ id: 7, text: "x".repeat(40) }])
      })
  )

  it.effect("caps a line at 1 MiB by default", () =>
    Effect.gen(function* () {
      assert.strictEqual(Ndjson.defaultMaxLineBytes, 1024 * 1024)
      const long = encode(JSON.stringify({ id: 1, text: "z".repeat(1024 * 1024) }))
      const fits = encode(JSON.stringify({ id: 2, text: "z".repeat(1024 * 1024 - 30) }))
      const chunks = [long.subarray(0, 4096), long.subarray(4096), encode("\n"), fits, encode("\n")]
      const decoded = yield* Stream.fromIterable(chunks).pipe(
        Ndjson.decode("test", Sample),
        Stream.runCollect
      )
      assert.deepStrictEqual(
        decoded.map((value) => value.id),
        [2]
      )
    })
  )

  it("reads stats fields Docker leaves null or absent as absent", () => {
    const sample = Wire.readStats({
      read: "2026-01-01T00:00:01Z",
      networks: null,
      cpu_stats: null,
      memory_stats: { stats: null }
    })
    assert.deepStrictEqual(Result.getOrThrow(sample), {
      read: "2026-01-01T00:00:01Z",
      cpu: { totalUsage: 0 },
      precpu: { totalUsage: 0 },
      memory: {}
    })
    assert.isTrue(Result.isFailure(Wire.readStats({ read: "x", networks: { eth0: { rx_bytes: 1 } } })))
    assert.isTrue(Result.isFailure(Wire.readStats(null)))
  })

  it("tells pull error lines from progress lines", () => {
    assert.strictEqual(
      Wire.pullLineError({ errorDetail: { message: "manifest unknown" }, error: "manifest unknown" }),
      "manifest unknown"
    )
    assert.strictEqual(Wire.pullLineError({ status: "Downloading", id: "abc" }), undefined)
    assert.deepStrictEqual(
      Wire.toPullProgress({ status: "Downloading", id: "abc", progressDetail: { current: 10, total: 20 } }),
      { status: "Downloading", id: "abc", current: 10, total: 20 }
    )
  })
})
