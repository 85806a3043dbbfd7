// Compiles each AssemblyScript entry `wasm/assembly/<name>.ts` into `wasm/build/<name>.wasm`.
// Modules use the stub runtime (a bump allocator, no GC): the engine instantiates a fresh instance per job
// and drops it afterwards, so an instance's heap never outlives the image it was grown for.
import { existsSync, readdirSync, mkdirSync, statSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "assemblyscript/asc";

const root = dirname(fileURLToPath(import.meta.url));
const srcDir = join(root, "assembly");
const outDir = join(root, "build");
mkdirSync(outDir, { recursive: true });

const entries = (existsSync(srcDir) ? readdirSync(srcDir) : []).filter((f) => f.endsWith(".ts") && statSync(join(srcDir, f)).isFile());
for (const file of entries) {
  const name = basename(file, ".ts");
  const { error, stderr } = await main([
    join(srcDir, file),
    "--outFile", join(outDir, `${name}.wasm`),
    "--textFile", join(outDir, `${name}.wat`),
    "--optimizeLevel", "3",
    "--shrinkLevel", "0",
    "--runtime", "stub",
    "--enable", "simd",
    "--noAssert",
    "--exportRuntime",
    "--initialMemory", "1",
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`wasm build failed for ${file}: ${error.message}`);
    process.exit(1);
  }
  console.log(`wasm: built ${name}.wasm`);
}
