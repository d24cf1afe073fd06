// `effect-docker` re-exports MemoryEngine, but a production import of the package must not
// load the in-memory engine: src/MemoryEngine.ts imports src/internal/memory/ dynamically, on
// first use. This follows every static import from the barrel, as Node would load them, and
// checks that none reaches those modules.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const memoryDir = Path.join(root, "src", "internal", "memory")

// Statement-level `import … from "x"`, `import "x"` and `export … from "x"`. JSDoc examples do
// not match (their lines start with `*`), nor do dynamic `import("x")` calls. `import type` and
// `export type` are erased by the compiler; `import { type A }` is not (verbatimModuleSyntax
// keeps it as `import {} from`), so it counts as a load.
const importStatement =
  /^[ \t]*import\s+(type\s+)?(?:[\w$]+\s*,?\s*)?(?:\{[^}]*\}|\*\s*as\s+[\w$]+)?\s*(?:from\s*)?["']([^"']+)["']/gm
const reexportStatement =
  /^[ \t]*export\s+(type\s+)?(?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from\s*["']([^"']+)["']/gm

/** The specifiers a module loads when it is evaluated. */
const staticImports = (source: string): ReadonlyArray<string> =>
  [...source.matchAll(importStatement), ...source.matchAll(reexportStatement)]
    .filter((match) => match[1] === undefined)
    .map((match) => match[2] ?? "")

/** A relative specifier to the source file it names (`./x.js` is `./x.ts` before the build). */
const resolve = (from: string, specifier: string): string => {
  const target = Path.resolve(Path.dirname(from), specifier)
  const candidates = [target.replace(/\.js$/, ".ts"), target, `${target}.ts`, Path.join(target, "index.ts")]
  const found = candidates.find((candidate) => existsSync(candidate) && candidate.endsWith(".ts"))
  if (found === undefined) throw new Error(`${Path.relative(root, from)}: cannot resolve ${specifier}`)
  return found
}

/** Every source file loaded, transitively, by loading `entry` (paths relative to the project). */
const trace = (entry: string): ReadonlySet<string> => {
  const seen = new Set<string>()
  const pending = [Path.join(root, entry)]
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue
    seen.add(file)
    for (const specifier of staticImports(readFileSync(file, "utf8"))) {
      // The package importing itself by name would load through `exports`, past this trace.
      if (specifier === "effect-docker" || specifier.startsWith("effect-docker/")) {
        throw new Error(`${Path.relative(root, file)} imports ${specifier} by name`)
      }
      if (specifier.startsWith(".")) pending.push(resolve(file, specifier))
    }
  }
  return new Set([...seen].map((file) => Path.relative(root, file).split(Path.sep).join("/")))
}

const memoryModules = readdirSync(memoryDir)
  .filter((name) => name.endsWith(".ts"))
  .map((name) => `src/internal/memory/${name}`)

describe("the in-memory engine off the barrel's hot path", () => {
  it("reads the imports a module loads, not the ones the compiler erases or defers", () => {
    const source = [
      `import type { Erased } from "./erased.js"`,
      `export type { AlsoErased } from "./alsoErased.js"`,
      `import { type KeptAsEmpty } from "./kept.js"`,
      `import * as Named from "./named.js"`,
      `import Default, { other } from "./default.js"`,
      `import "./sideEffect.js"`,
      `import {`,
      `  first,`,
      `  type second`,
      `} from "./multiline.js"`,
      `export * as Barrel from "./barrel.js"`,
      `export { picked } from "./picked.js"`,
      ` * import { Effect } from "./inDocComment.js"`,
      `const lazy = () => import("./lazy.js")`,
      `export const load = Effect.promise(() => import("./lazyToo.js"))`
    ].join("\n")
    assert.deepStrictEqual(
      [...staticImports(source)].sort(),
      [
        "./barrel.js",
        "./default.js",
        "./kept.js",
        "./multiline.js",
        "./named.js",
        "./picked.js",
        "./sideEffect.js"
      ].sort()
    )
  })

  it("follows the engine's own imports to every module under src/internal/memory/", () => {
    const loaded = trace("src/internal/memory/engine.ts")
    assert.isAbove(memoryModules.length, 5)
    for (const module of memoryModules)
      assert.isTrue(loaded.has(module), `${module} is not loaded by the engine`)
  })

  it("loads none of them when effect-docker is imported", () => {
    const loaded = trace("src/index.ts")
    // The barrel still carries MemoryEngine (its service tag, types, layer) and the rest.
    assert.isTrue(loaded.has("src/MemoryEngine.ts"))
    assert.isTrue(loaded.has("src/DockerEngine.ts"))
    assert.isTrue(loaded.has("src/Supervisor.ts"))
    const memory = [...loaded].filter((file) => file.startsWith("src/internal/memory/"))
    assert.deepStrictEqual(memory, [])
  })

  it("loads none of them when effect-docker/MemoryEngine is imported, until an engine is made", () => {
    const loaded = trace("src/MemoryEngine.ts")
    assert.deepStrictEqual(
      [...loaded].filter((file) => file.startsWith("src/internal/memory/")),
      []
    )
  })
})
