package etw_test

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/leanframe"
)

// everyHook is every hook id: lean framing for all the kernel records a
// trace holds.
var everyHook = func() []uint16 {
	h := make([]uint16, 1<<16)
	for i := range h {
		h[i] = uint16(i)
	}
	return h
}()

// checkLean reads a trace with two readers in step, one framing in full and
// one framing the given hooks lean, and checks that every lean event holds
// the fields lean framing promises and, once completed, equals the full
// one; errors must be the same. With switchAt > 0, lean framing is turned
// off after that many events and the rest must come in full unasked.
func checkLean(t *testing.T, open func() (*etw.Reader, error), order etw.Order, hooks []uint16, switchAt int) (events, lean int) {
	t.Helper()
	full, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	lr, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	for _, r := range []*etw.Reader{full, lr} {
		if err := r.SetOrder(order); err != nil {
			t.Fatal(err)
		}
	}
	leanframe.SetLean(lr, hooks)
	// The lean reader is read through All, as the pool pipeline reads it
	// (nextLean), the full one through ReadEvent.
	next, stop := iter.Pull2(lr.All())
	defer stop()
	for i := 0; ; i++ {
		if switchAt > 0 && i == switchAt {
			leanframe.SetLean(lr, nil)
		}
		want, werr := full.ReadEvent()
		got, gerr, ok := next()
		if !ok {
			gerr = io.EOF
		}
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("event %d: error %v, lean %v", i, werr, gerr)
		}
		if errors.Is(werr, io.EOF) {
			return events, lean
		}
		if werr != nil {
			var fe *etw.FormatError
			if !errors.As(werr, &fe) {
				return events, lean
			}
			continue
		}
		events++
		if got.Header != want.Header || got.Hook != want.Hook || got.PID != want.PID || got.TID != want.TID ||
			got.Timestamp != want.Timestamp || got.Processor != want.Processor || got.Buffer != want.Buffer ||
			got.Offset != want.Offset || string(got.Payload) != string(want.Payload) || string(got.Raw()) != string(want.Raw()) {
			t.Fatalf("event %d (hook %#x, header %v): lean fields differ:\n%+v\n%+v", i, want.Hook, want.Header, *got, *want)
		}
		if !reflect.DeepEqual(*got, *want) {
			if i >= switchAt && switchAt > 0 {
				t.Fatalf("event %d delivered lean after lean framing was turned off", i)
			}
			lean++
		}
		leanframe.Complete(got)
		if !reflect.DeepEqual(*got, *want) {
			t.Fatalf("event %d (hook %#x, header %v): completed lean event differs:\n%+v\n%+v", i, want.Hook, want.Header, *got, *want)
		}
	}
}

// TestLeanGenerated checks lean framing on generated pool traces: both
// stack shapes, pool events under SYSTEM and PERFINFO headers, 64- and
// 32-bit, plain and compressed, in both orders, with the hooks the pool
// pipeline asks for and with every hook; and that turning it off midway
// completes the events already framed.
func TestLeanGenerated(t *testing.T) {
	poolHooks := []uint16{uint16(etw.HookPoolAlloc), uint16(etw.HookPoolFree), uint16(etw.HookStackWalk),
		uint16(etw.HookStackKeyKernel), uint16(etw.HookStackKeyUser)}
	for _, keys := range []bool{true, false} {
		for _, ph := range []etltest.HeaderKind{etltest.HeaderSystem, etltest.HeaderPerfInfo} {
			for _, ptr := range []int{8, 4} {
				for _, compress := range []bool{false, true} {
					name := fmt.Sprintf("keys=%v/perfinfo=%v/ptr=%d/compress=%v", keys, ph == etltest.HeaderPerfInfo, ptr, compress)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 7, Events: 5_000, Leak: true, StackKeys: keys,
							PointerSize: ptr, PoolHeader: ph})
						o := sc.WriterOptions()
						o.Compress = compress
						data := scenarioBytes(t, sc, o)
						open := func() (*etw.Reader, error) { return etw.NewReader(bytesReaderAt(data), int64(len(data))) }
						for _, order := range []etw.Order{etw.TimeOrder, etw.FileOrder} {
							n, lean := checkLean(t, open, order, poolHooks, 0)
							if lean == 0 || lean == n {
								t.Errorf("order %d: %d of %d events lean: want some", order, lean, n)
							}
							checkLean(t, open, order, everyHook, 0)
							checkLean(t, open, order, poolHooks, n/2)
						}
					})
				}
			}
		}
	}
}

// TestLeanCorpus checks lean framing of every kernel record of the real
// traces of the corpus, in both orders.
func TestLeanCorpus(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			open := func() (*etw.Reader, error) { return etw.Open(tr.Path) }
			for _, order := range []etw.Order{etw.TimeOrder, etw.FileOrder} {
				checkLean(t, open, order, everyHook, 0)
			}
		})
	}
}
