import { strict as assert } from 'assert';
import fc from 'fast-check';
import { ToleranceGate, asVerdict, combineVerdicts } from '../../../lib/quality/gate';
import { parseRules, GRADE_RANK, type Grade } from '../../../lib/quality/rules';
import type { RecordReading } from '../../../lib/contract/samples';

const ENGINE_RULES = [
  { kind: 'band', field: 'bore', nominal: 80, tolerance: 0.02 },
  { kind: 'class', field: 'ra', min: 0.8, max: 1.6 },
  { kind: 'geometric', field: 'flatness', max: 0.05 },
  { kind: 'geometric', field: 'perpendicularity', max: 0.03 },
];

function gate(rules: unknown[] = ENGINE_RULES, missingGrade: Grade = 'reject'): ToleranceGate {
  return new ToleranceGate(parseRules(rules), { missingGrade });
}

function rec(values: Record<string, number>, timestamp = 0, fieldTimestamps: Record<string, number> | null = null): RecordReading {
  return { values, timestamp, fieldTimestamps };
}

const good = { bore: 80.005, ra: 1.2, flatness: 0.02, perpendicularity: 0.01 };

describe('quality: ToleranceGate', () => {
  it('passes a record inside every limit, with no reasons', () => {
    assert.deepEqual(gate().assess(rec(good)), { grade: 'pass', reasons: [] });
  });

  it('sends a bore outside 80 ± 0.02 to review, naming rule, field, value and limit', () => {
    const v = gate().assess(rec({ ...good, bore: 80.025 }));
    assert.equal(v.grade, 'review');
    assert.equal(v.reasons.length, 1);
    const r = v.reasons[0];
    assert.deepEqual([r.rule, r.kind, r.field, r.value, r.grade], ['band bore', 'band', 'bore', 80.025, 'review']);
    assert.deepEqual(r.limit, { min: 80 - 0.02, max: 80 + 0.02 });
    assert.match(r.detail, /\|80\.025 − 80\| = 0\.025 > 0\.02/);
    // on the band edges is inside
    assert.equal(gate().assess(rec({ ...good, bore: 80.02 })).grade, 'pass');
    assert.equal(gate().assess(rec({ ...good, bore: 79.98 })).grade, 'pass');
  });

  it('sends roughness outside Ra 0.8–1.6 to review and geometric excess to reject; the worst grade wins', () => {
    assert.equal(gate().assess(rec({ ...good, ra: 1.7 })).grade, 'review');
    assert.equal(gate().assess(rec({ ...good, ra: 0.79 })).grade, 'review');
    assert.equal(gate().assess(rec({ ...good, ra: 1.6 })).grade, 'pass');
    const v = gate().assess(rec({ ...good, ra: 1.7, flatness: 0.06, perpendicularity: 0.031 }));
    assert.equal(v.grade, 'reject');
    assert.deepEqual(v.reasons.map((r) => [r.rule, r.grade]), [['class ra', 'review'], ['geometric flatness', 'reject'], ['geometric perpendicularity', 'reject']]);
  });

  it('lets the rule choose the grade', () => {
    const g = gate([{ kind: 'band', field: 'bore', nominal: 80, tolerance: 0.02, grade: 'reject' }, { kind: 'geometric', field: 'flatness', max: 0.05, grade: 'review' }]);
    assert.equal(g.assess(rec({ bore: 80.03, flatness: 0 })).grade, 'reject');
    assert.equal(g.assess(rec({ bore: 80, flatness: 0.1 })).grade, 'review');
  });

  it('gives a missing field a "missing field" reason with the configured grade, not a crash', () => {
    const v = gate().assess(rec({ bore: 80, ra: 1.0, flatness: NaN }));
    assert.equal(v.grade, 'reject');
    assert.deepEqual(v.reasons.map((r) => [r.field, r.check, r.value, r.grade]), [['flatness', 'missing', null, 'reject'], ['perpendicularity', 'missing', null, 'reject']]);
    assert.match(v.reasons[0].detail, /missing field/);
    assert.equal(gate(ENGINE_RULES, 'review').assess(rec({ bore: 80, ra: 1, flatness: 0 })).grade, 'review');
  });

  it('checks the sampling interval per field, using msg.timestamps when given', () => {
    const g = gate([{ kind: 'completeness', field: 'feed', interval: 100 }]);
    assert.equal(g.assess(rec({ feed: 1 }, 1000)).grade, 'pass');
    assert.equal(g.assess(rec({ feed: 1 }, 1100)).grade, 'pass'); // exactly 100 ms
    const late = g.assess(rec({ feed: 1 }, 1250));
    assert.equal(late.grade, 'review');
    assert.deepEqual([late.reasons[0].check, late.reasons[0].value, late.reasons[0].limit], ['interval', 150, { max: 100 }]);
    // the field's own time counts, not the record's
    assert.equal(g.assess(rec({ feed: 1 }, 9999, { feed: 1300 })).grade, 'pass');
  });

  it('keeps the missing rate below the limit over the window (missing fields and gaps count)', () => {
    // window of 10 records, limit 10 %: one missing record in ten is already too many (rate < limit passes)
    const g = gate([{ kind: 'completeness', field: 'feed', missingRate: 0.1, window: 10, expected: 10 }], 'review');
    let t = 0;
    const next = (values: Record<string, number>, dt = 10) => g.assess(rec(values, (t += dt)));
    for (let i = 0; i < 10; i++) assert.equal(next({ feed: 1 }).grade, 'pass');
    const missing = next({ other: 1 });
    assert.equal(missing.grade, 'review');
    assert.deepEqual(missing.reasons.map((r) => r.check), ['missing', 'missing-rate']);
    assert.equal(missing.reasons[1].value, 0.1); // 1 missing of 10 in the window
    for (let i = 0; i < 9; i++) assert.equal(next({ feed: 1 }).grade, 'review', `record ${i} still has the gap in its window`);
    assert.equal(next({ feed: 1 }).grade, 'pass'); // the missing record left the window
    // a 40 ms gap at a 10 ms nominal interval is 3 missing samples: 3 / (9 + 4) ≥ 10 %
    const gap = next({ feed: 1 }, 40);
    assert.equal(gap.grade, 'review');
    assert.ok(Math.abs((gap.reasons[0].value as number) - 3 / 13) < 1e-12);
  });

  it('rejects fields read more than 50 ms apart (msg.timestamps)', () => {
    const g = gate([{ kind: 'alignment', field: 'vibration,temperature', skew: 50 }]);
    assert.equal(g.assess(rec({ vibration: 1, temperature: 60 }, 1000, { vibration: 1000, temperature: 1050 })).grade, 'pass');
    const v = g.assess(rec({ vibration: 1, temperature: 60 }, 1000, { vibration: 1000, temperature: 1051 }));
    assert.equal(v.grade, 'reject');
    assert.deepEqual([v.reasons[0].field, v.reasons[0].value, v.reasons[0].limit], ['vibration,temperature', 51, { max: 50 }]);
    // without msg.timestamps, all fields were read at msg.timestamp
    assert.equal(g.assess(rec({ vibration: 1, temperature: 60 }, 1000)).grade, 'pass');
    // a field with neither a value nor a time is missing
    assert.equal(g.assess(rec({ vibration: 1 }, 1000)).reasons[0].check, 'missing');
    // * compares every field in msg.timestamps
    const all = gate([{ kind: 'alignment', field: '*', skew: 50 }]);
    assert.equal(all.assess(rec({}, 0, { a: 0, b: 20, c: 80 })).reasons[0].field, 'a,c');
    assert.equal(all.assess(rec({ a: 1 }, 0)).grade, 'pass');
  });

  it('keeps per-field counts, rates and Cp/Cpk for tolerance bands', () => {
    const g = gate();
    const bores = [80.01, 79.99, 80.0, 80.02, 80.03];
    for (const bore of bores) g.assess(rec({ ...good, bore }));
    g.assess(rec({ ...good, bore: 80, flatness: 0.07 }));
    const s = g.stats();
    assert.deepEqual([s.records.total, s.records.pass, s.records.review, s.records.reject], [6, 4, 1, 1]);
    assert.deepEqual([s.fields.bore.pass, s.fields.bore.review, s.fields.bore.reject], [5, 1, 0]);
    assert.deepEqual([s.fields.flatness.pass, s.fields.flatness.reject], [5, 1]);
    assert.ok(Math.abs(s.fields.flatness.rates.reject - 1 / 6) < 1e-12);
    // Cp, Cpk computed here from the six bore values
    const all = [...bores, 80];
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const std = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (all.length - 1));
    assert.ok(Math.abs((s.fields.bore.mean as number) - mean) < 1e-9);
    assert.ok(Math.abs((s.fields.bore.cp as number) - 0.04 / (6 * std)) < 1e-6);
    assert.ok(Math.abs((s.fields.bore.cpk as number) - Math.min(80.02 - mean, mean - 79.98) / (3 * std)) < 1e-6);
    assert.equal(s.fields.ra.cp, undefined);
    assert.deepEqual(s.rules['band bore'], { violations: 1, missing: 0 });
    g.reset();
    assert.equal(g.stats().records.total, 0);
    assert.equal(g.stats().fields.bore.cp, null);
  });

  it('combines with an earlier verdict: worst grade, reasons appended', () => {
    const earlier = { grade: 'review' as Grade, reasons: [] };
    const later = gate().assess(rec({ ...good, flatness: 1 }));
    assert.equal(combineVerdicts(earlier, later).grade, 'reject');
    assert.equal(combineVerdicts({ grade: 'reject', reasons: [] }, { grade: 'pass', reasons: [] }).grade, 'reject');
  });

  it('reads an earlier verdict from msg.quality only when it is well formed', () => {
    const reasons = [{ rule: 'upstream', field: 'x', value: 1, limit: { max: 0 } }];
    assert.deepEqual(asVerdict({ grade: 'review', reasons }), { grade: 'review', reasons });
    for (const q of [undefined, null, 'pass', { grade: 'fine', reasons: [] }, { grade: 'pass' }, { grade: 'reject', reasons: 'none' }]) {
      assert.equal(asVerdict(q), null, JSON.stringify(q));
    }
  });
});

