import { assert, describe, it } from "@effect/vitest"
import * as DockerError from "../src/DockerError.js"

const socketError = (code: string, message: string) => Object.assign(new Error(message), { code })

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

  it("maps every status a Docker call answers with", () => {
    const cases: ReadonlyArray<readonly [number, DockerError.DockerErrorReason]> = [
      [400, "BadRequest"],
      [401, "Unauthorized"],
      [403, "Unauthorized"],
      [404, "NotFound"],
      [409, "Conflict"],
      [500, "ServerError"],
      [502, "ServerError"],
      [503, "Unavailable"],
      [504, "Timeout"]
    ]
    for (const [statusCode, reason] of cases) {
      const error = DockerError.fromCause("op")({ statusCode, json: { message: `status ${statusCode}` } })
      assert.strictEqual(error.reason, reason, `status ${statusCode}`)
      assert.strictEqual(error.statusCode, statusCode)
      assert.strictEqual(error.message, `status ${statusCode}`)
    }
  })

  it("reads the engine's 403 for a network with containers as a Conflict", () => {
    const error = DockerError.fromCause("removeNetwork")({
      statusCode: 403,
      json: { message: "error while removing network: network n id abc has active endpoints" }
    })
    assert.strictEqual(error.reason, "Conflict")
    assert.strictEqual(error.statusCode, 403)
  })

  it("reads a swarm manager's answers for an overlay network: in use by a task is a Conflict, already gone is NotFound", () => {
    // What a manager answered here (dockerd 20.10) for DELETE /networks/<id>.
    const inUse = DockerError.fromCause("removeNetwork")({
      statusCode: 400,
      json: { message: "rpc error: code = FailedPrecondition desc = network 3xzg is in use by task 0jas" }
    })
    assert.strictEqual(inUse.reason, "Conflict")
    const gone = DockerError.fromCause("removeNetwork")({
      statusCode: 500,
      json: { message: "network 3xzgxh9e86bmsyzaanesfm935 not found" }
    })
    assert.strictEqual(gone.reason, "NotFound")
    const otherBadRequest = DockerError.fromCause("createService")({
      statusCode: 400,
      json: {
        message: "rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided"
      }
    })
    assert.strictEqual(otherBadRequest.reason, "BadRequest")
  })

  it("reads the engine's message from a raw body when it is not JSON", () => {
    const error = DockerError.fromCause("createNetwork")({
      statusCode: 409,
      json: new TextEncoder().encode("network with name x already exists\n")
    })
    assert.strictEqual(error.reason, "Conflict")
    assert.strictEqual(error.message, "network with name x already exists")
  })

  it("maps socket errors: no socket, refused and reset are Unavailable, a connect timeout is Timeout", () => {
    const toError = DockerError.fromCause("ping")
    assert.strictEqual(toError(socketError("ENOENT", "connect ENOENT /x.sock")).reason, "Unavailable")
    assert.strictEqual(toError(socketError("ECONNREFUSED", "connect ECONNREFUSED")).reason, "Unavailable")
    assert.strictEqual(toError(socketError("ECONNRESET", "socket hang up")).reason, "Unavailable")
    assert.strictEqual(toError(socketError("ETIMEDOUT", "connect timed out")).reason, "Timeout")
    assert.strictEqual(
      toError(socketError("EACCES", "connect EACCES /var/run/docker.sock")).reason,
      "Unauthorized"
    )
    assert.strictEqual(
      toError(socketError("CERT_HAS_EXPIRED", "certificate has expired")).reason,
      "Unauthorized"
    )
    assert.strictEqual(toError(new Error("something else")).reason, "ServerError")
  })

  it("names the engine's address when the connection could not be made", () => {
    const toError = DockerError.fromCause("ping", { endpoint: "unix:///nonexistent.sock" })
    const missing = toError(socketError("ENOENT", "connect ENOENT /nonexistent.sock"))
    assert.strictEqual(missing.reason, "Unavailable")
    assert.isTrue(
      missing.message.startsWith("Could not connect to Docker at unix:///nonexistent.sock: is it running?"),
      missing.message
    )
    const blackHoled = DockerError.fromCause("ping", { endpoint: "tcp://10.255.255.1:2375" })(
      socketError("ETIMEDOUT", "connect timed out after 5000 ms")
    )
    assert.strictEqual(blackHoled.reason, "Timeout")
    assert.include(blackHoled.message, "Could not connect to Docker at tcp://10.255.255.1:2375")
    // An engine that answered is not "unreachable", whatever the endpoint.
    const answered = toError({ statusCode: 500, json: { message: "boom" } })
    assert.strictEqual(answered.message, "boom")
  })

  it("maps TLS refusals to Unauthorized under the names of every Node's OpenSSL", () => {
    for (const code of [
      "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
      "ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE",
      "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
      "ERR_TLS_CERT_ALTNAME_INVALID"
    ]) {
      const error = DockerError.fromCause("ping", { endpoint: "tcp://127.0.0.1:2376" })(
        socketError(code, "alert bad certificate")
      )
      assert.strictEqual(error.reason, "Unauthorized", code)
    }
  })

  it("passes a DockerError through unchanged", () => {
    const original = new DockerError.DockerError({ reason: "Conflict", operation: "a", message: "m" })
    assert.strictEqual(DockerError.fromCause("b")(original), original)
  })
})

describe("DockerError cause", () => {
  it("keeps the socket error behind Unavailable, out of the error's fields and its JSON", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED /var/run/docker.sock"), {
      code: "ECONNREFUSED",
      address: "/var/run/docker.sock",
      syscall: "connect"
    })
    const error = DockerError.fromCause("ping", { endpoint: "unix:///var/run/docker.sock" })(refused)
    assert.strictEqual(error.reason, "Unavailable")
    assert.strictEqual(error.cause, refused)
    assert.isFalse(Object.keys(error).includes("cause"))
    const serialised = JSON.stringify(error)
    assert.include(serialised, "Could not connect to Docker")
    assert.notInclude(serialised, "syscall")
    assert.notInclude(String(error), "syscall")
  })

  it("keeps the engine's HTTP error and a decoding issue as the cause", () => {
    const answered = { statusCode: 409, json: { message: "name in use" } }
    assert.strictEqual(DockerError.fromCause("createContainer")(answered).cause, answered)
    const issue = new Error("Expected string, got null")
    assert.strictEqual(DockerError.decode("version", issue).cause, issue)
  })

  it("takes a cause from its constructor and has none unless given one", () => {
    const secret = { body: "PASSWORD=hunter2" }
    const error = new DockerError.DockerError(
      { reason: "BadRequest", operation: "connect", message: "bad host" },
      { cause: secret }
    )
    assert.strictEqual(error.cause, secret)
    assert.notInclude(JSON.stringify(error), "hunter2")
    assert.strictEqual(error.message, "bad host")
    const plain = new DockerError.DockerError({ reason: "Conflict", operation: "a", message: "m" })
    assert.isUndefined(plain.cause)
  })
})
