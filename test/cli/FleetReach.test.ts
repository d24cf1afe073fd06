/**
 * The Compose keys that reach a service and keep its data: `ports`, `expose`, `volumes` (service
 * and top level), `tmpfs`, and the process and host keys (`user`, `working_dir`, ...), read
 * into spec fields, each malformed form reported at its line.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as ContainerSpec from "../../src/ContainerSpec.js"
import * as Fleet from "../../src/cli/Fleet.js"
import * as Spec from "../../src/cli/spec.js"

const parse = (source: string) => Fleet.parse(source, { file: "demo.yaml", dir: "/project", env: {} })

const ok = (source: string): Fleet.Fleet => {
  const result = parse(source)
  if (Result.isFailure(result)) assert.fail(`expected a fleet, got:\n${result.failure.message}`)
  return result.success
}

const problems = (source: string): ReadonlyArray<string> => {
  const result = parse(source)
  if (Result.isSuccess(result)) assert.fail("expected problems, the file parsed")
  return result.failure.message.split("\n")
}

const web = (fleet: Fleet.Fleet): Fleet.Service => {
  const found = fleet.services.find((s) => s.name === "web")
  if (found === undefined) assert.fail("no service web")
  return found
}

const withService = (...lines: ReadonlyArray<string>) =>
  ["services:", "  web:", "    image: nginx", ...lines].join("\n")

describe("ports", () => {
  it("reads the short forms, ranges and the long form", () => {
    const fleet = ok(
      withService(
        "    ports:",
        '      - "8080:80"',
        '      - "127.0.0.1:5353:53/udp"',
        "      - 9000",
        '      - "8000-8001:7000-7001"',
        '      - "[::1]:6000:6000"',
        "      - target: 443",
        "        published: 8443",
        "        host_ip: 0.0.0.0",
        "        protocol: tcp",
        "        mode: host"
      )
    )
    assert.deepStrictEqual(web(fleet).ports, [
      { container: 80, protocol: "tcp", host: 8080 },
      { container: 53, protocol: "udp", host: 5353, hostIp: "127.0.0.1" },
      { container: 9000, protocol: "tcp" },
      { container: 7000, protocol: "tcp", host: 8000 },
      { container: 7001, protocol: "tcp", host: 8001 },
      { container: 6000, protocol: "tcp", host: 6000, hostIp: "::1" },
      { container: 443, protocol: "tcp", host: 8443, hostIp: "0.0.0.0" }
    ])
  })

  it("reports each malformed entry at its line", () => {
    assert.deepStrictEqual(
      problems(
        withService(
          "    ports:",
          '      - "80:70000"',
          '      - "8000-8002:80-81"',
          '      - "80/sctp"',
          '      - "a:b:c:d"',
          '      - "9000-9001:80"',
          "      - published: 8080",
          "      - target: 80",
          "        app_protocol: http",
          "    expose:",
          '      - "3000-2000"'
        )
      ),
      [
        "demo.yaml:5: services.web.ports[0]: 70000: a port is between 1 and 65535",
        "demo.yaml:6: services.web.ports[1]: 8000-8002 and 80-81 are ranges of different lengths",
        'demo.yaml:7: services.web.ports[2]: unsupported protocol "sctp" (tcp or udp)',
        'demo.yaml:8: services.web.ports[3]: "a:b:c:d" is not [HOST_IP:][HOST:]CONTAINER[/PROTOCOL]',
        "demo.yaml:9: services.web.ports[4]: unsupported: a host range for one container port (9000-9001) asks for any free port in it; give one host port, or none for a free one",
        'demo.yaml:10: services.web.ports[5]: missing required key "target"',
        "demo.yaml:12: services.web.ports[6].app_protocol: unsupported key (supported here: target, published, host_ip, protocol, mode, name)",
        "demo.yaml:14: services.web.expose[0]: 3000-2000: the range ends before it starts"
      ]
    )
  })

  it("reads expose, a port or a range with its protocol", () => {
    const fleet = ok(withService("    expose:", '      - "3000"', "      - 4000", '      - "5000-5001/udp"'))
    assert.deepStrictEqual(web(fleet).exposedPorts, [
      { container: 3000, protocol: "tcp" },
      { container: 4000, protocol: "tcp" },
      { container: 5000, protocol: "udp" },
      { container: 5001, protocol: "udp" }
    ])
  })

  it("a bad host IP is reported at the ports key by the spec's validation", () =>
    Effect.gen(function* () {
      const fleet = ok(withService("    ports:", '      - "300.1.1.1:80:80"'))
      const error = yield* Spec.validateAll(fleet).pipe(Effect.flip)
      assert.match(error.message, /^demo\.yaml:5: services\.web\.ports: not an IP address/)
    }).pipe(Effect.runPromise))
})

describe("volumes", () => {
  it("maps named, external, bind, anonymous and tmpfs mounts", () => {
    const fleet = ok(
      [
        "services:",
        "  web:",
        "    image: nginx",
        "    volumes:",
        "      - data:/var/lib/data",
        "      - shared:/shared:ro",
        "      - ./site:/usr/share/nginx/html:ro",
        "      - /etc/hosts:/host-hosts",
        "      - /cache",
        "      - type: volume",
        "        source: data",
        "        target: /again",
        "        read_only: true",
        "        volume:",
        "          nocopy: true",
        "      - type: tmpfs",
        "        target: /scratch",
        "        tmpfs:",
        "          size: 64m",
        "      - type: bind",
        "        source: ../conf",
        "        target: /conf",
        "    tmpfs:",
        "      - /run:size=1m,mode=1777",
        "volumes:",
        "  data:",
        "  shared:",
        "    external: true",
        "    name: team-shared"
      ].join("\n")
    )
    assert.deepStrictEqual(web(fleet).mounts, [
      { type: "volume", source: "data", target: "/var/lib/data", scope: "app" },
      { type: "volume", source: "team-shared", target: "/shared", scope: "external", readOnly: true },
      { type: "bind", source: "/project/site", target: "/usr/share/nginx/html", readOnly: true },
      { type: "bind", source: "/etc/hosts", target: "/host-hosts" },
      { type: "volume", target: "/cache" },
      { type: "volume", source: "data", target: "/again", scope: "app", readOnly: true },
      { type: "tmpfs", target: "/scratch", sizeBytes: 64 * 1024 * 1024 },
      { type: "bind", source: "/conf", target: "/conf" },
      { type: "tmpfs", target: "/run", sizeBytes: 1024 * 1024, mode: 0o1777 }
    ])
  })

  it("reports each malformed form at its line", () => {
    assert.deepStrictEqual(
      problems(
        [
          "services:",
          "  web:",
          "    image: nginx",
          "    volumes:",
          "      - missing:/data",
          "      - data:relative",
          "      - data:/x:z",
          "      - type: npipe",
          "        target: /p",
          "      - type: bind",
          "        target: /b",
          "      - type: volume",
          "        source: data",
          "        target: /t",
          "        tmpfs:",
          "          size: lots",
          "    tmpfs: /run:noexec",
          "volumes:",
          "  data:",
          "  ext:",
          "    external: true",
          "    driver: local",
          "  named:",
          "    name: custom",
          "  labelled:",
          "    labels:",
          "      dev.effect-docker.app: x"
        ].join("\n")
      ),
      [
        'demo.yaml:5: services.web.volumes[0]: undefined volume "missing" (declare it under the top-level volumes)',
        'demo.yaml:6: services.web.volumes[1]: the target must be an absolute path in the container, got "relative"',
        'demo.yaml:7: services.web.volumes[2]: unsupported mode "z" (ro or rw)',
        'demo.yaml:8: services.web.volumes[3].type: unsupported type "npipe" (volume, bind or tmpfs)',
        "demo.yaml:10: services.web.volumes[4].source: a bind mount needs a source",
        'demo.yaml:16: services.web.volumes[5].tmpfs.size: expected a size like 64m or 1g, got "lots"',
        'demo.yaml:17: services.web.tmpfs: unsupported tmpfs option "noexec" (size=64m, mode=1777)',
        "demo.yaml:22: volumes.ext.driver: an external volume is used as it is: labels, driver and driver_opts apply only to a volume effect-docker creates",
        "demo.yaml:24: volumes.named.name: unsupported: a volume's own name (effect-docker names an app's volume <app>_<volume>); with external: true it names an existing volume",
        'demo.yaml:27: volumes.labelled.labels["dev.effect-docker.app"]: the label prefix dev.effect-docker. belongs to effect-docker'
      ]
    )
  })

  it("a top-level volume's labels, driver and driver_opts reach every mount of it", () => {
    const fleet = ok(
      withService(
        "    volumes:",
        "      - data:/data",
        "      - type: volume",
        "        source: data",
        "        target: /again",
        "volumes:",
        "  data:",
        "    labels:",
        "      - com.example.team=db",
        "    driver: local",
        "    driver_opts:",
        "      type: tmpfs",
        "      device: tmpfs",
        "  plain:"
      )
    )
    const volumeOptions = {
      labels: { "com.example.team": "db" },
      driver: "local",
      driverOptions: { type: "tmpfs", device: "tmpfs" }
    }
    assert.deepStrictEqual(web(fleet).mounts, [
      { type: "volume", source: "data", target: "/data", scope: "app", volumeOptions },
      { type: "volume", source: "data", target: "/again", scope: "app", volumeOptions }
    ])
  })

  it("a later file's mount on the same target replaces the earlier one", () => {
    const result = Fleet.parseFiles(
      [
        { file: "a.yaml", source: withService("    volumes:", "      - data:/data", "volumes:", "  data:") },
        { file: "b.yaml", source: ["services:", "  web:", "    volumes:", "      - /srv:/data"].join("\n") }
      ],
      { dir: "/project", env: {} }
    )
    if (Result.isFailure(result)) assert.fail(result.failure.message)
    assert.deepStrictEqual(web(result.success).mounts, [{ type: "bind", source: "/srv", target: "/data" }])
  })
})

describe("process and host keys", () => {
  it("reach the spec under their spec names", () =>
    Effect.gen(function* () {
      const fleet = ok(
        withService(
          "    user: 1000:1000",
          "    working_dir: /app",
          "    hostname: web-1",
          "    extra_hosts:",
          '      - "db.local=10.0.0.2"',
          '      - "gw:host-gateway"',
          "    cap_add: [NET_ADMIN]",
          "    cap_drop: [ALL]",
          "    init: true",
          "    read_only: true",
          "    shm_size: 128m",
          "    tty: true",
          "    platform: linux/amd64",
          "    ports:",
          '      - "8080:80"'
        )
      )
      const input = Spec.toSpecInput(web(fleet))
      const spec = yield* ContainerSpec.validate(input)
      assert.strictEqual(spec.user, "1000:1000")
      assert.strictEqual(spec.workingDir, "/app")
      assert.strictEqual(spec.hostname, "web-1")
      assert.deepStrictEqual(spec.extraHosts, { "db.local": "10.0.0.2", gw: "host-gateway" })
      assert.deepStrictEqual(spec.capAdd, ["NET_ADMIN"])
      assert.deepStrictEqual(spec.capDrop, ["ALL"])
      assert.strictEqual(spec.init, true)
      assert.strictEqual(spec.readOnlyRootFs, true)
      assert.strictEqual(spec.shmSize, 128 * 1024 * 1024)
      assert.strictEqual(spec.tty, true)
      assert.strictEqual(spec.platform, "linux/amd64")
      assert.deepStrictEqual(spec.ports, [{ container: 80, protocol: "tcp", host: 8080 }])
    }).pipe(Effect.runPromise))

  it("reports malformed values at their line, from the reader or the spec", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(
        problems(
          withService(
            "    working_dir: app",
            "    init: maybe",
            "    shm_size: big",
            "    extra_hosts:",
            "      - nohost",
            "    cap_add: NET_ADMIN"
          )
        ),
        [
          'demo.yaml:4: services.web.working_dir: expected an absolute path in the container, got "app"',
          'demo.yaml:5: services.web.init: expected true or false, got "maybe"',
          'demo.yaml:6: services.web.shm_size: expected a size like 64m or 1g, got "big"',
          'demo.yaml:8: services.web.extra_hosts[0]: expected host=ip, got "nohost"',
          'demo.yaml:9: services.web.cap_add: expected a list of strings, got "NET_ADMIN"'
        ]
      )
      const fleet = ok(withService("    init: true", "    platform: Linux"))
      const error = yield* Spec.validateAll(fleet).pipe(Effect.flip)
      assert.strictEqual(
        error.message,
        "demo.yaml:5: services.web.platform: not a platform (os[/arch[/variant]], e.g. linux/arm64)"
      )
    }).pipe(Effect.runPromise))
})
