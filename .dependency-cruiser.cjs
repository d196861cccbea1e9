// Import boundaries of docs/architecture.md: protocol and auth -> operations -> domain -> crypto;
// adapters (storage, keystores) implement domain ports and are wired only in main.ts.
const layer = (name) => `^src/${name}/`;
module.exports = {
  forbidden: [
    {
      name: 'crypto-is-pure',
      comment: 'crypto/ holds pure functions: it depends on nothing else in the project.',
      severity: 'error',
      from: { path: layer('crypto') },
      to: { path: '^src/', pathNot: layer('crypto') },
    },
    {
      name: 'domain-depends-on-crypto-and-model-only',
      severity: 'error',
      from: { path: layer('domain') },
      to: { path: '^src/', pathNot: [layer('domain'), layer('crypto'), layer('model')] },
    },
    {
      name: 'operations-do-not-reach-adapters-or-transport',
      severity: 'error',
      from: { path: layer('operations') },
      to: { path: [layer('protocol'), layer('auth'), layer('storage'), layer('keystores'), layer('cli'), '^src/main\\.ts$'] },
    },
    {
      name: 'adapters-only-in-main',
      comment: 'Concrete storage and key stores are made in main.ts (and admin commands), nowhere else.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/main\\.ts$', layer('cli'), layer('storage'), layer('keystores')] },
      to: { path: [layer('storage'), layer('keystores')] },
    },
    {
      name: 'adapters-do-not-call-up',
      severity: 'error',
      from: { path: [layer('storage'), layer('keystores')] },
      to: { path: [layer('operations'), layer('protocol'), layer('auth'), layer('cli'), '^src/main\\.ts$'] },
    },
    {
      name: 'protocol-does-not-reach-adapters',
      severity: 'error',
      from: { path: [layer('protocol'), layer('auth')] },
      to: { path: [layer('storage'), layer('keystores'), '^src/main\\.ts$', layer('cli')] },
    },
    {
      name: 'xks-proxy-stands-alone',
      comment: 'The XKS proxy is its own server: SigV4 primitives (auth/sigv4) and crypto only; its key manager is wired by cli/.',
      severity: 'error',
      from: { path: layer('xks-proxy') },
      to: { path: [layer('operations'), layer('protocol'), layer('storage'), layer('keystores'), layer('domain'), layer('cli'), layer('config'), '^src/main\\.ts$'] },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench)/' },
  },
};
