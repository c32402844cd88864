package alloclimit

import "testing"

var sink []byte

func TestMeasure(t *testing.T) {
	n := Measure(func() { sink = make([]byte, 8<<20) })
	if n < 8<<20 || n > 9<<20 {
		t.Fatalf("an 8 MiB allocation measured %d bytes", n)
	}
	if n := Measure(func() {}); n > 64<<10 {
		t.Fatalf("nothing measured %d bytes", n)
	}
}

func TestCheckFails(t *testing.T) {
	ft := &fakeT{TB: t}
	Check(ft, "make", 1<<20, func() { sink = make([]byte, 4<<20) })
	if !ft.failed {
		t.Fatal("a 4 MiB allocation passed a 1 MiB ceiling")
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
