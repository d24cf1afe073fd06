import { describe, expect, it } from "vitest"
import { unixNanos } from "../src/internal/engine/transport.js"

// The engine reads `since` as "seconds.nanoseconds": the fraction is nine digits, zero-padded,
// or an event in the first ms of a second would be read as ~0.1 s later and lost on resume.
describe("unixNanos", () => {
  it("renders the fraction as nine zero-padded digits", () => {
    expect(unixNanos(1_733_000_000_000_000_042n)).toBe("1733000000.000000042")
    expect(unixNanos(1_733_000_000_123_456_789n)).toBe("1733000000.123456789")
    expect(unixNanos(5_000_000_000n)).toBe("5.000000000")
  })

  it("keeps nanoseconds a double would round away", () => {
    const exact = 1_764_680_000_987_654_321n
    expect(Number(exact).toString()).not.toBe(exact.toString())
    expect(unixNanos(exact)).toBe("1764680000.987654321")
  })

  it("clamps a negative time to the epoch", () => {
    expect(unixNanos(-1n)).toBe("0.000000000")
  })
})
