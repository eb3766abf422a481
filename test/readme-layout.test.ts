// The README's layout block lists every folder under src/, and only folders that exist.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Folders named in the README's layout block (the fenced block starting with `src/`), as paths. */
function listedFolders(readme: string): string[] {
  const block = /^```\nsrc\/\n([\s\S]*?)^```$/m.exec(readme);
  if (!block) throw new Error("README: no layout block (a ``` block starting with src/)");
  const folders: string[] = [];
  const stack: string[] = ["src"];
  for (const line of (block[1] ?? "").split("\n")) {
    if (line.trim() === "") continue;
    const depth = (line.length - line.trimStart().length) / 2; // two spaces per level
    const name = line.trim().split(/\s{2,}/)[0] ?? "";
    if (!name.endsWith("/")) continue;
    if (depth === 0) {
      stack.length = 0; // test/, bench/: outside src
      continue;
    }
    stack.length = depth;
    const folder = [...stack, name.slice(0, -1)].join("/");
    if (stack[0] === "src") folders.push(folder);
    stack.push(name.slice(0, -1));
  }
  return folders.sort();
}

function actualFolders(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const folder = `${dir}/${entry.name}`;
      return [folder, ...actualFolders(folder)];
    })
    .sort();
}

it("README's layout block names exactly the folders of src/", () => {
  const listed = listedFolders(readFileSync(path.join(ROOT, "README.md"), "utf8"));
  expect(listed).toEqual(actualFolders("src"));
});
