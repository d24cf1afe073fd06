import { assert, describe, it } from "@effect/vitest"
import * as Sanitize from "../src/internal/sanitize.js"

describe("Sanitize", () => {
  it("redacts credentials in URLs", () => {
    assert.strictEqual(
      Sanitize.defaultSanitizer("connecting to postgres://app:hunter2@db:5432/app"),
      "connecting to postgres://app:<redacted>@db:5432/app"
    )
    assert.strictEqual(
      Sanitize.defaultSanitizer("see https://example.com/a:b"),
      "see https://example.com/a:b"
    )
  })

  it("redacts token-like values and keeps the rest of the line", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["password=hunter2 user=bob", "password=<redacted> user=bob"],
      ['{"api_key": "abcd1234", "n": 1}', '{"api_key": "<redacted>", "n": 1}'],
      ["DB_PASSWORD: s3cret", "DB_PASSWORD: <redacted>"],
      ["Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "Authorization: Bearer <redacted>"],
      ["token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token <redacted>"],
      ["key AKIAABCDEFGHIJKLMNOP used", "key <redacted> used"],
      ["listening on :8080", "listening on :8080"]
    ]
    for (const [line, expected] of cases) assert.strictEqual(Sanitize.defaultSanitizer(line), expected, line)
  })

  it("drops terminal control sequences", () => {
    assert.strictEqual(Sanitize.defaultSanitizer("\u001b[31mred\u001b[0m\tdone\r"), "red\tdone")
  })

  it("masks given secret values, longest first, and ignores empty ones", () => {
    const mask = Sanitize.redactValues(["abc", "abcdef", ""])
    assert.strictEqual(mask("x abcdef y abc z"), "x <redacted> y <redacted> z")
  })

  it("masks secrets after a user sanitizer, and falls back to the default when it throws", () => {
    const moving = Sanitize.make({ sanitizer: (line) => `[app] ${line}`, secrets: ["s3cret"] })
    assert.strictEqual(moving("value s3cret"), "[app] value <redacted>")
    const throwing = Sanitize.make({
      sanitizer: () => {
        throw new Error("bug")
      },
      secrets: ["s3cret"]
    })
    assert.strictEqual(throwing("s3cret token=abc"), "<redacted> token=<redacted>")
    // A user sanitizer replaces the default one.
    assert.strictEqual(Sanitize.make({ sanitizer: (line) => line })("password=x"), "password=x")
    assert.strictEqual(Sanitize.make({})("password=x"), "password=<redacted>")
  })
})
