import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import * as ContainerSpec from "../../src/ContainerSpec.js"
import * as Fleet from "../../src/cli/Fleet.js"
import * as Spec from "../../src/cli/spec.js"
import * as RestartPolicy from "../../src/RestartPolicy.js"

const fleetOf = (source: string): Fleet.Fleet => {
  const parsed = Fleet.parse(source, { file: "fleet.yaml" })
  if (Result.isFailure(parsed)) assert.fail(parsed.failure.message)
  return parsed.success
}

describe("fleet service → ContainerSpec", () => {
  it.effect(
    "a replica: its own name, the service name and aliases on the network, deploy limits and policy",
    () =>
      Effect.gen(function* () {
        const fleet = fleetOf(`
services:
  web:
    image: busybox:latest
    stop_signal: SIGINT
    networks:
      default: { aliases: [www, front] }
    deploy:
      replicas: 2
      resources: { limits: { cpus: "0.25", memory: 32m } }
      restart_policy: { condition: on-failure, max_attempts: 3, window: 20s }
`)
        const spec = yield* ContainerSpec.validate(Spec.toSpecInput(fleet.services[0]!, "web-2"))
        assert.strictEqual(spec.name, "web-2")
        assert.deepStrictEqual(spec.network?.aliases, ["web", "www", "front"])
        assert.deepStrictEqual(spec.resources, { memoryBytes: 32 * 1024 * 1024, cpus: 0.25 })
        assert.strictEqual(spec.stopSignal, "SIGINT")
        assert.strictEqual(spec.restartPolicy._tag, "OnFailure")
        if (spec.restartPolicy._tag === "OnFailure") {
          assert.strictEqual(spec.restartPolicy.maxRetries, 3)
          assert.strictEqual(Duration.toMillis(spec.restartPolicy.stableAfter), 20_000)
        }
      })
  )

  it.effect("every Compose key lands in the spec, and the spec validates", () =>
    Effect.gen(function* () {
      const fleet = fleetOf(`
services:
  web:
    image: busybox:latest
    command: httpd -f
    environment: { PORT: "8080" }
    labels: { tier: front }
    healthcheck: { test: "true", interval: 2s, retries: 2 }
    restart: on-failure:3
    stop_grace_period: 4s
    mem_limit: 64m
    cpus: 0.5
    x-files:
      - { path: /www/index.html, content: hi, mode: 0600 }
`)
      const spec = yield* ContainerSpec.validate(Spec.toSpecInput(fleet.services[0]!))
      assert.deepStrictEqual(spec.command, ["httpd", "-f"])
      assert.deepStrictEqual(spec.env, { PORT: "8080" })
      assert.deepStrictEqual(spec.labels, { tier: "front" })
      assert.deepStrictEqual(spec.healthcheck?.test, ["CMD-SHELL", "true"])
      assert.strictEqual(spec.healthcheck?.retries, 2)
      assert.strictEqual(spec.restartPolicy._tag, "OnFailure")
      assert.strictEqual(Duration.toMillis(spec.stopTimeout), 4000)
      assert.deepStrictEqual(spec.resources, { memoryBytes: 64 * 1024 * 1024, cpus: 0.5 })
      assert.deepStrictEqual(spec.network?.aliases, ["web"])
      assert.deepStrictEqual(spec.files, [{ path: "/www/index.html", content: "hi", mode: 0o600 }])
    })
  )

  it.effect("restart: no, always and unlimited on-failure", () =>
    Effect.gen(function* () {
      const fleet = fleetOf(`
services:
  a: { image: busybox, restart: "no" }
  b: { image: busybox, restart: always }
  c: { image: busybox, restart: on-failure }
  d: { image: busybox, restart: "on-failure:0" }
`)
      const policies = yield* Effect.forEach(fleet.services, (service) =>
        ContainerSpec.validate(Spec.toSpecInput(service)).pipe(Effect.map((spec) => spec.restartPolicy))
      )
      assert.deepStrictEqual(
        policies.map((policy) => policy._tag),
        ["Never", "Always", "OnFailure", "OnFailure"]
      )
      // As Docker reads them: `on-failure` and `on-failure:0` have no limit.
      for (const policy of policies.slice(2)) {
        assert.isTrue(
          RestartPolicy.decide(policy, { exitCode: 1, restartCount: 1000, ranFor: 0, lastLogLines: [] })
        )
        assert.isFalse(
          RestartPolicy.decide(policy, { exitCode: 0, restartCount: 0, ranFor: 0, lastLogLines: [] })
        )
      }
    })
  )

  it.effect("an invalid spec field is reported at its line and Compose key path, exit status 2", () =>
    Effect.gen(function* () {
      const fleet = fleetOf(`services:
  web:
    image: busybox:latest
    mem_limit: 1m
  api:
    image: "Not A Reference"
  ok:
    image: busybox:latest
`)
      const error = yield* Effect.flip(Spec.validateAll(fleet))
      assert.strictEqual(error["~effect/Runtime/errorExitCode"], 2)
      const lines = error.message.split("\n")
      assert.strictEqual(lines.length, 2)
      assert.match(lines[0]!, /^fleet\.yaml:4: services\.web\.mem_limit: .*6 MiB/)
      assert.match(lines[1]!, /^fleet\.yaml:6: services\.api\.image: /)
    })
  )

  it("maps spec fields back to the fleet's keys", () => {
    assert.strictEqual(Spec.keyPathOf("web", "env.TOKEN"), "services.web.environment.TOKEN")
    assert.strictEqual(Spec.keyPathOf("web", "files[1].path"), "services.web.x-files[1].path")
    assert.strictEqual(
      Spec.keyPathOf("web", "healthcheck.startPeriod"),
      "services.web.healthcheck.start_period"
    )
    assert.strictEqual(Spec.keyPathOf("web", "resources.cpus"), "services.web.cpus")
    assert.strictEqual(Spec.keyPathOf("web", "name"), "services.web")
  })
})
