package etw

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
)

// fuzzSeed is one real or synthetic payload for a class.
type fuzzSeed struct {
	payload []byte
	op      uint8
	version uint16
	hsel    uint8 // bit 0: 64-bit, bits 1-2: header form
}

var (
	realSeedsOnce sync.Once
	realSeeds     map[string][]fuzzSeed
)

// loadRealSeeds collects up to a few payloads per class and opcode from two
// corpus traces, when the corpus is present.
func loadRealSeeds() map[string][]fuzzSeed {
	realSeedsOnce.Do(func() {
		realSeeds = map[string][]fuzzSeed{}
		dir := corpus.Path()
		seen := map[string]int{}
		for _, name := range []string{
			"microsoft__perfview__net.4.5.x86.etl.zip!PerfViewData.etl",
			"microsoft__perfview__diaghub-etls.zip!diaghub-etls/diaghub.etl",
		} {
			if _, err := os.Stat(filepath.Join(dir, name[:indexByte(name, '!')])); err != nil {
				continue
			}
			r, err := Open(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			r.SetOrder(FileOrder)
			for ev, err := range r.All() {
				if err != nil {
					break
				}
				c, op := classOf(ev)
				if c == nil {
					continue
				}
				key := c.name + "/" + itoa(uint64(op)) + "/" + itoa(uint64(ev.Version)) + ev.Header.String()
				if seen[key] >= 3 {
					continue
				}
				seen[key]++
				hsel := uint8(0)
				if ev.PointerSize() == 8 {
					hsel = 1
				}
				realSeeds[c.name] = append(realSeeds[c.name], fuzzSeed{append([]byte(nil), ev.Payload...), op, ev.Version, hsel})
			}
			r.Close()
		}
	})
	return realSeeds
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}

// addSeeds seeds f with synthetic payloads of every layout of the class and
// with real payloads from the corpus.
func addSeeds(f *testing.F, c *eventClass) {
	for li := range c.layouts {
		l := &c.layouts[li]
		if l.raw {
			continue
		}
		for _, ptr := range []int{4, 8} {
			p, _ := synth(l.fields, ptr)
			hsel := uint8(0)
			if ptr == 8 {
				hsel = 1
			}
			v := l.minV
			f.Add(p, l.opcodes[0], v, hsel)
			f.Add(p[:len(p)/2], l.opcodes[len(l.opcodes)-1], v, hsel|2)
		}
	}
	for _, s := range loadRealSeeds()[c.name] {
		f.Add(s.payload, s.op, s.version, s.hsel)
	}
}

// fuzzEvent builds an event of class c from fuzz input.
func fuzzEvent(c *eventClass, payload []byte, op uint8, version uint16, hsel uint8) *Event {
	var h HeaderType
	wide := hsel&1 != 0
	switch form := hsel >> 1 & 3; {
	case c.group < 0 || form == 3:
		h = HeaderFull32
		if wide {
			h = HeaderFull64
		}
		if form == 3 && c.group < 0 {
			h = HeaderEvent32
			if wide {
				h = HeaderEvent64
			}
		}
	case form == 1:
		h = HeaderPerfInfo32
		if wide {
			h = HeaderPerfInfo64
		}
	case form == 2:
		h = HeaderCompact32
		if wide {
			h = HeaderCompact64
		}
	default:
		h = HeaderSystem32
		if wide {
			h = HeaderSystem64
		}
	}
	return testEvent(c, h, op, version, payload)
}

// fuzzClass runs the typed decoder and DecodeFields on fuzz input and checks
// that they agree (same failing field, same values) and never panic.
func fuzzClass(f *testing.F, c *eventClass) {
	addSeeds(f, c)
	f.Fuzz(func(t *testing.T, payload []byte, op uint8, version uint16, hsel uint8) {
		ev := fuzzEvent(c, payload, op, version, hsel)
		checkAgreement(t, ev)
		fields, err := DecodeFields(ev)
		if err == nil && ev.Kind() == "" {
			t.Fatalf("DecodeFields succeeded on an event without Kind")
		}
		for _, fl := range fields {
			_ = fl.String()
		}
		_ = ev.Kind()
	})
}

func FuzzDecodePool(f *testing.F) {
	// Pool events have no real sample; seed the documented shapes.
	fuzzClass(f, classByGroup[GroupPool])
}

func FuzzDecodeStack(f *testing.F)   { fuzzClass(f, classByGroup[GroupStackWalk]) }
func FuzzDecodeImage(f *testing.F)   { fuzzClass(f, classByGroup[GroupImage]) }
func FuzzDecodeProcess(f *testing.F) { fuzzClass(f, classByGroup[GroupProcess]) }
func FuzzDecodeThread(f *testing.F)  { fuzzClass(f, classByGroup[GroupThread]) }
func FuzzDecodeHeader(f *testing.F)  { fuzzClass(f, classByGroup[GroupHeader]) }

func FuzzDecodeImageID(f *testing.F) {
	for _, c := range classes {
		if c.guid == KernelTraceControlGUID {
			fuzzClass(f, c)
			return
		}
	}
	f.Fatal("no KernelTraceControl class")
}

// FuzzExtStack feeds arbitrary extended data to Event.ExtStack.
func FuzzExtStack(f *testing.F) {
	f.Add(extItem(ExtStackTrace64, (&payloadBuilder{ptr: 8}).u64(0).u64(0x7ff600001000).b, false))
	f.Add(append(extItem(ExtTSID, []byte{1, 0, 0, 0}, true), extItem(ExtStackKey32, make([]byte, 12), false)...))
	f.Add(extItem(ExtStackTrace32, make([]byte, 7), false))
	f.Fuzz(func(t *testing.T, ext []byte) {
		ev := &Event{Header: HeaderEvent32, ext: ext}
		st, ok := ev.ExtStack()
		if !ok {
			return
		}
		n := 0
		for range st.Frames() {
			n++
		}
		if n != st.Len() || len(st.AppendFrames(nil)) != n {
			t.Fatalf("frame count mismatch: %d vs %d", n, st.Len())
		}
		if st.IsKey && n != 0 {
			t.Fatal("key item with frames")
		}
	})
}
