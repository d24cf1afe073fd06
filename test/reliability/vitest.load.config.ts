import * as Path from "node:path"
import { defineConfig } from "vitest/config"

// `npm run test:load`: the load test alone, kept out of `npm test` (it runs for minutes).
export default defineConfig({
  root: Path.resolve(import.meta.dirname, "../.."),
  test: {
    include: ["test/reliability/**/*.load.test.ts"],
    globalSetup: ["test/support/engineSetup.ts"],
    testTimeout: 15 * 60_000,
    hookTimeout: 60_000
  }
})
