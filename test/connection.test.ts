import * as Util from "node:util"
import { assert, describe, it } from "@effect/vitest"
import * as Connection from "../src/internal/connection.js"

describe("DOCKER_HOST parsing", () => {
  it("reads unix sockets, tcp with and without TLS, and ssh", () => {
    const plain = { tls: false }
    assert.deepStrictEqual(Connection.parseHost("unix:///var/run/docker.sock", plain), {
      _tag: "Unix",
      socketPath: "/var/run/docker.sock"
    })
    assert.deepStrictEqual(Connection.parseHost("/run/user/1000/docker.sock", plain), {
      _tag: "Unix",
      socketPath: "/run/user/1000/docker.sock"
    })
    assert.deepStrictEqual(Connection.parseHost("tcp://127.0.0.1:2375", plain), {
      _tag: "Tcp",
      host: "127.0.0.1",
      port: 2375,
      tls: false
    })
    assert.deepStrictEqual(Connection.parseHost("tcp://docker.example:2376", { tls: true }), {
      _tag: "Tcp",
      host: "docker.example",
      port: 2376,
      tls: true
    })
    assert.deepStrictEqual(Connection.parseHost("localhost:1234", plain), {
      _tag: "Tcp",
      host: "localhost",
      port: 1234,
      tls: false
    })
    assert.deepStrictEqual(Connection.parseHost("ssh://me@builder", plain), {
      _tag: "Ssh",
      host: "builder",
      port: 22,
      username: "me"
    })
    assert.strictEqual(Connection.parseHost("unix://", plain), undefined)
    assert.strictEqual(Connection.parseHost("ftp://x", plain), undefined)
  })

  it("looks for the local socket where Docker, rootless Docker and Docker Desktop put it, in order", () => {
    assert.deepStrictEqual(
      Connection.socketCandidates({ xdgRuntimeDir: "/run/user/1000", home: "/home/me" }),
      [
        "/var/run/docker.sock",
        "/run/user/1000/docker.sock",
        "/home/me/.docker/run/docker.sock",
        "/home/me/.docker/desktop/docker.sock"
      ]
    )
    assert.strictEqual(Connection.describe({ _tag: "Tcp", host: "h", port: 2376, tls: true }), "tcp://h:2376")
  })
})

describe("the connect-deadline agent", () => {
  it("inspects as its name: docker-modem inspects every request's options, agent and open sockets included", () => {
    const agent = Connection.makeAgent({ secure: false, connectTimeoutMs: 1000 })
    assert.strictEqual(
      Util.inspect({ agent }, { showHidden: true, depth: null }),
      "{ agent: HttpConnectDeadlineAgent }"
    )
    agent.destroy()
  })
})
