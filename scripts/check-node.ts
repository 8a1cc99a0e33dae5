// Fails early when pnpm scripts are not running on the pinned Node 24
// (the root devDependency `node` puts it first on PATH).
const major = Number(process.versions.node.split('.')[0]);
if (major !== 24) {
  console.error(`sextant: expected Node 24 for pnpm scripts, got ${process.version}. Run \`pnpm install\` first.`);
  process.exit(1);
}
console.log(`node ${process.version}`);
