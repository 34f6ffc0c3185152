#!/usr/bin/env node
// The `sluice` command. The CLI is TypeScript run directly by Node's type stripping, which
// is on by default from Node 22.18, and the Kafka client (@platformatic/kafka 2) needs 22.22.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(
    `sluice: error: this is Node ${process.versions.node}; sluice needs Node >= 22.22.\n` +
      'Run it through npm (npx sluice ..., or npm start / npm run), which uses the Node in\n' +
      'node_modules/.bin, or install Node >= 22.22.\n',
  )
  process.exit(1)
}
await import('../src/cli/main.ts')
