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

const demux = (chunks: ReadonlyArray<Uint8Array>, tty = false, maxLineBytes?: number) =>
  Stream.fromIterable(chunks).pipe(
    Stream.mapAccum(() => LogFrames.initial({ tty, maxLineBytes }), LogFrames.feed, {
      onHalt: LogFrames.flush
    }),
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

  it.effect("cuts a line longer than the cap into pieces of the cap and goes on, whatever the chunks", () =>
    Effect.gen(function* () {
      // A progress bar redrawn with `\r`, never a newline, then a normal line; stderr in between.
      const bar = `${"=".repeat(5)}\r${"=".repeat(5)}`
      const framed = concat(
        LogFrames.frame("stdout", encode(bar)),
        LogFrames.frame("stderr", encode("err\n")),
        LogFrames.frame("stdout", encode("\nnext\n"))
      )
      const expected = [
        { stream: "stdout", text: "====" },
        { stream: "stdout", text: "=\r==" },
        { stream: "stderr", text: "err" },
        { stream: "stdout", text: "===" },
        { stream: "stdout", text: "next" }
      ]
      for (let offset = 0; offset <= framed.length; offset++) {
        const lines = yield* demux([framed.subarray(0, offset), framed.subarray(offset)], false, 4)
        assert.deepStrictEqual(lines, expected, `split at byte ${offset}`)
      }
      const raw = yield* demux([encode(`${bar}\nnext\n`)], true, 4)
      assert.deepStrictEqual(raw, [
        { stream: "stdout", text: "====" },
        { stream: "stdout", text: "=\r==" },
        { stream: "stdout", text: "===" },
        { stream: "stdout", text: "next" }
      ])
    })
  )

  it.effect("never cuts a UTF-8 character in two", () =>
    Effect.gen(function* () {
      // 2-byte and 3-byte characters against a cap of 5 bytes: a cut at 5 would land inside one.
      const lines = yield* demux([encode("éééé€\n")], true, 5)
      assert.deepStrictEqual(
        lines.map((line) => line.text),
        ["éé", "éé", "€"]
      )
    })
  )

  it("holds at most the cap while a huge frame without a newline arrives, and gives its pieces as they come", () => {
    const cap = 1024
    const payloadSize = 10 * 1024 * 1024
    const header = LogFrames.frame("stdout", new Uint8Array(0))
    new DataView(header.buffer).setUint32(4, payloadSize, false)
    let state = LogFrames.initial({ tty: false, maxLineBytes: cap })
    let emitted = 0
    const feed = (chunk: Uint8Array) => {
      const [next, lines] = LogFrames.feed(state, chunk)
      state = next
      for (const line of lines) {
        assert.strictEqual(line.stream, "stdout")
        assert.isAtMost(line.text.length, cap)
        emitted += line.text.length
      }
      assert.isAtMost(state.pending.length + state.stdout.length + state.stderr.length, cap + 8)
    }
    feed(header)
    const chunk = new Uint8Array(64 * 1024).fill(0x2e)
    for (let sent = 0; sent < payloadSize; sent += chunk.length) feed(chunk)
    // All but the last piece (exactly the cap: it may still be a whole line) came out already.
    assert.strictEqual(emitted, payloadSize - cap)
    assert.deepStrictEqual(
      LogFrames.flush(state).map((line) => line.text.length),
      [cap]
    )
    // The stream is still framed: the next frame is read as one.
    const [, next] = LogFrames.feed(state, LogFrames.frame("stderr", encode("done\n")))
    assert.deepStrictEqual(next, [{ stream: "stderr", text: "done" }])
  })

  it("caps a line at 1 MiB by default", () => {
    assert.strictEqual(LogFrames.defaultMaxLineBytes, 1024 * 1024)
    const [state, lines] = LogFrames.feed(
      LogFrames.initial({ tty: true }),
      new Uint8Array(3 * 1024 * 1024 + 5).fill(0x41)
    )
    assert.deepStrictEqual(
      lines.map((line) => line.text.length),
      [1024 * 1024, 1024 * 1024, 1024 * 1024]
    )
    assert.strictEqual(LogFrames.flush(state)[0]?.text.length, 5)
  })
})
