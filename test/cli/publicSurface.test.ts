/**
 * The CLI is built on what a user of the package can import: no file under src/cli imports a
 * module of src/internal (issue 13's layering rule, checked on every import statement).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const cliRoot = Path.resolve(import.meta.dirname, "../../src/cli")

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(Path.join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [Path.join(dir, entry.name)]
        : []
  )

/** Every module specifier of `import ... from "x"`, `export ... from "x"` and `import("x")`. */
const specifiers = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm)].map(
    (match) => match[1] ?? ""
  )

describe("the CLI's imports", () => {
  it("reads every import of a file (the check can fail)", () => {
    assert.deepStrictEqual(
      specifiers(
        `import * as A from "../internal/a.js"\nexport { b } from "./b.js"\nconst c = await import("../c.js")`
      ),
      ["../internal/a.js", "./b.js", "../c.js"]
    )
  })

  it("no file under src/cli imports src/internal", () => {
    const files = sourceFiles(cliRoot)
    assert.isAbove(files.length, 10)
    const offending = files.flatMap((file) =>
      specifiers(Fs.readFileSync(file, "utf8"))
        .filter(
          (specifier) =>
            specifier.startsWith(".") &&
            Path.resolve(Path.dirname(file), specifier).includes(
              `${Path.sep}src${Path.sep}internal${Path.sep}`
            )
        )
        .map((specifier) => `${Path.relative(cliRoot, file)} → ${specifier}`)
    )
    assert.deepStrictEqual(offending, [])
  })
})
