import { assert, describe, it } from "@effect/vitest"
import * as DockerError from "../src/DockerError.js"

describe("DockerError.fromCause", () => {
  it("maps engine statuses to reasons and keeps the engine's message", () => {
    const error = DockerError.fromCause("inspectContainer")({
      statusCode: 404,
      json: { message: "No such container: nope" }
    })
    assert.strictEqual(error.reason, "NotFound")
    assert.strictEqual(error.statusCode, 404)
    assert.strictEqual(error.operation, "inspectContainer")
    assert.strictEqual(error.message, "No such container: nope")
  })
})