describe('quality: properties (fast-check)', () => {
  const value = fc.oneof(fc.double({ min: -200, max: 200, noNaN: true }), fc.constant(NaN), fc.constant(undefined));
  const record = fc.record({ bore: value, ra: value, flatness: value, perpendicularity: value });
  const clean = (r: Record<string, number | undefined>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as Record<string, number>;

  it('every record gets exactly one grade: the worst of its reasons, pass only without reasons', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 30 }), fc.constantFrom<Grade>('review', 'reject'), (records, missingGrade) => {
        const g = gate(ENGINE_RULES, missingGrade);
        for (const r of records) {
          const v = g.assess(rec(clean(r)));
          assert.ok(['pass', 'review', 'reject'].includes(v.grade));
          const worst = v.reasons.reduce((m, x) => Math.max(m, GRADE_RANK[x.grade]), 0);
          assert.equal(GRADE_RANK[v.grade], worst);
          assert.equal(v.grade === 'pass', v.reasons.length === 0);
        }
        const s = g.stats().records;
        assert.equal(s.pass + s.review + s.reject, records.length);
      }),
      { numRuns: 200, seed: 42 },
    );
  });

  it('the grade never improves when a value moves further out of its band, class or limit', () => {
    const rules = [
      { kind: 'band', field: 'bore', nominal: 80, tolerance: 0.02 },
      { kind: 'band', field: 'bore', nominal: 80, tolerance: 0.05, grade: 'reject' },
      { kind: 'class', field: 'ra', min: 0.8, max: 1.6 },
      { kind: 'geometric', field: 'flatness', max: 0.05 },
    ];
    const centre: Record<string, number> = { bore: 80, ra: 1.2, flatness: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom('bore', 'ra', 'flatness'),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(1, -1),
        fc.record({ bore: fc.double({ min: 79.9, max: 80.1, noNaN: true }), ra: fc.double({ min: 0, max: 3, noNaN: true }), flatness: fc.double({ min: 0, max: 0.1, noNaN: true }) }),
        (field, d1, d2, sign, others) => {
          const near = Math.min(d1, d2);
          const far = Math.max(d1, d2);
          const dir = field === 'flatness' ? 1 : sign; // flatness only grows outward
          const at = (d: number) => gate(rules).assess(rec({ ...others, [field]: centre[field] + dir * d })).grade;
          assert.ok(GRADE_RANK[at(far)] >= GRADE_RANK[at(near)], `${field}: ${near} → ${at(near)}, ${far} → ${at(far)}`);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
