import { assert, describe, it } from "@effect/vitest"
import { Duration, Result } from "effect"
import { parse as parseYaml } from "yaml"
import * as FleetConfig from "../../src/cli/config.js"
import * as Fleet from "../../src/cli/Fleet.js"

describe("config", () => {
  it("prints the fleet after interpolation, merging and defaults, and reads back as the same fleet", () => {
    const merged = Fleet.parseFiles(
      [
        {
          file: "compose.yaml",
          source:
            // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's ${VAR} syntax, interpolated by the reader
            "services:\n  web:\n    image: busybox:${TAG:-1}\n    deploy: { replicas: 2 }\n    healthcheck: { test: 'true', interval: 2s }\n"
        },
        {
          file: "override.yaml",
          source: "services:\n  web:\n    environment: [A=1]\n    stop_signal: SIGINT\n"
        }
      ],
      { env: {} }
    )
    if (Result.isFailure(merged)) assert.fail(merged.failure.message)
    const text = FleetConfig.render(merged.success, "shop")
    assert.deepStrictEqual(parseYaml(text), {
      name: "shop",
      services: {
        web: {
          image: "busybox:1",
          environment: { A: "1" },
          healthcheck: { test: ["CMD-SHELL", "true"], interval: "2s" },
          restart: "no",
          deploy: { replicas: 2 },
          stop_grace_period: "10s",
          stop_signal: "SIGINT"
        }
      }
    })
    const again = Fleet.parse(text, { file: "config.yaml" })
    if (Result.isFailure(again)) assert.fail(again.failure.message)
    // The same fleet, with the default stop grace period now written out.
    const [read] = again.success.services
    assert.strictEqual(Duration.toMillis(read!.stopGracePeriod!), 10_000)
    assert.deepStrictEqual(again.success.services, [
      { ...merged.success.services[0]!, stopGracePeriod: read!.stopGracePeriod }
    ])
  })
})
