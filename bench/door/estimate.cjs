// SPDX-License-Identifier: Apache-2.0
// bench/door/estimate's comparison (see that script). argv[2]: the sluice-bench-estimate binary.
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const cl100k = require('gpt-tokenizer/cjs/encoding/cl100k_base');
const o200k = require('gpt-tokenizer/cjs/encoding/o200k_base');

const root = path.join(__dirname, '..', '..');
const paragraphs = (file) => fs.readFileSync(path.join(root, file), 'utf8').split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length >= 40);
const kinds = {
  'English prose (README)': paragraphs('README.md').filter((p) => !p.startsWith('|') && !p.startsWith('```') && !p.includes('](')),
  'Markdown tables': paragraphs('README.md').filter((p) => p.startsWith('|')),
  'C++ source': ['server/door/inferencedoor.cpp', 'server/door/upstreamclient.cpp', 'server/engine/checkservice.cpp'].flatMap(paragraphs),
  'JSON': [fs.readFileSync(path.join(root, 'resources', 'demo-registry.json'), 'utf8'), fs.readFileSync(path.join(root, 'tests', 'door', 'registry.json'), 'utf8')],
  'chat messages': JSON.parse(fs.readFileSync(path.join(__dirname, 'samples.json'), 'utf8')),
};
const all = Object.values(kinds).flat();
const estimates = JSON.parse(execFileSync(process.argv[2], { input: JSON.stringify(all) }).toString());
let at = 0;
const pct = (v, p) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
console.log('token estimate / actual (1.00 = exact; above 1 reserves more than is used), per text:');
console.log('%s', ['kind'.padEnd(24), 'texts'.padStart(5), 'tokenizer', 'total ratio', 'p10', 'median', 'p90'].join('  '));
const totals = { cl100k: [0, 0], o200k: [0, 0] };
for (const [kind, texts] of Object.entries(kinds)) {
  const est = estimates.slice(at, at + texts.length);
  at += texts.length;
  for (const [name, enc] of [['cl100k', cl100k], ['o200k', o200k]]) {
    const actual = texts.map((t) => enc.encode(t).length);
    const ratios = est.map((e, i) => e / Math.max(1, actual[i]));
    const e = est.reduce((a, b) => a + b, 0), a = actual.reduce((x, y) => x + y, 0);
    totals[name][0] += e; totals[name][1] += a;
    console.log('%s  %s  %s  %s  %s  %s  %s', kind.padEnd(24), String(texts.length).padStart(5), name.padEnd(9),
      (e / a).toFixed(2).padStart(11), pct(ratios, 0.1).toFixed(2).padStart(4), pct(ratios, 0.5).toFixed(2).padStart(6), pct(ratios, 0.9).toFixed(2).padStart(4));
  }
}
for (const name of ['cl100k', 'o200k'])
  console.log('all %d texts, %s: %d estimated for %d actual tokens: ratio %s', all.length, name, totals[name][0], totals[name][1], (totals[name][0] / totals[name][1]).toFixed(2));
