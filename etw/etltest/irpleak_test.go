package etltest_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// irpLeakBytes regenerates testdata/irp-leak.etl with the options of its
// recipe.
func irpLeakBytes(t testing.TB) []byte {
	sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 1, Events: 4000, Leak: true, StackKeys: true, Damage: true, Processors: 4, PointerSize: 8})
	o := sc.WriterOptions()
	o.BufferSize = 16384
	o.FlushOrder = etltest.Random(1)
	o.FlushWindow = 4
	data, err := sc.Bytes(o)
	require.NoError(t, err)
	return data
}

func TestIrpLeakFile(t *testing.T) {
	path := filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")
	committed, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(committed, irpLeakBytes(t)), "testdata/irp-leak.etl differs from its recipe's output; regenerate it")
	recipe, err := os.ReadFile(filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.recipe"))
	require.NoError(t, err)
	require.Contains(t, string(recipe), "-scenario irp-leak -events 4000 -seed 1 -buffer-size 16384 -flush random -window 4")

	r, err := etw.NewReader(bytes.NewReader(committed), int64(len(committed)))
	require.NoError(t, err)
	h := r.Header()
	assert.Equal(t, uint32(2), h.EventsLost)
	assert.Equal(t, uint32(8), h.PointerSize)
	assert.Equal(t, uint32(4), h.NumberOfProcessors)
	assert.Equal(t, int(h.BuffersWritten), len(r.Buffers()))
	outOfOrder := false
	for i := 2; i < len(r.Buffers()); i++ {
		if r.Buffers()[i].Timestamp < r.Buffers()[i-1].Timestamp {
			outOfOrder = true
		}
	}
	assert.True(t, outOfOrder, "buffers are flushed out of time order")

	type image struct {
		base, size uint64
		name       string
	}
	images := map[uint32][]image{}
	l := newLedger()
	type key struct {
		ts  int64
		tid uint32
	}
	irpAllocs := map[key]bool{}
	irpStacks := map[key][][]uint64{}
	wow64 := false
	for ev, err := range r.All() {
		require.NoError(t, err)
		l.event(t, ev)
		p := ev.Payload
		switch {
		case ev.Hook == etw.HookImageLoad || ev.Hook == 0x1403:
			name := utf16z(p[56:])
			images[u32(p, 16)] = append(images[u32(p, 16)], image{binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:]), name})
		case ev.Hook == 0x0301 && u32(p, 8) == 6420:
			wow64 = u32(p, 32)&etltest.ProcessFlagWOW64 != 0
		case ev.Hook == 0x0e20 && u32(p, 4) == etltest.Tag("Irp ") && ev.PID == 6420:
			irpAllocs[key{ev.Timestamp, uint32(ev.TID)}] = true
			assert.Equal(t, uint64(1024), binary.LittleEndian.Uint64(p[8:]))
			assert.Equal(t, uint32(0x200), u32(p, 0))
		case ev.Hook == etw.HookStackWalk:
			k := key{int64(binary.LittleEndian.Uint64(p)), u32(p, 12)}
			var frames []uint64
			for i := 16; i+8 <= len(p); i += 8 {
				frames = append(frames, binary.LittleEndian.Uint64(p[i:]))
			}
			irpStacks[k] = append(irpStacks[k], frames)
		}
	}
	assert.True(t, wow64, "ReadLeak.exe has the WOW64 flag")
	assert.Equal(t, 2312, l.allocs)
	assert.Equal(t, 2156, l.frees)
	assert.Equal(t, 1, l.unmatched)
	assert.Equal(t, map[uint32]etltest.TagTotal{
		etltest.Tag("Irp "): {Blocks: 156, Bytes: 159744},
		etltest.Tag("Toke"): {Blocks: 1, Bytes: 1520},
	}, l.outstanding)
	require.Len(t, irpAllocs, 156)
	assert.Greater(t, l.reused, 1000, "freed addresses are reused")
	t.Logf("%d allocations reuse a freed address", l.reused)

	modName := func(addr uint64) string {
		for _, pid := range []uint32{0, 6420} {
			for _, im := range images[pid] {
				if addr >= im.base && addr < im.base+im.size {
					return im.name[strings.LastIndex(im.name, `\`)+1:] + map[bool]string{true: "@SysWOW64", false: ""}[strings.Contains(im.name, "SysWOW64")]
				}
			}
		}
		return "?"
	}
	want := "ntoskrnl.exe*6 ntdll.dll wow64cpu.dll*2 wow64.dll wow64cpu.dll wow64.dll*2 ntdll.dll*2 ntdll.dll@SysWOW64 KernelBase.dll@SysWOW64 ReadLeak.exe*3 kernel32.dll@SysWOW64 ntdll.dll@SysWOW64*2"
	for k := range irpAllocs {
		frags := irpStacks[k]
		require.Len(t, frags, 2, "kernel and user halves")
		var all []uint64
		for _, f := range frags {
			all = append(all, f...)
		}
		var parts []string
		for i := 0; i < len(all); {
			m := modName(all[i])
			j := i
			for j < len(all) && modName(all[j]) == m {
				j++
			}
			if j-i > 1 {
				m += "*" + string(rune('0'+j-i))
			}
			parts = append(parts, m)
			i = j
		}
		require.Equal(t, want, strings.Join(parts, " "))
	}
}

func utf16z(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
