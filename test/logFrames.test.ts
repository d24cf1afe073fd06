import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as LogFrames from "../src/internal/logFrames.js"

const encode = (text: string) => new TextEncoder().encode(text)
const concat = (...parts: ReadonlyArray<Uint8Array>) => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const demux = (chunks: ReadonlyArray<Uint8Array>, tty = false) =>
  Stream.fromIterable(chunks).pipe(
    Stream.mapAccum(() => LogFrames.initial({ tty }), LogFrames.feed, { onHalt: LogFrames.flush }),
    Stream.runCollect
  )

describe("log frame demultiplexing", () => {
  const framed = concat(
    LogFrames.frame("stdout", encode("one\ntwo\nthr")),
    LogFrames.frame("stderr", encode("oops: ✗\n")),
    LogFrames.frame("stdout", encode("ee\nfour")),
    LogFrames.frame("stderr", encode("again\n")),
    LogFrames.frame("stdout", encode("\n"))
  )
  const expected = [
    { stream: "stdout", text: "one" },
    { stream: "stdout", text: "two" },
    { stream: "stderr", text: "oops: ✗" },
    { stream: "stdout", text: "three" },
    { stream: "stderr", text: "again" },
    { stream: "stdout", text: "four" }
  ]

  it.effect("splits several lines per frame and joins a line across frames, per stream", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* demux([framed]), expected)
    })
  )

  it.effect("gives the same lines whatever byte offset the chunks are split at (headers included)", () =>
    Effect.gen(function* () {
      for (let offset = 0; offset <= framed.length; offset++) {
        const lines = yield* demux([framed.subarray(0, offset), framed.subarray(offset)])
        assert.deepStrictEqual(lines, expected, `split at byte ${offset}`)
      }
      assert.deepStrictEqual(yield* demux(Array.from(framed, (byte) => Uint8Array.of(byte))), expected)
    })
  )

  it.effect("keeps a last line without a newline", () =>
    Effect.gen(function* () {
      const lines = yield* demux([
        LogFrames.frame("stdout", encode("a\nno newline")),
        LogFrames.frame("stderr", encode("e"))
      ])
      assert.deepStrictEqual(lines, [
        { stream: "stdout", text: "a" },
        { stream: "stdout", text: "no newline" },
        { stream: "stderr", text: "e" }
      ])
    })
  )

  it.effect("reads TTY output as raw stdout, with CRLF line endings", () =>
    Effect.gen(function* () {
      const lines = yield* demux([encode("hello\r\nwor"), encode("ld\r\n")], true)
      assert.deepStrictEqual(lines, [
        { stream: "stdout", text: "hello" },
        { stream: "stdout", text: "world" }
      ])
    })
  )

  it.effect("falls back to raw stdout when the bytes are not frames", () =>
    Effect.gen(function* () {
      const lines = yield* demux([encode("plain text that is not framed\nsecond\n")])
      assert.deepStrictEqual(lines, [
        { stream: "stdout", text: "plain text that is not framed" },
        { stream: "stdout", text: "second" }
      ])
    })
  )
})
