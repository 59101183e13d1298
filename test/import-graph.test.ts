import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import * as ts from "typescript";

// A module must never import, at run time, something that leads back to it: such a circle makes
// load order decide which side sees the other half-initialised, and it is how the composition
// root (deps.ts, which imports the services to build them) and the services (which need the
// type of what it builds) once knotted together. Nor does any circle remain through `import
// type`: Deps is declared in a types-only module (deps-type.ts) whose imports lead nowhere back.

const root = join(import.meta.dir, "..");

type Edge = { to: string; value: boolean };

function resolveModule(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = join(dirname(from), specifier);
  return [`${base}.ts`, join(base, "index.ts")].find((file) => existsSync(join(root, file)));
}

/** Whether an import or re-export brings in only types (and so is erased). */
function typeOnly(statement: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(statement)) {
    if (statement.isTypeOnly) return true;
    const clause = statement.exportClause;
    return (
      clause !== undefined &&
      ts.isNamedExports(clause) &&
      clause.elements.length > 0 &&
      clause.elements.every((element) => element.isTypeOnly)
    );
  }
  const clause = statement.importClause;
  if (clause === undefined) return false;
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    clause.name === undefined &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((element) => element.isTypeOnly)
  );
}

function importsOf(file: string): Edge[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(join(root, file), "utf8"),
    ts.ScriptTarget.Latest,
  );
  const edges: Edge[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const specifier = statement.moduleSpecifier;
    if (specifier === undefined || !ts.isStringLiteral(specifier)) continue;
    const to = resolveModule(file, specifier.text);
    if (to !== undefined) edges.push({ to, value: !typeOnly(statement) });
  }
  return edges;
}

function importGraph(): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  for (const file of new Bun.Glob("src/**/*.ts").scanSync(root)) graph.set(file, importsOf(file));
  return graph;
}

/** Strongly connected components of more than one module (Tarjan), each a circle or a knot. */
function circles(graph: Map<string, Edge[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.size - 1);
    stack.push(file);
    onStack.add(file);
    for (const { to } of graph.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file) ?? 0, index.get(to) ?? 0));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      component.push(member);
      if (member === file) break;
    }
    if (component.length > 1 || graph.get(file)?.some(({ to }) => to === file)) {
      found.push(component);
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe("src/ imports", () => {
  test("the walk sees the composition root and the services it imports", () => {
    const graph = importGraph();
    expect(graph.get("src/deps.ts")?.some((edge) => edge.value)).toBe(true);
    expect(graph.get("src/deps-type.ts")?.some((edge) => edge.value)).toBe(false);
    expect(graph.size).toBeGreaterThan(50);
  });

  test("no circle has a value import in it", () => {
    const graph = importGraph();
    const knotted = circles(graph).flatMap((component) => {
      const members = new Set(component);
      return component.flatMap((file) =>
        (graph.get(file) ?? [])
          .filter((edge) => edge.value && members.has(edge.to))
          .map((edge) => `${relative("src", file)} -> ${relative("src", edge.to)}`),
      );
    });
    expect(knotted).toEqual([]);
  });

  test("no circle at all, not even through `import type`", () => {
    const named = circles(importGraph()).map((component) =>
      component.map((file) => relative("src", file)).sort(),
    );
    expect(named).toEqual([]);
  });

  test("nothing in state/ or db/ imports from services/, not even a type", () => {
    // The layers run one way: services use the process's state and the database, never the
    // other way round (the sale-state arithmetic sits in lib/ for both).
    const upward = [...importGraph()].flatMap(([file, edges]) =>
      /^src\/(state|db)\//.test(file)
        ? edges
            .filter((edge) => edge.to.startsWith("src/services/"))
            .map((edge) => `${relative("src", file)} -> ${relative("src", edge.to)}`)
        : [],
    );
    expect(upward).toEqual([]);
  });

  test("nothing below the HTTP layer imports from http/, not even a type", () => {
    // How a failure is answered is the HTTP layer's; what it is (a 503 for a database that
    // is down) is said where it happens, so services, jobs, state and db never reach up for it.
    const upward = [...importGraph()].flatMap(([file, edges]) =>
      /^src\/(services|jobs|state|db|lib)\//.test(file)
        ? edges
            .filter((edge) => edge.to.startsWith("src/http/"))
            .map((edge) => `${relative("src", file)} -> ${relative("src", edge.to)}`)
        : [],
    );
    expect(upward).toEqual([]);
  });
});
