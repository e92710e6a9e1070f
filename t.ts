import fs from 'node:fs';
import wavefile from 'wavefile';
const w = new wavefile.WaveFile(); w.fromBuffer(fs.readFileSync('/tmp/a.wav'));
console.log(w.fmt);
