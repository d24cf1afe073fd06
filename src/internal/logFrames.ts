/**
 * Container output as the engine sends it. Without a TTY the stdout and stderr bytes are
 * multiplexed in frames: an 8-byte header (stream type 0/1/2, three zero bytes, a 4-byte
 * big-endian payload size) then the payload. One frame can hold several lines and a line
 * can span frames (and chunks), so each stream keeps its own partial line. With a TTY the
 * bytes are raw stdout.
 *
 * Pure functions over an immutable state, for `Stream.mapAccum`.
 *
 * @internal
 */

export type OutputStream = "stdout" | "stderr"

/** One complete line of one stream, without its line ending. */
export interface RawLine {
  readonly stream: OutputStream
  readonly text: string
}

export interface DemuxState {
  /** Raw (TTY, or a stream found not to be framed): every byte is stdout. */
  readonly raw: boolean
  /** Bytes of a frame not yet complete. */
  readonly pending: Uint8Array
  /** The unfinished last line of each stream. */
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
}

const empty = new Uint8Array(0)
const HEADER = 8
const NEWLINE = 0x0a
const decoder = new TextDecoder()

export const initial = (options: { readonly tty: boolean }): DemuxState => ({
  raw: options.tty,
  pending: empty,
  stdout: empty,
  stderr: empty
})

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  if (b.length === 0) return a
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a, 0)
  joined.set(b, a.length)
  return joined
}

const toText = (bytes: Uint8Array): string => {
  const text = decoder.decode(bytes)
  return text.endsWith("\r") ? text.slice(0, -1) : text
}

/** Splits complete lines off `bytes` (newline bytes never occur inside a UTF-8 character). */
const takeLines = (stream: OutputStream, bytes: Uint8Array, out: Array<RawLine>): Uint8Array => {
  let start = 0
  let newline = bytes.indexOf(NEWLINE, start)
  while (newline !== -1) {
    out.push({ stream, text: toText(bytes.subarray(start, newline)) })
    start = newline + 1
    newline = bytes.indexOf(NEWLINE, start)
  }
  return start === 0 ? bytes : bytes.slice(start)
}

/** Feeds one chunk; returns the new state and the lines it completed, in order. */
export const feed = (state: DemuxState, chunk: Uint8Array): readonly [DemuxState, ReadonlyArray<RawLine>] => {
  const lines: Array<RawLine> = []
  if (state.raw) {
    const stdout = takeLines("stdout", concat(state.stdout, chunk), lines)
    return [{ ...state, stdout }, lines]
  }
  let buffer = concat(state.pending, chunk)
  let stdout = state.stdout
  let stderr = state.stderr
  let offset = 0
  while (buffer.length - offset >= HEADER) {
    const type = buffer[offset]!
    if (type > 2 || buffer[offset + 1] !== 0 || buffer[offset + 2] !== 0 || buffer[offset + 3] !== 0) {
      // Not a frame header: this output is not multiplexed after all; the rest is raw stdout.
      const rest = buffer.subarray(offset)
      const [rawState, rawLines] = feed({ raw: true, pending: empty, stdout, stderr }, rest)
      return [rawState, [...lines, ...rawLines]]
    }
    const size =
      ((buffer[offset + 4]! << 24) |
        (buffer[offset + 5]! << 16) |
        (buffer[offset + 6]! << 8) |
        buffer[offset + 7]!) >>>
      0
    if (buffer.length - offset < HEADER + size) break
    const payload = buffer.subarray(offset + HEADER, offset + HEADER + size)
    if (type === 2) stderr = takeLines("stderr", concat(stderr, payload), lines)
    else stdout = takeLines("stdout", concat(stdout, payload), lines)
    offset += HEADER + size
  }
  buffer = offset === 0 ? buffer : buffer.slice(offset)
  return [{ raw: false, pending: buffer, stdout, stderr }, lines]
}

/** At the end of the output: the unfinished last lines (output that did not end with a newline). */
export const flush = (state: DemuxState): ReadonlyArray<RawLine> => [
  ...(state.stdout.length > 0 ? [{ stream: "stdout" as const, text: toText(state.stdout) }] : []),
  ...(state.stderr.length > 0 ? [{ stream: "stderr" as const, text: toText(state.stderr) }] : [])
]

/** Encodes one frame (for tests and for engines that produce framed output). */
export const frame = (stream: OutputStream | "stdin", payload: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(HEADER + payload.length)
  bytes[0] = stream === "stdin" ? 0 : stream === "stdout" ? 1 : 2
  new DataView(bytes.buffer).setUint32(4, payload.length, false)
  bytes.set(payload, HEADER)
  return bytes
}
