// Models and runs whose pictures the browser tests know in advance.

// The "known run": W = 0, no input, V0 = bias, a relu activation: every cell stays at
// r = max(0, bias) for the whole run (checked exactly against `eirnn simulate`), so the heat
// map's rows are known colours: silent cells (bias < 0) at vmin = 0, active cells at 1.0 (vmax)
// or 0.5 (half way). E cells 0-5, I cells 6-7.
export const KNOWN_BIAS = [1, 0.5, -1, 1, -0.5, 0.5, 1, -1];
export const KNOWN_STEPS = 40;

export function knownModel(name = 'browser-known', bias = KNOWN_BIAS, E = 6) {
  const n = bias.length;
  return {
    name,
    description: 'W = 0, no input: each cell sits at r = max(0, bias) (tests/browser/fixtures.mjs)',
    class: 'dale',
    populations: { E, I: n - E },
    n_inputs: 1,
    activation: { name: 'relu' },
    leak: 1.0,
    recurrent: { W: Array.from({ length: n }, () => new Array(n).fill(0)) },
    input: { P: Array.from({ length: n }, () => [0]) },
    bias,
  };
}

export function knownRun(modelId, bias = KNOWN_BIAS) {
  return { model_id: modelId, dt: 0.1, inputs: { steps: KNOWN_STEPS }, V0: bias,
    record: { vars: ['r'] }, seed: 1 };
}

// A network that takes a few seconds to simulate (so that its page is seen running): 1,000
// cells generated from a seeded recipe (a small document, pasted in the Models form).
export function bigModel(name = 'browser-generated') {
  return {
    name,
    description: '1,000 cells (800 E, 200 I) generated from a seeded recipe',
    class: 'gated',
    populations: { E: 800, I: 200 },
    n_inputs: 2,
    activation: { name: 'power', k: 0.04, n: 2.0, r_max: 100.0 },
    leak: 0.05,
    recurrent: {
      generate: {
        seed: 42, p: { EE: 0.1, EI: 0.4, IE: 0.4, II: 0.4 }, dist: 'lognormal',
        mean: { EE: 0.5, EI: 1.0, IE: 0.5, II: 1.0 }, cv: 0.5, balance: true,
        spectral_radius: 0.9, self_connections: false,
      },
      A: { E: 0.2, I: 0.4 },
    },
    input: { P: { generate: { seed: 43, p: { E: 0.5, I: 0.2 }, dist: 'constant', mean: 1.0 } } },
    noise: { sigma: 0.1 },
  };
}

// A small E/I network with structure worth looking at (W heat map, eigenvalues, fixed points,
// a sweep): 40 cells generated, a tanh_rect activation.
export function smallModel(name = 'browser-small') {
  const m = bigModel(name);
  m.description = '40 cells (32 E, 8 I) generated from a seeded recipe';
  m.populations = { E: 32, I: 8 };
  m.recurrent.generate.p = { EE: 0.3, EI: 0.6, IE: 0.6, II: 0.6 };
  return m;
}
