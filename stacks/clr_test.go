package stacks_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"unicode/utf16"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// methodPayload builds a MethodLoadVerbose payload: MethodID, ModuleID,
// MethodStartAddress, MethodSize, MethodToken, MethodFlags, then the
// namespace, name and signature as NUL-terminated UTF-16LE units.
func methodPayload(start uint64, size uint32, ns, name []uint16) []byte {
	p := make([]byte, 36)
	binary.LittleEndian.PutUint64(p[16:], start)
	binary.LittleEndian.PutUint32(p[24:], size)
	for _, s := range [][]uint16{ns, name, utf16.Encode([]rune("void  (int32)"))} {
		for _, u := range s {
			p = binary.LittleEndian.AppendUint16(p, u)
		}
		p = append(p, 0, 0)
	}
	return p
}

func methodEvent(provider etw.GUID, id uint16, pid etw.PID, payload []byte) *etw.Event {
	return &etw.Event{Header: etw.HeaderEvent64, Provider: provider, ID: id, PID: pid, Payload: payload}
}

func u16(s string) []uint16 { return utf16.Encode([]rune(s)) }

func TestMethodsLookup(t *testing.T) {
	ms := stacks.NewMethods()
	ms.Event(methodEvent(stacks.CLRRundownGUID, 144, 10, methodPayload(0x1000, 0x40, u16("System.IO.FileStream"), u16("Read"))))
	ms.Event(methodEvent(stacks.CLRRundownGUID, 144, 10, methodPayload(0x2000, 0x10, u16("System.IO.FileStream"), u16("Write"))))
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 10, methodPayload(0x1800, 0x20, u16(""), u16("Main"))))
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 20, methodPayload(0x1000, 0x8, u16("Other"), u16("Run"))))

	m := ms.Lookup(10, 0x1000)
	require.NotNil(t, m)
	assert.Equal(t, stacks.Method{Start: 0x1000, Size: 0x40, Namespace: "System.IO.FileStream", Name: "Read"}, *m)
	assert.Equal(t, "System.IO.FileStream.Read", m.FullName())
	assert.Same(t, m, ms.Lookup(10, 0x103f), "one Method for a range")
	assert.Nil(t, ms.Lookup(10, 0x1040), "past the end")
	assert.Nil(t, ms.Lookup(10, 0xfff), "before the start")
	assert.Equal(t, "Main", ms.Lookup(10, 0x1810).FullName())
	assert.Equal(t, "System.IO.FileStream.Write", ms.Lookup(10, 0x200f).FullName())
	assert.Equal(t, "Other.Run", ms.Lookup(20, 0x1004).FullName(), "spaces are per process")
	assert.Nil(t, ms.Lookup(20, 0x1010))
	assert.Nil(t, ms.Lookup(30, 0x1000), "unknown process")
	assert.Equal(t, map[string]int{"rundown/144": 2, "runtime/143": 2}, ms.Events)
}

// TestMethodsEmptyNamespace checks a first event whose method has no
// namespace, as global functions have.
func TestMethodsEmptyNamespace(t *testing.T) {
	ms := stacks.NewMethods()
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 3, methodPayload(0x1000, 0x10, u16(""), u16("Global"))))
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 3, methodPayload(0x2000, 0x10, u16("N"), u16("M"))))
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 3, methodPayload(0x3000, 0x10, u16(""), u16("Other"))))
	assert.Equal(t, stacks.Method{Start: 0x1000, Size: 0x10, Name: "Global"}, *ms.Lookup(3, 0x1000))
	assert.Equal(t, "N.M", ms.Lookup(3, 0x2000).FullName())
	assert.Equal(t, "Other", ms.Lookup(3, 0x3000).FullName())
}

