/**
 * The spec fields that say how a container is reached and what it mounts: what is refused
 * (naming the field) and what the engine is asked for.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ContainerSpec from "../src/ContainerSpec.js"
import * as Wire from "../src/internal/wire.js"
import * as RestartPolicy from "../src/RestartPolicy.js"

const base = { name: "web", image: "busybox:latest" } as const

/** The refused field and message of a spec given as plain data. */
const refusal = (input: unknown) =>
  ContainerSpec.validateUnknown(input).pipe(
    Effect.flip,
    Effect.map((error) => ({ tag: error._tag, field: error.field, message: error.message }))
  )

const createBody = (input: ContainerSpec.Input) =>
  ContainerSpec.validate(input).pipe(
    Effect.map((spec) =>
      Wire.toCreateBody(
        ContainerSpec.toCreateOptions(spec, {
          name: "demo-1-web",
          labels: { "dev.effect-docker.app": "demo" },
          network: "demo-1",
          volumeName: (source, scope) => `${scope}:${source}`
        })
      )
    )
  )

describe("ContainerSpec: reach fields", () => {
  it.effect("an unknown key is refused by name, at the top and nested", () =>
    Effect.gen(function* () {
      const top = yield* refusal({ ...base, restart: "always" })
      assert.strictEqual(top.tag, "InvalidSpec")
      assert.strictEqual(top.field, "restart")
      assert.include(top.message, "unknown key")
      const nested = yield* refusal({ ...base, ports: [{ container: 80, hostPort: 8080 }] })
      assert.strictEqual(nested.field, "ports[0].hostPort")
    })
  )

  it.effect("ports must be between 1 and 65535; the host IP must be an address", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* refusal({ ...base, ports: [{ container: 0 }] }), {
        tag: "InvalidSpec",
        field: "ports[0].container",
        message: "the port must be between 1 and 65535"
      })
      assert.strictEqual(
        (yield* refusal({ ...base, ports: [{ container: 80, host: 70000 }] })).field,
        "ports[0].host"
      )
      assert.strictEqual(
        (yield* refusal({ ...base, ports: [{ container: 80, hostIp: "localhost" }] })).field,
        "ports[0].hostIp"
      )
      assert.strictEqual(
        (yield* refusal({ ...base, ports: [{ container: 80, protocol: "sctp" }] })).field,
        "ports[0].protocol"
      )
    })
  )

  it.effect("a bind's host path must be absolute and exist, checked before any call", () =>
    Effect.gen(function* () {
      const relative = yield* refusal({
        ...base,
        mounts: [{ type: "bind", source: "data", target: "/data" }]
      })
      assert.deepStrictEqual(relative, {
        tag: "InvalidSpec",
        field: "mounts[0].source",
        message: "the host path must be absolute"
      })
      const missing = yield* refusal({
        ...base,
        mounts: [{ type: "bind", source: "/nonexistent/effect-docker/path", target: "/data" }]
      })
      assert.deepStrictEqual(missing, {
        tag: "InvalidSpec",
        field: "mounts[0].source",
        message: "the host path does not exist"
      })
    })
  )

  it.effect("mount targets are absolute, once each; an anonymous volume has no scope", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        (yield* refusal({ ...base, mounts: [{ type: "tmpfs", target: "tmp" }] })).field,
        "mounts[0].target"
      )
      const twice = yield* refusal({
        ...base,
        mounts: [
          { type: "tmpfs", target: "/scratch" },
          { type: "volume", source: "data", target: "/scratch/" }
        ]
      })
      assert.strictEqual(twice.field, "mounts[1].target")
      assert.strictEqual(
        (yield* refusal({ ...base, mounts: [{ type: "volume", target: "/data", scope: "app" }] })).field,
        "mounts[0].scope"
      )
    })
  )

  it.effect(
    "volumeOptions: only on a named volume the supervisor creates, one set per volume, no reserved labels",
    () =>
      Effect.gen(function* () {
        const labelled = (labels: Record<string, string>) => ({
          ...base,
          mounts: [
            { type: "volume", source: "data", target: "/data", scope: "app", volumeOptions: { labels } }
          ]
        })
        const reserved = yield* refusal(labelled({ "dev.effect-docker.app": "x" }))
        assert.strictEqual(reserved.field, "mounts[0].volumeOptions.labels.dev.effect-docker.app")
        assert.include(reserved.message, "belongs to effect-docker")
        // A custom supervisor prefix is reserved too.
        const custom = yield* ContainerSpec.validateUnknown(labelled({ "acme.team": "x" }), {
          labelPrefix: "acme."
        }).pipe(Effect.flip)
        assert.strictEqual(custom.field, "mounts[0].volumeOptions.labels.acme.team")
        assert.strictEqual(
          (yield* refusal({
            ...base,
            mounts: [{ type: "volume", target: "/data", volumeOptions: { driver: "local" } }]
          })).field,
          "mounts[0].volumeOptions"
        )
        const external = yield* refusal({
          ...base,
          mounts: [{ type: "volume", source: "x", target: "/data", scope: "external", volumeOptions: {} }]
        })
        assert.strictEqual(external.field, "mounts[0].volumeOptions")
        assert.include(external.message, "external")
        const twice = yield* refusal({
          ...base,
          mounts: [
            { type: "volume", source: "data", target: "/a", volumeOptions: { labels: { team: "a" } } },
            { type: "volume", source: "data", target: "/b", volumeOptions: { labels: { team: "b" } } }
          ]
        })
        assert.strictEqual(twice.field, "mounts[1].volumeOptions")
        assert.strictEqual(
          (yield* refusal({
            ...base,
            mounts: [{ type: "volume", source: "data", target: "/a", volumeOptions: { colour: "red" } }]
          })).field,
          "mounts[0].volumeOptions.colour"
        )
        // The same options in another key order are one set.
        const spec = yield* ContainerSpec.validate({
          ...base,
          mounts: [
            { type: "volume", source: "data", target: "/a", volumeOptions: { labels: { a: "1", b: "2" } } },
            { type: "volume", source: "data", target: "/b", volumeOptions: { labels: { b: "2", a: "1" } } }
          ]
        })
        assert.strictEqual(spec.mounts?.length, 2)
      })
  )

  it.effect("privileged is refused unless asked for by name", () =>
    Effect.gen(function* () {
      const refused = yield* refusal({ ...base, privileged: true })
      assert.strictEqual(refused.field, "privileged")
      assert.include(refused.message, `"${ContainerSpec.privilegedConsent}"`)
      const body = yield* createBody({ ...base, privileged: "yes-i-know" })
      assert.strictEqual((body.HostConfig as Record<string, unknown>).Privileged, true)
    })
  )

  it.effect("engineOptions may not break the supervisor's guarantees", () =>
    Effect.gen(function* () {
      const labels = yield* refusal({
        ...base,
        engineOptions: { Labels: { "dev.effect-docker.app": "other" } }
      })
      assert.strictEqual(labels.field, "engineOptions.Labels.dev.effect-docker.app")
      const network = yield* refusal({ ...base, engineOptions: { HostConfig: { NetworkMode: "host" } } })
      assert.strictEqual(network.field, "engineOptions.HostConfig.NetworkMode")
      const endpoints = yield* refusal({ ...base, engineOptions: { NetworkingConfig: {} } })
      assert.strictEqual(endpoints.field, "engineOptions.NetworkingConfig")
      const autoRemove = yield* refusal({ ...base, engineOptions: { HostConfig: { AutoRemove: true } } })
      assert.strictEqual(autoRemove.field, "engineOptions.HostConfig.AutoRemove")
      const restart = yield* ContainerSpec.validate({
        ...base,
        restartPolicy: RestartPolicy.always(),
        engineOptions: { HostConfig: { RestartPolicy: { Name: "always" } } }
      }).pipe(Effect.flip)
      assert.strictEqual(restart.field, "engineOptions.HostConfig.RestartPolicy")
    })
  )

  it.effect("every field reaches the engine's create body; engineOptions merge last", () =>
    Effect.gen(function* () {
      const hostDir = mkdtempSync(join(tmpdir(), "effect-docker-spec-"))
      try {
        const body = yield* createBody({
          ...base,
          ports: [{ container: 80 }, { container: 53, protocol: "udp", host: 5353, hostIp: "127.0.0.1" }],
          exposedPorts: [{ container: 9000 }],
          mounts: [
            { type: "bind", source: hostDir, target: "/config", readOnly: true },
            { type: "volume", source: "data", target: "/data" },
            { type: "volume", source: "cache", target: "/cache", scope: "app" },
            { type: "volume", target: "/anon" },
            { type: "tmpfs", target: "/scratch", sizeBytes: 1 << 20, mode: 0o700 }
          ],
          user: "1000:1000",
          workingDir: "/srv",
          hostname: "web-1",
          extraHosts: { "db.local": "10.0.0.2", gateway: "host-gateway" },
          capAdd: ["NET_ADMIN"],
          capDrop: ["ALL"],
          init: true,
          readOnlyRootFs: true,
          shmSize: 64 << 20,
          tty: true,
          engineOptions: {
            Domainname: "example.org",
            HostConfig: { Ulimits: [{ Name: "nofile", Soft: 1, Hard: 2 }] }
          }
        })
        const host = body.HostConfig as Record<string, unknown>
        assert.deepStrictEqual(body.ExposedPorts, { "80/tcp": {}, "53/udp": {}, "9000/tcp": {} })
        assert.deepStrictEqual(host.PortBindings, {
          "80/tcp": [{ HostIp: "", HostPort: "" }],
          "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }]
        })
        assert.deepStrictEqual(host.Mounts, [
          { Type: "bind", Source: hostDir, Target: "/config", ReadOnly: true },
          { Type: "volume", Source: "instance:data", Target: "/data", ReadOnly: false },
          { Type: "volume", Source: "app:cache", Target: "/cache", ReadOnly: false },
          { Type: "volume", Source: "", Target: "/anon", ReadOnly: false },
          {
            Type: "tmpfs",
            Target: "/scratch",
            ReadOnly: false,
            TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o700 }
          }
        ])
        assert.strictEqual(body.User, "1000:1000")
        assert.strictEqual(body.WorkingDir, "/srv")
        assert.strictEqual(body.Hostname, "web-1")
        assert.strictEqual(body.Tty, true)
        assert.deepStrictEqual(host.ExtraHosts, ["db.local:10.0.0.2", "gateway:host-gateway"])
        assert.deepStrictEqual(host.CapAdd, ["NET_ADMIN"])
        assert.deepStrictEqual(host.CapDrop, ["ALL"])
        assert.strictEqual(host.Init, true)
        assert.strictEqual(host.ReadonlyRootfs, true)
        assert.strictEqual(host.ShmSize, 64 << 20)
        assert.strictEqual(host.Privileged, undefined)
        // Merged last, beside (not instead of) what the spec set.
        assert.strictEqual(body.Domainname, "example.org")
        assert.deepStrictEqual(host.Ulimits, [{ Name: "nofile", Soft: 1, Hard: 2 }])
        assert.strictEqual(host.NetworkMode, "demo-1")
        assert.deepStrictEqual(body.Labels, { "dev.effect-docker.app": "demo" })
      } finally {
        rmSync(hostDir, { recursive: true, force: true })
      }
    })
  )
})
