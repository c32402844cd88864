package pool

import (
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// opsFromBytes turns fuzz input into ledger options and ops: 4 option bytes,
// then 10 bytes per op.
func opsFromBytes(data []byte) (Options, []Op, []Window) {
	var opt Options
	if len(data) < 4 {
		return opt, nil, nil
	}
	opt.Frequency = int64(data[0]) + 1
	opt.Resolution = int64(data[1]%16) + 1
	opt.MaxBins = int(data[2]%32) + 1
	opt.MaxCells = int(data[3]) + 1
	data = data[4:]
	var ops []Op
	t := int64(1 << 40)
	types := []uint32{0, 1, 0x200, 0x21, uint32(TypeBigPool) | 5, 0xffffffff}
	for len(data) >= 10 {
		b := data[:10]
		data = data[10:]
		t += int64(int8(b[0])) // may go backwards
		op := Op{
			Time:      t,
			Kind:      OpKind(b[1] % 3),
			Session:   b[2]&1 != 0,
			SessionID: uint32(b[2]>>1) % 3,
			Type:      types[int(b[3])%len(types)],
			Tag:       Tag(0x41414141 + uint32(b[4]%5)),
			Entry:     uint64(b[5] % 16),
			Size:      uint64(binary.LittleEndian.Uint16(b[6:])),
			PID:       uint32(b[8] % 4),
			Stack:     StackID(b[9] % 5),
		}
		if b[1] == 0xff {
			op.Size = 1<<64 - 1
		}
		ops = append(ops, op)
	}
	var wins []Window
	if len(ops) > 1 {
		wins = append(wins, Window{ops[0].Time, ops[len(ops)/2].Time}, Window{ops[len(ops)/3].Time, ops[len(ops)-1].Time + 1})
	}
	return opt, ops, wins
}

// FuzzLedger applies arbitrary op streams and checks the report invariants
// and the reference model: Apply must never panic and every count must agree.
func FuzzLedger(f *testing.F) {
	f.Add([]byte{9, 3, 4, 8, 1, 1, 0, 0, 0, 3, 16, 0, 1, 1, 1, 2, 0, 0, 0, 3, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 200, 1, 3, 1, 2, 7, 255, 255, 1, 2, 0x80, 2, 2, 1, 2, 7, 0, 0, 0, 0, 5, 1, 2, 1, 2, 7, 1, 0, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		opt, ops, wins := opsFromBytes(data)
		opt.Windows = wins
		l := NewLedger(opt)
		l.InternStack(1, []uint64{0xfffff80000000001})
		l.InternStack(2, []uint64{0xfffff80000000001, 0x1000})
		l.InternStack(3, []uint64{0x2000})
		m := newRefModel(0)
		for i := range ops {
			l.Apply(&ops[i])
			op := ops[i]
			if op.Stack > 3 {
				op.Stack = NoStack
			}
			m.apply(op)
		}
		r := l.Finish()
		checkReport(t, r)
		checkAgainstModel(t, r, m)
		for i, w := range wins {
			if w.End > w.Start {
				require.Equal(t, dump(m.window(w)), dump(classesOf(r.Windows[i].Tags)))
			}
			wr, err := l.Window(l.SnapWindow(w))
			if err == nil {
				checkWindow(t, wr)
				require.Equal(t, dump(m.window(wr.Window)), dump(classesOf(wr.Tags)))
			}
		}
		_, err := json.Marshal(r)
		require.NoError(t, err)
	})
}