// TestMethodsFirstWins checks that of two events with the same start in a
// process the first is kept, also when the second comes after a Lookup.
func TestMethodsFirstWins(t *testing.T) {
	for _, lookBetween := range []bool{false, true} {
		t.Run(fmt.Sprint("lookup between: ", lookBetween), func(t *testing.T) {
			ms := stacks.NewMethods()
			// Enough ranges for several blocks, in descending order.
			for i := range 3000 {
				start := uint64(0x100000 - 0x100*i)
				ms.Event(methodEvent(stacks.CLRRundownGUID, 143, 7, methodPayload(start, 0x80, u16("T"), u16(fmt.Sprint("first", i)))))
			}
			if lookBetween {
				require.Equal(t, "T.first0", ms.Lookup(7, 0x100000).FullName())
			}
			for i := range 3000 {
				start := uint64(0x100000 - 0x100*i)
				ms.Event(methodEvent(stacks.CLRRundownGUID, 144, 7, methodPayload(start, 0xf0, u16("T"), u16(fmt.Sprint("second", i)))))
			}
			ms.Event(methodEvent(stacks.CLRRundownGUID, 144, 7, methodPayload(0x200000, 0x10, u16("T"), u16("new"))))
			for _, i := range []int{0, 1, 1023, 1024, 2999} {
				start := uint64(0x100000 - 0x100*i)
				m := ms.Lookup(7, start+0x7f)
				require.NotNil(t, m, "range %d", i)
				assert.Equal(t, stacks.Method{Start: start, Size: 0x80, Namespace: "T", Name: fmt.Sprint("first", i)}, *m)
				assert.Nil(t, ms.Lookup(7, start+0x80), "the second range's size is not kept")
			}
			assert.Equal(t, "T.new", ms.Lookup(7, 0x200000).FullName())
			assert.Equal(t, map[string]int{"rundown/143": 3000, "rundown/144": 3001}, ms.Events)
		})
	}
}

// TestMethodsNames checks names against UTF-16 decoding as the standard
// library does it: surrogate pairs joined, unpaired surrogates as U+FFFD.
func TestMethodsNames(t *testing.T) {
	names := [][]uint16{
		u16("Plain.ASCII"),
		u16("Ünïcödé.Ñame"),
		u16("日本語.型"),
		u16("Emoji😀.Pair𝄞"),
		{'A', 0xd800, 'B'},         // a high surrogate alone
		{'A', 0xdc00, 'B'},         // a low surrogate alone
		{'A', 0xd83d},              // a high surrogate last
		{0xdc00, 0xd800, 0xdc00},   // low, then a pair
		{0xd800, 0xd800, 0xdc00},   // high, then a pair
		{0x7f, 0x80, 0x7ff, 0x800}, // the UTF-8 length steps
		{0xfffd, 0xffff},
		{},
	}
	ms := stacks.NewMethods()
	for i, n := range names {
		ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 1, methodPayload(uint64(0x1000*(i+1)), 0x10, n, n)))
	}
	for i, n := range names {
		m := ms.Lookup(1, uint64(0x1000*(i+1)))
		require.NotNil(t, m, "name %d", i)
		want := string(utf16.Decode(n))
		assert.Equal(t, want, m.Namespace, "namespace %d", i)
		assert.Equal(t, want, m.Name, "name %d", i)
	}
}

// TestMethodsRejects checks the payloads Event leaves out: too short, a
// namespace or a name without its terminator, a size of 0; they are not
// counted either. Other events and headers are ignored.
func TestMethodsRejects(t *testing.T) {
	good := methodPayload(0x1000, 0x10, u16("N"), u16("M"))
	ms := stacks.NewMethods()
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 1, good[:35]))
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 1, good[:36+2*1+1])) // namespace without its terminator
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 1, good[:36+4+2+1])) // name without its terminator
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 1, methodPayload(0x1000, 0, u16("N"), u16("M"))))
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 145, 1, good))
	other := methodEvent(stacks.CLRRuntimeGUID, 143, 1, good)
	other.Header = etw.HeaderSystem64
	ms.Event(other)
	assert.Nil(t, ms.Lookup(1, 0x1000))
	assert.Empty(t, ms.Events)

	// The name may end the payload (no signature).
	ms.Event(methodEvent(stacks.CLRRuntimeGUID, 143, 1, good[:36+4+4]))
	assert.Equal(t, "N.M", ms.Lookup(1, 0x1000).FullName())
}

// BenchmarkMethods feeds method events as a rundown of one process
// brings them (types of several methods each), and as many processes of
// one method each bring them.
func BenchmarkMethods(b *testing.B) {
	const n = 16384
	build := func(pids int) []*etw.Event {
		evs := make([]*etw.Event, n)
		for i := range evs {
			ns := u16(fmt.Sprintf("System.Collections.Generic.Dictionary`2[System.__Canon,System.Int32]+Type%d", i/6))
			evs[i] = methodEvent(stacks.CLRRundownGUID, 144, etw.PID(i%pids), methodPayload(uint64(0x7ff800000000+0x100*i), 0x80, ns, u16(fmt.Sprint("Method", i))))
		}
		return evs
	}
	for _, bc := range []struct {
		name string
		pids int
	}{{"rundown", 1}, {"processes", n}} {
		evs := build(bc.pids)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ms := stacks.NewMethods()
				for _, ev := range evs {
					ms.Event(ev)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
