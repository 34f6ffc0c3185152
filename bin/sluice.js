#!/usr/bin/env node
// The `sluice` command. The CLI is TypeScript run directly by Node's type stripping, which
// is on by default from Node 22.18; older versions would fail with a cryptic syntax error.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `sluice: error: this is Node ${process.versions.node}; sluice needs Node >= 22.18.\n` +
      'Run it through npm (npx sluice ..., or npm start / npm run), which uses the Node in\n' +
      'node_modules/.bin, or install Node >= 22.18.\n',
  )
  process.exit(1)
}
await import('../src/cli/main.ts')
