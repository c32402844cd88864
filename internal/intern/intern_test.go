package intern

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type key struct {
	a, b uint32
	c    uint8
}

// poorHash collides often on purpose, so that probing is exercised.
func poorHash(k key) uint64 { return uint64(k.a%7)<<61 + uint64(k.c)<<58 }

func mixHash(k key) uint64 {
	h := (uint64(k.a)<<32 | uint64(k.b)) * 0x9E3779B97F4A7C15
	h ^= uint64(k.c) + h>>29
	return h * 0xBF58476D1CE4E5B9
}

// check runs ops (add or find, key drawn from the bytes) against a Go map
// numbering the keys in order of first sight.
func check(t *testing.T, data []byte, hash func(key) uint64) {
	var tab Table[key]
	want := map[key]int{}
	var order []key
	for len(data) >= 6 {
		k := key{a: uint32(data[1] % 64), b: uint32(binary.LittleEndian.Uint16(data[2:]) % 512), c: data[4] % 3}
		add := data[0]&1 == 0
		data = data[6:]
		n, ok := want[k]
		if add {
			got, isNew := tab.Add(hash(k), k)
			if !ok {
				n = len(order)
				want[k] = n
				order = append(order, k)
			}
			require.Equal(t, n, got, "Add %v", k)
			require.Equal(t, !ok, isNew, "Add %v", k)
		} else {
			got, found := tab.Find(hash(k), k)
			require.Equal(t, ok, found, "Find %v", k)
			if ok {
				require.Equal(t, n, got)
			} else {
				require.Equal(t, -1, got)
			}
		}
		require.Equal(t, len(order), tab.Len())
	}
	assert.Equal(t, len(order), len(tab.Keys()))
	for n, k := range order {
		assert.Equal(t, k, tab.Key(n))
	}
}

// TestTableAgainstMap checks random streams of adds and finds, with a
// well-mixed and a colliding hash, against a Go map.
func TestTableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		data := make([]byte, 6*(1+rng.IntN(5000)))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		check(t, data, mixHash)
		check(t, data, poorHash)
	}
}

func TestReset(t *testing.T) {
	var tab Table[key]
	_, found := tab.Find(1, key{})
	assert.False(t, found, "the zero table is empty")
	for i := range 1000 {
		k := key{a: uint32(i)}
		tab.Add(mixHash(k), k)
	}
	tab.Clear()
	assert.Equal(t, 0, tab.Len())
	_, found = tab.Find(mixHash(key{a: 3}), key{a: 3})
	assert.False(t, found)
	tab.Reset(10)
	assert.Equal(t, 0, tab.Len())
	_, found = tab.Find(mixHash(key{a: 3}), key{a: 3})
	assert.False(t, found)
	n, isNew := tab.Add(mixHash(key{a: 3}), key{a: 3})
	assert.Equal(t, 0, n)
	assert.True(t, isNew)
}

// FuzzTable checks arbitrary streams of adds and finds against a Go map.
func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 1, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data, mixHash)
		check(t, data, poorHash)
	})
}
